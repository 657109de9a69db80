"""Inception Score arithmetic on hand-computed toy cases and its invariants."""

import numpy as np
import pytest

from inception_score import InceptionScoreError, inception_score_from_logits, inception_score_from_probabilities


def one_hot(classes, num_classes=10):
    return np.eye(num_classes)[classes]


def test_three_one_hot_classes_score_three():
    result = inception_score_from_probabilities(one_hot([0, 1, 2]), splits=1)
    assert result.mean == pytest.approx(3.0, rel=1e-12) and result.std == 0.0


@pytest.mark.parametrize("k", [1, 2, 7, 10])
def test_k_distinct_one_hot_classes_score_k(k):
    assert inception_score_from_probabilities(one_hot(list(range(k))), splits=1).mean == pytest.approx(k, rel=1e-12)


@pytest.mark.parametrize("n", [1, 5, 64])
def test_uniform_predictions_score_one(n):
    result = inception_score_from_probabilities(np.full((n, 1008), 1 / 1008), splits=1)
    assert result.mean == pytest.approx(1.0, abs=1e-12)


def test_identical_logits_score_one_with_zero_std():
    logits = np.tile(np.random.RandomState(0).normal(size=1008) * 5, (50, 1))
    result = inception_score_from_logits(logits, splits=10)
    assert result.mean == pytest.approx(1.0, abs=1e-12) and result.std == pytest.approx(0.0, abs=1e-12)


def test_split_rule_and_population_std_by_hand():
    # 7 images, 3 splits: rows [0, 2), [2, 4), [4, 7) with N // splits boundaries.
    probs = one_hot([0, 1, 2, 2, 3, 4, 5])
    result = inception_score_from_probabilities(probs, splits=3, order="given")
    assert result.split_scores == pytest.approx([2.0, 1.0, 3.0], rel=1e-12)
    assert result.mean == pytest.approx(2.0) and result.std == pytest.approx(np.std([2.0, 1.0, 3.0]))
    assert result.seed is None and result.order == "given"


def test_shuffled_order_uses_randomstate_permutation():
    logits = np.random.RandomState(5).normal(size=(40, 20)) * 3
    permutation = np.random.RandomState(2020).permutation(40)
    shuffled = inception_score_from_logits(logits, splits=4)
    by_hand = inception_score_from_logits(logits[permutation], splits=4, order="given")
    assert shuffled.split_scores == by_hand.split_scores and shuffled.seed == 2020


def test_permutation_invariant_with_one_split():
    logits = np.random.RandomState(1).normal(size=(100, 1008)) * 4
    rows = np.random.RandomState(9).permutation(100)
    a = inception_score_from_logits(logits, splits=1, order="given").mean
    b = inception_score_from_logits(logits[rows], splits=1, order="given").mean
    assert a == pytest.approx(b, rel=1e-12)


def test_no_nan_with_extreme_logits():
    logits = np.random.RandomState(2).normal(size=(60, 1008)) * 1000
    result = inception_score_from_logits(logits, splits=3)
    assert np.isfinite(result.mean) and np.isfinite(result.std) and 1.0 <= result.mean <= 1008
    # Such logits are one-hot in float64: the score equals the one-hot score of their argmax.
    assert result.mean == pytest.approx(
        inception_score_from_probabilities(np.eye(1008)[logits.argmax(1)], splits=3).mean, rel=1e-9
    )


def test_decomposition_identity():
    logits = np.random.RandomState(3).normal(size=(80, 1008)) * 2
    result = inception_score_from_logits(logits, splits=1)
    assert np.exp(result.marginal_entropy - result.mean_conditional_entropy) == pytest.approx(result.mean, rel=1e-12)
    assert 0 <= result.mean_conditional_entropy <= result.marginal_entropy <= np.log(1008)


def test_probabilities_and_logits_agree():
    logits = np.random.RandomState(4).normal(size=(30, 50))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert inception_score_from_probabilities(probs, splits=3).mean == pytest.approx(
        inception_score_from_logits(logits, splits=3).mean, rel=1e-12
    )


@pytest.mark.parametrize(
    "probs, message",
    [
        (np.full((4, 3), 0.5), "sum to 1"),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), "negative"),
        (np.array([[np.nan, 1.0], [0.5, 0.5]]), "NaN"),
        (np.ones(5), "N x C"),
    ],
)
def test_bad_probabilities_are_errors(probs, message):
    with pytest.raises(InceptionScoreError, match=message):
        inception_score_from_probabilities(probs, splits=1)


def test_fewer_images_than_splits_is_an_error():
    with pytest.raises(InceptionScoreError, match="3 images cannot be cut into 10 splits"):
        inception_score_from_probabilities(one_hot([0, 1, 2]))


@pytest.mark.parametrize("options, message", [({"splits": 0}, "splits"), ({"order": "sorted"}, "order")])
def test_bad_options_are_errors(options, message):
    with pytest.raises(InceptionScoreError, match=message):
        inception_score_from_logits(np.zeros((10, 5)), **options)


def test_to_dict_is_json_safe():
    import json

    result = inception_score_from_probabilities(one_hot([0, 1, 2, 3]), splits=2)
    assert json.loads(json.dumps(result.to_dict()))["split_scores"] == result.split_scores
