"""sFID reference data (tests/data/reference_{a,b}_spatial.npy, reference_sfid.json, made with torch-fidelity 0.4.0).

The spatial features are `Mixed_6d.branch1x1` after batch norm and ReLU, channels [:7], flattened
H, W, C (2023 values), from torch-fidelity's network with a forward hook; see
tests/data/make_reference_spatial.py.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inception_score import fid_from_features
from inception_score.pipeline.extract import preprocess

DATA = Path(__file__).parent / "data"
SPATIAL_CHANNELS = 7


def test_spatial_reference_files_have_the_adm_layout():
    for name in ("a", "b"):
        spatial = np.load(DATA / f"reference_{name}_spatial.npy")
        assert spatial.dtype == np.float32 and spatial.shape == (120, 17 * 17 * SPATIAL_CHANNELS)
        assert spatial.min() >= 0.0  # after ReLU
        assert np.all(np.isfinite(spatial))


def test_sfid_of_the_reference_features_matches_scipy():
    reference = json.loads((DATA / "reference_sfid.json").read_text())
    a, b = np.load(DATA / "reference_a_spatial.npy"), np.load(DATA / "reference_b_spatial.npy")
    # Our float64 Frechet distance (no sqrtm) against scipy's sqrtm, which is off by ~3e-4 here
    # (rank-deficient covariances: its a-vs-a value is reference["sfid_a_a"] instead of 0).
    assert abs(reference["sfid_a_a"]) < 1e-3
    assert fid_from_features(a, b).fid == pytest.approx(reference["sfid_a_b"], rel=1e-6)
    assert fid_from_features(a, a).fid == 0.0


def test_our_network_gives_the_same_spatial_features(model):
    files = sorted((DATA / "images" / "a").glob("*.png"))[:8]
    images = [np.array(Image.open(path).convert("RGB")) for path in files]
    recorded = []
    hook = model.Mixed_6d.branch1x1.register_forward_hook(
        lambda module, inputs, output: recorded.append(output.detach().float().clone())
    )
    try:
        with torch.no_grad():
            model(preprocess(images, "cpu"))
    finally:
        hook.remove()
    (maps,) = recorded
    spatial = maps[:, :SPATIAL_CHANNELS].permute(0, 2, 3, 1).reshape(len(images), -1).numpy()
    reference = np.load(DATA / "reference_a_spatial.npy")[:8]
    np.testing.assert_allclose(spatial, reference, atol=1e-3, rtol=0)
