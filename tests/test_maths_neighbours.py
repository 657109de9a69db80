"""k-NN metrics (maths.neighbours): hand-computed 2-D cases, brute force, exactness, torch-fidelity's figures."""

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from inception_score.errors import InceptionScoreError
from inception_score.maths.neighbours import (
    density_coverage,
    distance_error_bound,
    f_score,
    knn_radii,
    manifold_metrics,
    precision_recall,
    realism_scores,
    squared_distances,
)
from inception_score.maths.neighbours_adm import adm_float16_precision_recall, adm_radii

DATA = Path(__file__).parent / "data"

# Real points: a unit square's corners and a far point. Each corner's distances to the other
# corners are 1, 1, sqrt(2); the far point (10, 0) is 9, 9.06, 10, 10.05 from them.
REAL = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [10, 0]], float)
# Fake points: the square's centre, a point 1.5 right of the square, a copy of (0, 0), and one far away.
FAKE = np.array([[0.5, 0.5], [2.5, 0], [0, 0], [50, 50]], float)


def test_hand_computed_radii_with_k_1_and_2():
    # k = 1: corners at 1, far point at 9 (to (1, 0)); k = 2: corners 1, far point sqrt(9^2 + 1) = sqrt(82).
    assert knn_radii(REAL, 1).tolist() == [1, 1, 1, 1, 9]
    np.testing.assert_allclose(knn_radii(REAL, 2), [1, 1, 1, 1, math.sqrt(82)], rtol=1e-15)


def test_hand_computed_precision_and_recall_k_1():
    # Real balls (k=1): radius 1 at each corner, 9 around (10, 0) (reaching (1, 0) exactly).
    # Fakes: centre inside a corner ball; (2.5, 0) is 7.5 from (10, 0) <= 9: inside; (0, 0) inside;
    # (50, 50) outside -> precision 3/4.
    # Fake balls (k=1): centre -> nearest other fake is (0, 0) at sqrt(0.5); (2.5, 0) -> 2.5 (to (0,0));
    # (0, 0) -> sqrt(0.5); (50, 50) -> far. Real (0,0): inside (copy). (1,0): 0.71 from centre <= 0.71:
    # inside (closed ball), (0,1) and (1,1) likewise; (10,0): 7.5 from (2.5, 0) > 2.5, but (50, 50)'s ball
    # has radius |(50,50)-(2.5,0)| = 68.9 and holds everything -> recall 5/5.
    result = precision_recall(REAL, FAKE, k=1)
    assert (result.precision, result.recall) == (0.75, 1.0)
    assert result.f_score == pytest.approx(2 * 0.75 / 1.75, rel=1e-15)
    assert (result.real_count, result.fake_count, result.k) == (5, 4, 1)


def test_hand_computed_precision_k_1_boundary_is_closed():
    # A fake exactly at distance 1 from (0, 0) sits on the ball's boundary: counted (<=).
    fake = np.array([[-1.0, 0.0], [-1.0, -1.0]])
    real = REAL[:4]
    assert precision_recall(real, fake, k=1).precision == 0.5


def test_hand_computed_density_and_coverage():
    # k = 1 real balls: radius 1 at the corners, 9 at (10, 0). Open balls (distance < radius):
    # centre (0.5, 0.5): 0.707 from each corner -> 4 balls, 9.5+ from (10, 0) -> not in it; 4 balls.
    # (2.5, 0): 1.5 from (1, 0) -> no corner; 7.5 < 9 -> 1 ball.  (0, 0): corner (0,0) at 0 < 1, (1,0) and
    # (0,1) at exactly 1 -> not (open); (1,1) at 1.41 no; (10,0) at 10 no -> 1 ball.  (50, 50): none.
    # density = (4 + 1 + 1 + 0) / (1 * 4) = 1.5; coverage: every ball holds a fake -> 5/5.
    result = density_coverage(REAL, FAKE, k=1)
    assert (result.density, result.coverage) == (1.5, 1.0)
    # Closed balls add (1, 0) and (0, 1) for the fake at (0, 0): (4 + 1 + 3 + 0) / 4 = 2.
    assert density_coverage(REAL, FAKE, k=1, closed_balls=True).density == 2.0


def test_hand_computed_coverage_misses_a_ball():
    # Only the square's centre as fake: the far point's ball (radius 9) does not reach it (9.5).
    result = density_coverage(REAL, np.array([[0.5, 0.5], [0.5, 0.4]]), k=1)
    assert result.coverage == 4 / 5
    assert result.density == (4 + 4) / 2


def test_hand_computed_realism():
    # k = 1, no pruning: realism = max_j r_j / d_j. Centre: 1 / 0.7071 = sqrt(2) (the corners);
    # (2.5, 0): max(1 / 1.5, 9 / 7.5) = 1.2; copy of (0, 0): +inf; (50, 50): 9 / |(50,50)-(10,0)| = 9 / sqrt(4100).
    result = realism_scores(REAL, FAKE, k=1, prune_percentile=100)
    np.testing.assert_allclose(result.scores[[0, 1, 3]], [math.sqrt(2), 1.2, 9 / math.sqrt(4100)], rtol=1e-14)
    assert result.scores[2] == math.inf
    assert result.inside.tolist() == [True, True, True, False]
    assert result.nearest_real.tolist() == [0, 1, 0, 4]
    # The median radius is 1: pruning drops the far point's ball (9 > 1), so (2.5, 0) scores 1 / 1.5.
    pruned = realism_scores(REAL, FAKE, k=1)
    assert pruned.scores[1] == pytest.approx(1 / 1.5, rel=1e-14)
    assert pruned.inside.tolist() == [True, True, True, False]  # membership ignores pruning
    assert pruned.to_dict()["infinite_count"] == 1 and pruned.to_dict()["outside_count"] == 1


def test_realism_of_a_copy_of_a_zero_radius_ball_is_zero_not_nan():
    real = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])  # k=1 radius of the two copies is 0
    fake = np.array([[0.0, 0.0], [1.0, 1.0]])
    result = realism_scores(real, fake, k=1, prune_percentile=100)
    assert not np.isnan(result.scores).any()
    # (0, 0): zero-radius balls give 0; (5, 5)'s ball (radius sqrt(50)) holds it at distance 0... no:
    # it is sqrt(50) away -> ratio 1. (1, 1): sqrt(50) / sqrt(32).
    np.testing.assert_allclose(result.scores, [1.0, math.sqrt(50 / 32)], rtol=1e-14)


def test_duplicates_are_neighbours_at_distance_zero():
    points = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [4.0, 6.0]], np.float32)
    # Point 0's nearest others are its two copies (0, 0) then (4, 6) at 5.
    assert knn_radii(points, 1).tolist() == [0, 0, 0, 5]
    assert knn_radii(points, 2).tolist() == [0, 0, 0, 5]
    assert knn_radii(points, 3).tolist() == [5, 5, 5, 5]


def test_duplicate_distances_are_exactly_zero_at_pool3_scale():
    rng = np.random.default_rng(1)
    points = rng.gamma(0.5, 0.8, (50, 2048)).astype(np.float32)
    points = np.concatenate([points, points[:10]])
    distances = squared_distances(points, points)
    assert np.all(distances[np.arange(10), 50 + np.arange(10)] == 0.0)
    assert np.all(np.diagonal(distances) == 0.0)


def _exact_squared_distance(x: np.ndarray, y: np.ndarray) -> Fraction:
    return sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x, y))


@pytest.mark.parametrize("offset", [0.0, 100.0])
def test_squared_distances_are_float64_accurate(offset):
    # Exact rational arithmetic on a sample of pairs; the offset makes |x|^2 >> distance^2 (no cancellation:
    # the definition sums squared differences). Each of the d terms is rounded twice, the sum d - 1 times.
    rng = np.random.default_rng(2)
    rows = (rng.gamma(0.5, 0.8, (6, 2048)) + offset).astype(np.float32)
    cols = (rng.gamma(0.5, 0.8, (5, 2048)) + offset).astype(np.float32)
    computed = squared_distances(rows, cols)
    gamma = 2049 * 2.0**-53 / (1 - 2049 * 2.0**-53)
    for i in range(len(rows)):
        for j in range(len(cols)):
            exact = _exact_squared_distance(rows[i], cols[j])
            assert abs(Fraction(float(computed[i, j])) - exact) <= Fraction(gamma) * exact
    assert np.array_equal(computed, squared_distances(cols, rows).T)  # exactly symmetric


def test_the_float32_bound_coefficient():
    # G of maths/knn_bound: about 2 (d + 2) u for float32's unit roundoff u = 2^-24.
    assert distance_error_bound(2048) == pytest.approx(2 * 2050 * 2.0**-24, rel=2e-3)


def test_blocks_do_not_change_the_counts():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(157, 8)).astype(np.float32)
    fake = rng.normal(0.2, 1.1, size=(131, 8)).astype(np.float32)
    whole = manifold_metrics(real, fake)
    blocked = manifold_metrics(real, fake, block_rows=16)
    assert whole.precision_recall == blocked.precision_recall
    assert whole.density_coverage == blocked.density_coverage
    np.testing.assert_allclose(whole.realism.scores, blocked.realism.scores, rtol=1e-12)
    assert np.array_equal(whole.realism.nearest_real, blocked.realism.nearest_real)


def test_matches_plain_brute_force_in_float64():
    rng = np.random.default_rng(4)
    real = rng.gamma(0.6, 0.7, size=(90, 64)).astype(np.float32)
    fake = rng.gamma(0.6, 0.75, size=(70, 64)).astype(np.float32)
    result = manifold_metrics(real, fake, block_rows=32)

    def all_distances(a, b):  # plain O(N^2 d) differences, no matrix-product trick
        a, b = a.astype(np.float64), b.astype(np.float64)
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))

    def radii(points, k):
        own = all_distances(points, points)
        np.fill_diagonal(own, np.inf)
        return np.sort(own, axis=1)[:, k - 1]

    fake_to_real = all_distances(fake, real)
    real3, real5, fake3 = radii(real, 3), radii(real, 5), radii(fake, 3)
    assert result.precision_recall.precision == np.mean((fake_to_real <= real3[None, :]).any(axis=1))
    assert result.precision_recall.recall == np.mean((fake_to_real <= fake3[:, None]).any(axis=0))
    assert result.density_coverage.density == pytest.approx(
        (fake_to_real < real5[None, :]).sum() / (5 * len(fake)), abs=1e-15
    )
    assert result.density_coverage.coverage == np.mean(fake_to_real.min(axis=0) < real5)
    kept = np.where(real3 > np.median(real3), 0.0, real3)
    np.testing.assert_allclose(result.realism.scores, (kept[None, :] / fake_to_real).max(axis=1), rtol=1e-12)


@pytest.mark.parametrize("real_name, fake_name", [("a", "b"), ("b", "a")])
def test_precision_recall_equal_torch_fidelity_on_fixture_pool3(real_name, fake_name):
    reference = json.loads((DATA / "reference_pr.json").read_text())
    case = next(c for c in reference["cases"] if c["real"] == f"reference_{real_name}_pool3.npy")
    assert case["fake"] == f"reference_{fake_name}_pool3.npy"
    result = precision_recall(np.load(DATA / case["real"]), np.load(DATA / case["fake"]), k=3)
    assert round(result.precision * result.fake_count) == case["precision_count"]
    assert round(result.recall * result.real_count) == case["recall_count"]
    # torch-fidelity reports float32 means; the same counts give the same float32 numbers.
    assert np.float32(result.precision) == np.float32(case["precision"])
    assert np.float32(result.recall) == np.float32(case["recall"])
    assert result.f_score == pytest.approx(case["f_score"], rel=1e-6)


def test_adm_float16_emulation_on_fixture_pool3():
    real, fake = np.load(DATA / "reference_a_pool3.npy"), np.load(DATA / "reference_b_pool3.npy")
    exact = precision_recall(real, fake)
    shortcut = adm_float16_precision_recall(real, fake)
    # Figures recorded in docs/paper-table.md: one real image (of 120) changes side.
    assert (shortcut.precision, shortcut.recall) == (exact.precision, 101 / 120)
    assert (exact.precision, exact.recall) == (96 / 120, 100 / 120)
    # The float16 squared radii are a few float16 steps off: the squared norms (~460 here, step 0.25)
    # and the products round before the subtraction (max error 2.01 measured, on radii^2 of 24 to 1036).
    exact_squared = knn_radii(real, 3) ** 2
    assert np.max(np.abs(adm_radii(real, 3) - exact_squared)) < 2.5


def test_adm_emulation_falls_back_to_float32_on_overflow():
    rng = np.random.default_rng(5)
    points = rng.normal(size=(20, 4)) * 1000  # squared norms ~4e6 overflow float16
    result = adm_float16_precision_recall(points, points + 1.0)
    assert 0.0 <= result.precision <= 1.0 and 0.0 <= result.recall <= 1.0
    np.testing.assert_allclose(adm_radii(points, 3), knn_radii(points, 3) ** 2, rtol=1e-3)


def test_f_score_as_torch_fidelity():
    assert f_score(0.0, 0.0) == 0.0
    assert f_score(1.0, 1.0) == 1.0
    assert f_score(0.5, 0.25) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "real, fake, message",
    [
        (np.zeros((3, 2)), np.zeros((5, 2)), "need at least 4"),
        (np.zeros((6, 2)), np.zeros((3, 2)), "need at least 4"),
        (np.zeros((6, 2)), np.zeros((6, 3)), "differ in dimension"),
        (np.zeros(6), np.zeros((6, 2)), "N x d"),
        (np.array([[0, 0], [1, 1], [2, 2], [np.nan, 0], [3, 3], [4, 4]]), np.zeros((6, 2)), "row 3, column 0"),
        (np.zeros((6, 2)), np.full((6, 2), np.inf), "NaN or infinite"),
        (np.zeros((6, 2), complex), np.zeros((6, 2)), "real numbers"),
    ],
)
def test_bad_input_is_a_clear_error(real, fake, message):
    with pytest.raises(InceptionScoreError, match=message):
        precision_recall(real, fake, k=3)


def test_bad_k_and_percentile():
    points = np.arange(20.0).reshape(10, 2)
    with pytest.raises(InceptionScoreError, match="positive integer"):
        precision_recall(points, points, k=0)
    with pytest.raises(InceptionScoreError, match="prune_percentile"):
        realism_scores(points, points, prune_percentile=0)
    with pytest.raises(InceptionScoreError, match="need at least 6"):
        density_coverage(points[:5], points, k=5)


def test_identical_sets_give_full_scores_and_no_nan():
    points = np.random.default_rng(6).normal(size=(40, 5))
    result = manifold_metrics(points, points)
    assert result.precision_recall.precision == 1.0 and result.precision_recall.recall == 1.0
    assert result.density_coverage.coverage == 1.0
    assert not np.isnan(result.realism.scores).any()
    # Each fake is a copy of a real point: +inf when that point's ball is kept (radius <= median).
    assert np.count_nonzero(np.isinf(result.realism.scores)) == 20
    unpruned = manifold_metrics(points, points, prune_percentile=100).realism
    assert np.all(np.isinf(unpruned.scores))
