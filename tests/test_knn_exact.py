"""k-NN metrics from float32 products are exactly the float64 counts (issue 24): a plain float64
reference written here, random and adversarial near-tie sets, numpy and torch tensors, any block size;
the float32 error bound of maths/knn_bound checked against exact rational arithmetic."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch

from inception_score.errors import InceptionScoreError
from inception_score.maths.knn_arrays import NumpyOps, TensorOps
from inception_score.maths.knn_bound import Float32Bound, power_of_two_scale, round_down32
from inception_score.maths.neighbours import kth_neighbour_squared_distances, manifold_metrics, manifold_minimum

pytestmark = pytest.mark.unit


def plain_float64(real, fake, k_pr=3, k_dc=5, prune=50.0, closed=False):
    """Everything the metrics report, from the full float64 distance matrices (no blocks, no bounds)."""

    def distances(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)

    def radii(points, k):
        own = distances(points, points)
        np.fill_diagonal(own, np.inf)
        return np.sort(own, axis=1)[:, k - 1]

    cross = distances(fake, real)
    real_pr, real_dc, fake_pr = radii(real, k_pr), radii(real, k_dc), radii(fake, k_pr)
    inside_dc = cross <= real_dc[None] if closed else cross < real_dc[None]
    kept = real_pr if prune >= 100 else np.where(real_pr > np.percentile(real_pr, prune), 0.0, real_pr)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.nan_to_num(kept[None] / cross, nan=0.0, posinf=np.inf)
    return dict(
        precision=float(np.mean((cross <= real_pr[None]).any(axis=1))),
        recall=float(np.mean((cross <= fake_pr[:, None]).any(axis=0))),
        density=float(inside_dc.sum() / (k_dc * len(fake))),
        coverage=float(np.mean(inside_dc.any(axis=0))),
        scores=np.sqrt(ratio.max(axis=1)),
        nearest=cross.argmin(axis=1),
        real_radii=np.stack([real_pr, real_dc], axis=1),
    )


def ours(real, fake, k_pr=3, k_dc=5, prune=50.0, closed=False, block_rows=None):
    found = manifold_metrics(
        real, fake, k_pr=k_pr, k_dc=k_dc, prune_percentile=prune, closed_balls=closed, block_rows=block_rows
    )
    pr, dc = found.precision_recall, found.density_coverage
    return dict(
        precision=pr.precision,
        recall=pr.recall,
        density=dc.density,
        coverage=dc.coverage,
        scores=found.realism.scores,
        nearest=found.realism.nearest_real,
        real_radii=kth_neighbour_squared_distances(real, (k_pr, k_dc), block_rows=block_rows),
    )


def assert_same(got, expected):
    for key in ("precision", "recall", "density", "coverage"):
        assert got[key] == expected[key], key
    for key in ("scores", "nearest", "real_radii"):
        assert np.array_equal(got[key], expected[key]), key


rng = np.random.default_rng(24)


def _normal(shape, scale=1.0, dtype=np.float32):
    return (rng.normal(size=shape) * scale).astype(dtype)


_points = _normal((40, 8))
_duplicated = np.concatenate([_points, _points[:10], _points[:3], _points[:3]])
_collapsed = np.repeat(_normal((3, 16)), 40, axis=0)
_offset = [(rng.gamma(0.5, 0.8, (n, 256)) + 100).astype(np.float32) for n in (60, 50)]
SETS = {
    "random": (rng.gamma(0.6, 0.7, (90, 64)).astype(np.float32), rng.gamma(0.6, 0.75, (70, 64)).astype(np.float32)),
    "duplicates": (_duplicated, np.concatenate([_duplicated[5:30], _points[:5], _normal((10, 8))])),
    # small integer coordinates: many distances exactly equal to radii
    "points on radii": (rng.integers(0, 3, (60, 4)).astype(np.float32), rng.integers(0, 3, (50, 4)).astype(np.float32)),
    "tiny norms": (_normal((50, 16), 1e-30), _normal((40, 16), 1e-30)),
    "huge norms float32": (_normal((50, 16), 1e18), _normal((40, 16), 1e18)),
    "huge norms float64": (_normal((50, 16), 1e100, np.float64), _normal((40, 16), 1e100, np.float64)),
    "norms 1e-8 to 1e8": (np.concatenate([_normal((30, 16), 1e-8, np.float64), _normal((30, 16), 1e8, np.float64)]),
                          _normal((40, 16), 1.0, np.float64)),
    "large offset": (_offset[0], _offset[1]),
    "collapsed generator": (np.concatenate([_collapsed, _normal((20, 16))]), _collapsed[::2].copy()),
    "integers": (rng.integers(0, 5, (40, 6)), rng.integers(0, 5, (30, 6))),
}  # fmt: skip


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("block_rows", [None, 7])
def test_counts_equal_a_plain_float64_implementation(name, block_rows):
    real, fake = SETS[name]
    assert_same(ours(real, fake, block_rows=block_rows), plain_float64(real, fake))


@pytest.mark.parametrize("name", ["points on radii", "duplicates", "random"])
def test_closed_balls_and_other_ks_and_no_pruning(name):
    real, fake = SETS[name]
    options = dict(k_pr=2, k_dc=4, prune=100.0, closed=True)
    assert_same(ours(real, fake, block_rows=16, **options), plain_float64(real, fake, **options))


@pytest.mark.parametrize("name", ["random", "points on radii", "huge norms float64", "collapsed generator"])
def test_the_same_code_on_torch_tensors_gives_the_same_numbers(name):
    real, fake = SETS[name]
    expected = plain_float64(real, fake)
    assert_same(ours(torch.from_numpy(np.asarray(real)), torch.from_numpy(np.asarray(fake)), block_rows=16), expected)
    # a numpy array beside a tensor is moved to the tensor's device
    assert_same(ours(np.asarray(real), torch.from_numpy(np.asarray(fake))), expected)


def test_identical_sets_give_one_exactly_and_the_realism_summary_stays_finite():
    points = np.random.RandomState(0).randn(500, 64).astype(np.float32)  # density was 1.0016 from float64 products
    found = manifold_metrics(points, points.copy())
    pr, dc = found.precision_recall, found.density_coverage
    assert (pr.precision, pr.recall, dc.density, dc.coverage) == (1.0, 1.0, 1.0, 1.0)
    summary = found.realism.to_dict()
    assert summary["infinite_count"] == 250 and summary["median"] is None  # copies of kept balls score +inf
    json.dumps(summary, allow_nan=False)
    tensors = manifold_metrics(torch.from_numpy(points), torch.from_numpy(points.copy()), block_rows=100)
    assert tensors.density_coverage.density == 1.0


def test_many_near_ties_overflow_the_shortlist_and_are_recomputed():
    # Every point is equidistant from a cluster of 30 distinct points on a sphere: far more ties than slots.
    rng = np.random.default_rng(7)
    sphere = rng.normal(size=(30, 8))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    real = np.concatenate([sphere, np.zeros((1, 8)), rng.normal(size=(10, 8)) * 3])
    assert_same(ours(real, real[::2], block_rows=8), plain_float64(real, real[::2]))


def _exact(x, y):
    return sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x, y))


@pytest.mark.parametrize("offset, scale", [(0.0, 1.0), (100.0, 1.0), (0.0, 1e-25), (3.0, 1e20)])
def test_float32_blocks_are_within_the_proven_bound(offset, scale):
    """d~ of a float32 block against the exact rational squared distance, for centred and scaled data."""
    rng = np.random.default_rng(2)
    rows = (rng.gamma(0.5, 0.8, (6, 512)) + offset) * scale
    cols = (rng.gamma(0.5, 0.8, (5, 512)) + offset) * scale
    centre = rows.mean(axis=0)
    ops = NumpyOps()
    _, norms = ops.centred(rows, centre, 1.0, 64)
    s = power_of_two_scale(max(norms.max(), ops.centred(cols, centre, 1.0, 64)[1].max()))
    row32, row_norms = ops.centred(rows, centre, s, 64)
    col32, col_norms = ops.centred(cols, centre, s, 64)
    halves = lambda norms: (norms * (s * s / 2)).astype(np.float32)  # noqa: E731
    block = ops.block(row32, col32, halves(row_norms), halves(col_norms)).astype(np.float64)
    bound = Float32Bound.for_product(512, s)
    for i in range(len(rows)):
        for j in range(len(cols)):
            estimate = Fraction(-2.0 * block[i, j]) / Fraction(s * s)
            error = abs(estimate - _exact(rows[i], cols[j]))
            assert error <= Fraction(bound.distance_bound(row_norms[i], col_norms[j]))


def test_a_product_that_rounds_its_inputs_gets_a_wider_bound():
    """TF32 (10 fraction bits) emulated: inputs rounded before a float32 product stay within the bound for u_mm."""
    rng = np.random.default_rng(3)
    rows, cols = rng.normal(size=(4, 256)), rng.normal(size=(4, 256))
    mantissa, exponent = np.frexp(np.concatenate([rows, cols]).astype(np.float32))  # mantissa in [0.5, 1)
    rounded = np.ldexp(np.round(mantissa * 2.0**11) / 2.0**11, exponent).astype(np.float32)  # 10 fraction bits
    r32, c32 = rounded[:4], rounded[4:]
    norms_r, norms_c = (rows**2).sum(axis=1), (cols**2).sum(axis=1)
    block = r32 @ c32.T - (norms_r / 2).astype(np.float32)[:, None] - (norms_c / 2).astype(np.float32)[None, :]
    bound = Float32Bound.for_product(256, 1.0, product_rounding=2.0**-10)
    for i in range(4):
        for j in range(4):
            error = abs(Fraction(-2.0 * float(block[i, j])) - _exact(rows[i], cols[j]))
            assert error <= Fraction(bound.distance_bound(norms_r[i], norms_c[j]))


def test_the_product_probe_finds_full_float32_on_the_cpu():
    ops = TensorOps(torch.zeros(1))
    assert ops.measure_product_rounding(torch.zeros(1), 2048) == 0.0


def test_thresholds_round_down_to_float32():
    values = np.array([1.0 + 2.0**-30, -(1.0 + 2.0**-30), 0.1, -np.inf, 3.0])
    rounded = round_down32(values)
    assert np.all(rounded.astype(np.float64) <= values) and rounded.dtype == np.float32
    assert rounded[4] == 3.0 and rounded[3] == -np.inf


def test_only_what_is_asked_is_computed_and_the_fewest_points_follow():
    assert manifold_minimum(3, 5) == (6, 4)
    assert manifold_minimum(3, 5, density_coverage=False) == (4, 4)
    assert manifold_minimum(3, 5, precision_recall=False) == (6, 1)
    real, fake = SETS["random"]
    expected = plain_float64(real, fake)
    alone = manifold_metrics(real[:4], fake[:4], density_coverage=False)  # 4 points a side suffice for k = 3
    assert alone.density_coverage is None and alone.realism is not None
    small = plain_float64(real[:4], fake[:4], k_dc=3)
    assert (alone.precision_recall.precision, alone.precision_recall.recall) == (small["precision"], small["recall"])
    assert np.array_equal(alone.realism.scores, small["scores"])
    coverage = manifold_metrics(real, fake[:1], precision_recall=False)  # one sample suffices
    assert coverage.precision_recall is None and coverage.realism is None
    one = plain_float64(real, fake[:1], k_pr=1)
    assert (coverage.density_coverage.density, coverage.density_coverage.coverage) == (one["density"], one["coverage"])
    both = manifold_metrics(real, fake)
    assert both.density_coverage.density == expected["density"] and both.precision_recall.recall == expected["recall"]
    with pytest.raises(InceptionScoreError, match="need at least 4"):
        manifold_metrics(real[:3], fake, density_coverage=False)
    with pytest.raises(InceptionScoreError, match="ask for"):
        manifold_metrics(real, fake, precision_recall=False, density_coverage=False)
