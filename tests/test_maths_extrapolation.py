"""IS-infinity / FID-infinity extrapolation (maths.extrapolation) on metrics with a known 1/n bias."""

import numpy as np
import pytest

from inception_score import inception_score_from_logits
from inception_score.errors import InceptionScoreError
from inception_score.maths.extrapolation import Extrapolation, extrapolate, fit_inverse_size, subset_sizes


def test_default_sizes_span_a_tenth_to_all():
    sizes = subset_sizes(50_000)
    assert (sizes[0], sizes[-1], len(sizes)) == (5000, 50_000, 15)
    assert all(b > a for a, b in zip(sizes, sizes[1:]))
    assert subset_sizes(10, points=15) == (2, 3, 4, 5, 6, 7, 8, 9, 10)  # fewer distinct sizes than points


def test_exact_line_is_recovered():
    intercept, slope, rms = fit_inverse_size([100, 200, 400, 1000], [3 + 50 / n for n in (100, 200, 400, 1000)])
    assert intercept == pytest.approx(3.0, abs=1e-12)
    assert slope == pytest.approx(50.0, rel=1e-10)
    assert rms < 1e-12


def test_synthetic_bias_with_noise_gives_the_intercept():
    count = 20_000
    noise = np.random.default_rng(0)

    def biased(rows: np.ndarray) -> float:  # a + b / n + noise, the model the method assumes
        return 7.5 + 4000.0 / rows.size + noise.normal(0, 0.002)

    result = extrapolate(biased, count, seed=1)
    assert isinstance(result, Extrapolation)
    assert result.intercept == pytest.approx(7.5, abs=0.01)
    assert result.slope == pytest.approx(4000.0, rel=0.05)
    assert 0.0005 < result.rms_residual < 0.005
    assert result.fitted(count) == pytest.approx(7.5 + 4000 / count, abs=0.01)
    assert result.to_dict()["sizes"] == list(subset_sizes(count))


def test_subsets_are_seeded_distinct_rows():
    seen = []

    def record(rows: np.ndarray) -> float:
        seen.append(rows.copy())
        return float(rows.size)

    first = extrapolate(record, 1000, points=4, seed=5)
    assert [len(rows) for rows in seen] == list(first.sizes) == [100, 400, 700, 1000]
    for rows in seen:
        assert rows.dtype == np.int64 and np.unique(rows).size == rows.size and rows.max() < 1000
    assert np.array_equal(seen[-1], np.arange(1000))
    again = []
    extrapolate(lambda rows: again.append(rows.copy()) or 0.0, 1000, points=4, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(seen, again))


def test_inception_score_infinity_on_synthetic_logits():
    # N images, each with logits `gap` on one class drawn uniformly from C, 0 elsewhere: every image has
    # the same p(y|x) (a on its class, b elsewhere), and the population's p(y) is uniform, so
    # IS-infinity = exp(log C - H(y|x)) exactly. The plug-in marginal entropy of n images is biased low
    # by (a - b)^2 (C - 1) / (2 n) (second order in the class shares), so IS_n ~ IS (1 - that): the
    # slope against 1/n is -IS (a - b)^2 (C - 1) / 2.
    classes, count, gap = 100, 20_000, 5.0
    top = np.exp(gap) / (np.exp(gap) + classes - 1)
    other = 1.0 / (np.exp(gap) + classes - 1)
    conditional_entropy = -(top * np.log(top) + (classes - 1) * other * np.log(other))
    truth = np.exp(np.log(classes) - conditional_entropy)
    expected_slope = -truth * (top - other) ** 2 * (classes - 1) / 2
    labels = np.random.default_rng(0).integers(0, classes, count)
    logits = np.zeros((count, classes))
    logits[np.arange(count), labels] = gap

    def score(rows: np.ndarray) -> float:
        return inception_score_from_logits(logits[rows], splits=1).mean

    result = extrapolate(score, count, smallest=1000, seed=0)
    full = result.values[-1]
    assert full == pytest.approx(score(np.arange(count)), rel=1e-15)
    assert result.values[0] < full < truth  # biased low, less so with more images
    assert abs(result.intercept - truth) < 0.5 * (truth - full)  # closer than all N images get
    assert abs(result.intercept / truth - 1) < 1e-3
    assert 0.6 < result.slope / expected_slope < 1.5
    assert result.rms_residual < 0.005


def test_explicit_sizes_and_errors():
    result = extrapolate(lambda rows: 1.0 / rows.size, 100, sizes=[10, 50, 100])
    assert result.sizes == (10, 50, 100)
    assert result.intercept == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InceptionScoreError, match="two or more distinct"):
        extrapolate(lambda rows: 1.0, 100, sizes=[50, 50])
    with pytest.raises(InceptionScoreError, match="smallest subset"):
        extrapolate(lambda rows: 1.0, 100, smallest=100)
    with pytest.raises(InceptionScoreError, match="non-finite"):
        extrapolate(lambda rows: float("nan"), 100)
    with pytest.raises(InceptionScoreError, match="count"):
        extrapolate(lambda rows: 1.0, 1)
    with pytest.raises(InceptionScoreError, match="points"):
        subset_sizes(100, points=1)
