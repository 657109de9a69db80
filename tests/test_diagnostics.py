"""Diagnostics behind the score, against toy cases computed by hand, and the bootstrap against a plain loop."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from inception_score import InceptionScoreError, ISResult, inception_score_from_probabilities
from inception_score.errors import InceptionScoreWarning
from inception_score.maths.inception import bootstrap_interval, distinct_classes, entropy, looks_class_sorted, top_share
from inception_score.metrics.base import SMALL_N
from inception_score.metrics.inception import inception_score_from_log_probabilities

EXACT = 1e-12  # float64 on a handful of numbers: only rounding differs


def score(probs, **options) -> ISResult:
    with np.errstate(divide="ignore"):
        return inception_score_from_log_probabilities(np.log(np.asarray(probs, dtype=np.float64)), **options)


def test_three_one_hot_classes_cover_three_classes_with_one_class_per_image():
    result = score(np.eye(3), splits=1)
    assert result.marginal_entropy == pytest.approx(math.log(3), abs=EXACT)
    assert result.mean_conditional_entropy == 0.0
    assert result.effective_classes_covered == pytest.approx(3.0, abs=EXACT)
    assert result.effective_classes_per_image == 1.0
    assert result.one_split_score == pytest.approx(3.0, abs=EXACT)
    assert result.mean == pytest.approx(3.0, abs=EXACT)
    assert result.distinct_top1_classes == 3
    assert result.top10_share == pytest.approx(1.0, abs=EXACT)
    assert result.num_classes == 3


def test_uniform_predictions_cover_every_class_but_each_image_hesitates_between_all():
    result = score(np.full((6, 20), 1 / 20), splits=2)
    assert result.effective_classes_covered == pytest.approx(20.0, rel=EXACT)
    assert result.effective_classes_per_image == pytest.approx(20.0, rel=EXACT)
    assert result.one_split_score == pytest.approx(1.0, abs=EXACT)
    assert result.distinct_top1_classes == 1  # every row ties; argmax takes class 0
    assert result.top10_share == pytest.approx(10 / 20, abs=EXACT)


def test_identical_one_hot_images_cover_one_class():
    result = score(np.tile(np.eye(5)[2], (50, 1)))
    assert result.effective_classes_covered == 1.0
    assert result.effective_classes_per_image == 1.0
    assert (result.mean, result.std, result.one_split_score) == (1.0, 0.0, 1.0)
    assert result.distinct_top1_classes == 1
    assert result.top10_share == 1.0
    assert result.top_classes[0] == {"class": 2, "share": 1.0, "top1_images": 50}


def test_half_sure_images_over_four_classes():
    # Two images, each split evenly over two classes of its own: p(y) is uniform over 4,
    # so exp H(y) = 4, each image has exp H(y|x) = 2, and IS = 4 / 2 = 2.
    probs = [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]]
    result = score(probs, splits=1)
    assert result.effective_classes_covered == pytest.approx(4.0, rel=EXACT)
    assert result.effective_classes_per_image == pytest.approx(2.0, rel=EXACT)
    assert result.one_split_score == pytest.approx(2.0, rel=EXACT)
    assert result.mean == pytest.approx(2.0, rel=EXACT)
    assert result.distinct_top1_classes == 2  # classes 0 and 2 (lowest index on ties)
    assert top_share(result.details.marginal, k=2) == pytest.approx(0.5, abs=EXACT)


def test_top_classes_summary_counts_shares_and_top1_images():
    probs = np.eye(4)[[2, 2, 2, 0, 1, 2, 1, 3]]
    result = score(probs, splits=2)
    first, second = result.top_classes[:2]
    assert (first["class"], first["top1_images"], second["class"], second["top1_images"]) == (2, 4, 1, 2)
    assert (first["share"], second["share"]) == pytest.approx((0.5, 0.25), abs=EXACT)
    assert result.top10_share == 1.0
    assert top_share([0.5, 0.25, 0.125, 0.125], k=1) == 0.5
    assert top_share([0.5, 0.25, 0.125, 0.125], k=3) == 0.875


def test_small_helpers_by_hand():
    assert entropy([0.5, 0.5]) == pytest.approx(math.log(2), abs=EXACT)
    assert entropy([1.0, 0.0]) == 0.0
    assert distinct_classes(np.array([4, 4, 1, 7])) == 3


def test_one_split_score_equals_the_one_split_kl_score():
    probs = np.random.RandomState(0).dirichlet(np.full(30, 0.2), size=200)
    result = score(probs, splits=1)
    assert result.one_split_score == pytest.approx(result.mean, rel=1e-12)


def test_per_image_details_stay_in_input_order_when_shuffled():
    rng = np.random.RandomState(1)
    probs = rng.dirichlet(np.full(12, 0.3), size=40)
    result = score(probs, splits=4, order="shuffled")
    assert np.array_equal(result.details.top1_class, probs.argmax(axis=1))
    np.testing.assert_allclose(result.details.max_probability, probs.max(axis=1), rtol=1e-12)
    np.testing.assert_allclose(result.details.marginal, probs.mean(axis=0), rtol=1e-12)


def test_to_dict_is_json_safe_and_leaves_the_per_image_arrays_out():
    result = score(np.random.RandomState(2).dirichlet(np.ones(8), size=30), splits=3, bootstrap=20)
    data = result.to_dict()
    assert "details" not in data
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    for key in (
        "effective_classes_covered",
        "effective_classes_per_image",
        "one_split_score",
        "distinct_top1_classes",
        "top10_share",
        "top_classes",
        "one_split_interval",
        "bootstrap_resamples",
        "bootstrap_seed",
        "split_scores",
        "warnings",
    ):
        assert key in data
    assert data["effective_classes_covered"] == result.effective_classes_covered


def naive_bootstrap(probs: np.ndarray, resamples: int, seed: int) -> list[float]:
    """The definition: draw N rows with replacement, score them as one split with the KL formula."""
    rng = np.random.RandomState(seed)
    scores = []
    for _ in range(resamples):
        picked = probs[rng.randint(0, len(probs), size=len(probs))]
        scores.append(score(picked, splits=1, order="given").mean)
    return list(np.percentile(scores, [2.5, 97.5]))


@pytest.mark.parametrize(
    "n, classes", [(60, 9), pytest.param(70_000, 4, marks=pytest.mark.reference)]
)  # the second spans several chunks
def test_bootstrap_matches_the_plain_resampling_loop(n, classes):
    probs = np.random.RandomState(3).dirichlet(np.full(classes, 0.5), size=n)
    np.testing.assert_allclose(
        bootstrap_interval(probs, resamples=150, seed=7), naive_bootstrap(probs, 150, 7), rtol=1e-10
    )


def test_bootstrap_is_deterministic_for_a_seed_and_moves_with_it():
    probs = np.random.RandomState(4).dirichlet(np.full(20, 0.3), size=300)
    first = score(probs, bootstrap=300, seed=11)
    again = score(probs, bootstrap=300, seed=11)
    other = score(probs, bootstrap=300, seed=12)
    assert first.one_split_interval == again.one_split_interval
    assert first.one_split_interval != other.one_split_interval
    low, high = first.one_split_interval
    assert low < first.one_split_score < high
    assert (first.bootstrap_resamples, first.bootstrap_seed) == (300, 11)


def test_bootstrap_of_identical_images_is_a_point_and_off_by_default():
    probs = np.tile([0.7, 0.2, 0.1], (40, 1))
    assert score(probs, bootstrap=50).one_split_interval == pytest.approx([1.0, 1.0], abs=EXACT)
    result = score(probs)
    assert (result.one_split_interval, result.bootstrap_resamples, result.bootstrap_seed) == (None, 0, None)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "1000"])
def test_bootstrap_rejects_what_is_not_a_count(bad):
    with pytest.raises(InceptionScoreError, match="bootstrap must be"):
        score(np.eye(3), splits=1, bootstrap=bad)


def class_sorted(n_per_class: int = 100, classes: int = 10) -> np.ndarray:
    """Images sorted by class: each row 0.9 on its class, the rest spread evenly."""
    labels = np.repeat(np.arange(classes), n_per_class)
    probs = np.full((len(labels), classes), 0.1 / (classes - 1))
    probs[np.arange(len(labels)), labels] = 0.9
    return probs


def test_class_sorted_order_is_flagged_only_when_scored_in_that_order():
    probs = class_sorted()
    given = score(probs, order="given")
    assert any("sorted by class" in warning for warning in given.warnings)
    assert given.mean < 0.5 * given.one_split_score
    assert not any("sorted by class" in w for w in score(probs, order="shuffled").warnings)
    mixed = probs[np.random.RandomState(5).permutation(len(probs))]
    assert not any("sorted by class" in w for w in score(mixed, order="given").warnings)
    assert not any("sorted by class" in w for w in score(probs, order="given", splits=1).warnings)


def test_looks_class_sorted_needs_a_large_drop_beyond_the_noise():
    assert looks_class_sorted([1.0, 1.1, 0.9], [5.0, 5.2, 4.8])
    assert not looks_class_sorted([4.8, 4.7, 4.9], [5.0, 5.2, 4.8])  # 5% lower: not far
    assert not looks_class_sorted([3.0, 3.0], [1.0, 9.0])  # 40% lower, but the splits vary more than that


def test_small_sample_warning_below_5000_images_only():
    just_enough = np.full((SMALL_N, 2), 0.5)
    assert score(just_enough).warnings == []
    few = score(just_enough[:-1]).warnings
    assert len(few) == 1 and f"only {SMALL_N - 1} images" in few[0] and "50k" in few[0]


def test_public_entry_points_emit_the_warnings():
    with pytest.warns(InceptionScoreWarning, match="only 3 images"):
        result = inception_score_from_probabilities(np.eye(3), splits=1)
    assert result.warnings and "only 3 images" in result.warnings[0]


def test_explain_names_both_halves_with_their_numbers():
    text = score(np.eye(3), splits=1, bootstrap=10).explain()
    assert "3.00 effective classes covered of 3" in text
    assert "1.00 effective classes per image" in text
    assert "= 3.0000" in text and "95% bootstrap interval" in text
