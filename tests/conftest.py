"""Shared fixtures: random weights in the real 2015 layout (fixture recipe v1) and the data folder."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from inception_score.pipeline.inception2015 import Inception2015

DATA = Path(__file__).parent / "data"
RECIPE_SHA256 = "9fa6f43b6dc7cfc148f0ecd505cc1256346125942aa78490c61b0f291fbb79c3"


def build_recipe_state_dict() -> dict[str, torch.Tensor]:
    """Deterministic random weights with the real file's keys, shapes and dtypes (fixtures README)."""
    calibration = np.load(DATA / "random-weights-calibration.npz", allow_pickle=False)
    rng = np.random.RandomState(2026)
    state = {}
    for key, template in sorted(Inception2015().state_dict().items()):
        shape = tuple(template.shape)
        if key.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            value = (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)
        elif key == "fc.bias":
            value = (rng.standard_normal(1008) * 0.1).astype(np.float32)
        elif key == "fc.weight":
            value = (rng.standard_normal((1008, 2048)) * float(calibration["fc_scale"])).astype(np.float32)
        elif key.endswith("bn.weight"):
            value = np.ones(shape, np.float32)
        elif key.endswith("bn.bias"):
            value = np.zeros(shape, np.float32)
        elif key.endswith("num_batches_tracked"):
            value = np.array(0, np.int64)
        else:
            value = calibration[key]
        state[key] = torch.from_numpy(np.array(value))
    return state


def recipe_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def weights_path(tmp_path_factory) -> Path:
    """The recipe weights saved as a state dict file, built once per test session."""
    state = build_recipe_state_dict()
    assert recipe_digest(state) == RECIPE_SHA256
    path = tmp_path_factory.mktemp("weights") / "random-inception-2015.pth"
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
