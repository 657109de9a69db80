"""Shared fixtures: random weights in the real 2015 layout (fixture recipe v1) and the data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from recipe import DATA, RECIPE_SHA256, build_recipe_state_dict, recipe_digest


def pytest_configure(config) -> None:
    """On pytest-xdist workers (-n N), each worker's torch gets its share of the CPUs, so N workers do not
    run N x all-cores threads on one machine. Session fixtures are built once per worker."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        torch.set_num_threads(max(1, cpus // int(workers)))


@pytest.fixture(scope="session")
def weights_path(tmp_path_factory) -> Path:
    """The recipe weights saved as a state dict file, built once per test session."""
    state = build_recipe_state_dict()
    assert recipe_digest(state) == RECIPE_SHA256
    path = tmp_path_factory.mktemp("weights") / "random-inception-2015.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="session")
def vgg16_path(tmp_path_factory) -> Path:
    """Random weights in torchvision's VGG-16 layout (recipe "vgg16 v1", 528 MB), built once per test session."""
    from recipe import VGG16_RECIPE_SHA256, build_vgg16_state_dict

    state = build_vgg16_state_dict()
    assert recipe_digest(state) == VGG16_RECIPE_SHA256
    path = tmp_path_factory.mktemp("weights") / "random-vgg16.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="session")
def data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def model(weights_path):
    from inception_score.pipeline.inception2015 import load_inception

    return load_inception(weights_path)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """A folder every pytest-xdist worker of this run shares (the run's own temporary folder)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def session_cache(shared_dir) -> Path:
    """A feature cache folder that `folder_features` fills, for tests that may reuse its work; shared by the
    run's workers (entries are written atomically, so workers can read and write it at once)."""
    folder = shared_dir / "session-cache"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def folder_features(model, weights_path, session_cache):
    """features('a' | 'b' | 'mixed'): network outputs (with sFID's spatial features) for a fixture folder,
    computed once per run.

    They are written to `session_cache`, keyed as the API keys them for `weights_path` (the recipe's
    bytes, the same on every worker). The first worker to need a folder computes it under a lock; the
    others then read the same entries from the cache instead of running the network again.
    """
    from inception_score.pipeline.cache import FORMAT, FeatureCache
    from inception_score.pipeline.extract import extract_features
    from inception_score.pipeline.files import locked
    from inception_score.pipeline.sources import open_source
    from inception_score.pipeline.weights import sha256_file

    computed = {}

    def features(name: str):
        if name not in computed:
            with locked(session_cache / f".{name}.lock"):
                computed[name] = extract_features(
                    open_source(DATA / "images" / name),
                    model,
                    batch_size=32,
                    device="cpu",
                    progress=False,
                    keep_spatial=True,
                    cache=FeatureCache(session_cache / "features" / FORMAT),
                    model_id=sha256_file(weights_path),
                )
        return computed[name]

    return features


# Test tiers by file (see README "Development"); the fast tier is `-m "not slow"`.
TIERS = {
    "test_distributed.py": "distributed",
    "test_digits_example.py": "example",
    "test_benchmarks.py": "benchmark",
    "test_knn_benchmark.py": "benchmark",
    "test_benchmark_extractors.py": "benchmark",
    "test_clip.py": "reference",
    "test_dinov2.py": "reference",
    "test_paper_table.py": "reference",
    "test_report.py": "report",
}
SLOW = ("distributed", "example", "benchmark", "browser", "report", "reference", "process")


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        tier = TIERS.get(item.path.name)
        if tier is not None:
            item.add_marker(tier)
        if any(item.get_closest_marker(name) for name in SLOW):
            item.add_marker("slow")


@pytest.fixture(autouse=True, scope="session")
def private_home(tmp_path_factory):
    """The whole session runs with an empty home and cache folders of its own: nothing the user has is touched."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        for name, folder in (
            ("HOME", home),
            ("XDG_CACHE_HOME", home / ".cache"),
            ("TORCH_HOME", home / "torch"),
            ("INCEPTION_SCORE_CACHE", home / "inception-score"),
        ):
            patch.setenv(name, str(folder))
        yield home


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty cache folder, so nothing reads or writes the user's cache."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(folder))
    return folder


@pytest.fixture
def peer_inputs(data, weights_path):
    """The fixture folders and weights by name, as the torch-fidelity comparisons' stored calls name them."""
    found = {name: str(data / "images" / name) for name in ("a", "b", "mixed")} | {"images": str(data / "images")}
    return found | {"inception": str(weights_path)}


@pytest.fixture
def peer_cache(folder_features, session_cache, monkeypatch):
    """The session's feature cache, where the fixture folders' Inception features already are."""
    for name in ("a", "b", "mixed"):
        folder_features(name)
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(session_cache))
