"""Shared fixtures: random weights in the real 2015 layout (fixture recipe v1) and the data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from recipe import DATA, RECIPE_SHA256, build_recipe_state_dict, recipe_digest


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
def session_cache(tmp_path_factory) -> Path:
    """A feature cache folder that `folder_features` fills, for tests that may reuse its work."""
    return tmp_path_factory.mktemp("session-cache")


@pytest.fixture(scope="session")
def folder_features(model, weights_path, session_cache):
    """features('a' | 'b' | 'mixed'): network outputs for a fixture folder, computed once per session.

    They are also written to `session_cache`, keyed as the API keys them for `weights_path`.
    """
    from inception_score.pipeline.cache import FORMAT, FeatureCache
    from inception_score.pipeline.extract import extract_features
    from inception_score.pipeline.sources import open_source
    from inception_score.pipeline.weights import sha256_file

    computed = {}

    def features(name: str):
        if name not in computed:
            computed[name] = extract_features(
                open_source(DATA / "images" / name),
                model,
                batch_size=32,
                device="cpu",
                progress=False,
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
