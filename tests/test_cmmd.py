"""CMMD: hand-checked values, the direct O(N^2) float64 formula, tiling invariance, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inception_score.errors import InceptionScoreError
from inception_score.maths.cmmd import cmmd, rbf_kernel_sum, unit_normalise


def direct_cmmd(x, y, sigma=10.0, scale=1000.0, unbiased=False):
    """Every pair written out: k(a, b) = exp(-sum (a - b)^2 / (2 sigma^2)), in float64."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)

    def kernel(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    if unbiased:
        n, m = len(x), len(y)
        within = (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    else:
        within = kxx.mean() + kyy.mean()
    return scale * (within - 2 * kxy.mean())


def test_one_point_each_by_hand():
    # k(x, x) = k(y, y) = 1, k(x, y) = exp(-100 / 200): 1000 * (2 - 2 exp(-1/2))
    assert cmmd([[0.0]], [[10.0]]) == pytest.approx(1000 * (2 - 2 * math.exp(-0.5)), rel=1e-14)
    assert cmmd([[0.0]], [[10.0]]) == pytest.approx(786.9386805747332, rel=1e-14)


def test_two_points_each_by_hand_both_estimators():
    x, y = [[0.0], [3.0]], [[0.0], [4.0]]

    def k(d):
        return math.exp(-d * d / 200)

    kxx_full = (2 + 2 * k(3)) / 4
    kyy_full = (2 + 2 * k(4)) / 4
    kxy = (k(0) + k(4) + k(3) + k(1)) / 4
    assert cmmd(x, y) == pytest.approx(1000 * (kxx_full + kyy_full - 2 * kxy), rel=1e-12)
    assert cmmd(x, y, estimator="unbiased") == pytest.approx(1000 * (k(3) + k(4) - 2 * kxy), rel=1e-12)


def test_identical_sets_give_zero():
    points = np.random.RandomState(0).standard_normal((20, 5))
    assert abs(cmmd(points, points)) < 1e-9


@pytest.mark.parametrize("estimator", ["min-variance", "unbiased"])
@pytest.mark.parametrize("block_rows", [1, 7, 2048])
def test_matches_direct_formula(estimator, block_rows):
    rng = np.random.RandomState(17)
    x = rng.standard_normal((50, 8)) * 4
    y = rng.standard_normal((37, 8)) * 4 + 1.5
    expected = direct_cmmd(x, y, unbiased=estimator == "unbiased")
    assert cmmd(x, y, estimator=estimator, block_rows=block_rows) == pytest.approx(expected, rel=1e-11, abs=1e-11)


def test_other_sigma_and_scale_on_unit_embeddings():
    rng = np.random.RandomState(3)
    x = unit_normalise(rng.standard_normal((30, 16)))
    y = unit_normalise(rng.standard_normal((25, 16)) + 0.3)
    assert cmmd(x, y, sigma=0.7, scale=1.0) == pytest.approx(direct_cmmd(x, y, sigma=0.7, scale=1.0), rel=1e-11)
    # the reference's sigma = 10 on unit vectors: small values, as in the paper's tables
    assert 0 < cmmd(x, y) < 10


def test_float32_input_is_computed_in_float64():
    rng = np.random.RandomState(5)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.standard_normal((40, 6)).astype(np.float32)
    assert cmmd(x, y) == pytest.approx(direct_cmmd(x.astype(np.float64), y.astype(np.float64)), rel=1e-12)


def test_symmetric_kernel_sum_counts_every_pair():
    rng = np.random.RandomState(8)
    a = rng.standard_normal((23, 4))
    full = rbf_kernel_sum(a, a, gamma=0.05, block_rows=5)
    half = rbf_kernel_sum(a, a, gamma=0.05, block_rows=5, symmetric=True)
    assert half == pytest.approx(full, rel=1e-13)


@pytest.mark.parametrize(
    "x, y, message",
    [
        ([[np.nan, 0.0]], [[0.0, 0.0]], "NaN"),
        ([[0.0, 0.0]], [[0.0, 0.0, 0.0]], "same embedding size"),
        ([0.0, 1.0], [[0.0]], "N x D"),
        (np.zeros((0, 3)), np.zeros((2, 3)), "at least 1"),
    ],
)
def test_bad_embeddings_are_refused(x, y, message):
    with pytest.raises(InceptionScoreError, match=message):
        cmmd(x, y)


def test_bad_options_are_refused():
    x = np.zeros((3, 2))
    with pytest.raises(InceptionScoreError, match="at least 2"):
        cmmd(x[:1], x, estimator="unbiased")
    with pytest.raises(InceptionScoreError, match="unknown CMMD estimator"):
        cmmd(x, x, estimator="biased")
    with pytest.raises(InceptionScoreError, match="sigma"):
        cmmd(x, x, sigma=0)
    with pytest.raises(InceptionScoreError, match="block_rows"):
        cmmd(x, x, block_rows=0)


def test_unit_normalise_refuses_zero_rows():
    assert np.allclose(np.linalg.norm(unit_normalise([[3.0, 4.0]]), axis=1), 1)
    with pytest.raises(InceptionScoreError, match="zero rows"):
        unit_normalise([[0.0, 0.0]])
