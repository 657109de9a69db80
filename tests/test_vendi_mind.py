"""The Vendi score and MIND, the metrics added through the declarations: hand-checked cases and properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inception_score.errors import InceptionScoreError
from inception_score.maths.sliced import sliced_wasserstein
from inception_score.maths.vendi import vendi_score
from inception_score.metrics.mind import drawn_sets

pytestmark = pytest.mark.unit


def test_vendi_of_identical_images_is_one_and_of_orthogonal_ones_is_n():
    row = np.random.RandomState(0).standard_normal(16).astype(np.float32)
    assert vendi_score(np.tile(row, (50, 1))) == pytest.approx(1.0, abs=1e-12)
    assert vendi_score(np.eye(7, 12) * 3.5) == pytest.approx(7.0, rel=1e-12)  # n <= d: the n x n matrix
    assert vendi_score(np.eye(12)[np.arange(30) % 6] * 2) == pytest.approx(6.0, rel=1e-12)  # n > d: 6 groups


def test_vendi_through_the_d_by_d_matrix_equals_the_n_by_n_definition():
    features = np.random.RandomState(1).standard_normal((300, 40))
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    eigenvalues = np.linalg.eigvalsh(unit @ unit.T / len(unit))  # the definition: K / n, n x n
    positive = eigenvalues[eigenvalues > 1e-15]
    assert vendi_score(features) == pytest.approx(np.exp(-(positive * np.log(positive)).sum()), rel=1e-10)
    assert vendi_score(features, block_rows=7) == pytest.approx(vendi_score(features), rel=1e-12)
    shuffled = features[np.random.RandomState(2).permutation(len(features))]
    assert vendi_score(shuffled) == pytest.approx(vendi_score(features), rel=1e-12)  # order does not matter
    assert vendi_score(features * 9.0) == pytest.approx(vendi_score(features), rel=1e-12)  # cosine: scale-free


def test_vendi_refuses_a_zero_feature_vector_by_its_index():
    features = np.ones((5, 3))
    features[3] = 0
    with pytest.raises(InceptionScoreError, match="feature vector 3 is all zeros"):
        vendi_score(features)


def test_mind_of_a_set_with_itself_is_exactly_zero_and_symmetric():
    x = np.random.RandomState(3).standard_normal((200, 32)).astype(np.float32)
    y = np.random.RandomState(4).standard_normal((200, 32)).astype(np.float32) + 0.5
    a, b, directions = drawn_sets(x, x, 100, 2020)
    assert sliced_wasserstein(a, b, directions) == 0.0
    _, _, directions = drawn_sets(x, y, 100, 2020)
    assert sliced_wasserstein(x, y, directions) == pytest.approx(sliced_wasserstein(y, x, directions), rel=1e-12)


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_mind_of_an_isotropic_shift_is_three_d_shift_squared(shift):
    rng = np.random.RandomState(5)
    x = rng.standard_normal((4000, 64)).astype(np.float32)
    y = (rng.standard_normal((4000, 64)) + shift).astype(np.float32)
    a, b, directions = drawn_sets(x, y, 2000, 2020)
    assert sliced_wasserstein(a, b, directions) == pytest.approx(3 * 64 * shift**2, rel=0.10)


def test_mind_draws_as_torch_fidelity_draws_and_cuts_the_larger_side():
    x = np.random.RandomState(6).standard_normal((50, 8)).astype(np.float32)
    y = np.random.RandomState(7).standard_normal((30, 8)).astype(np.float32)
    a, b, directions = drawn_sets(x, y, 20, 11)
    generator = torch.Generator().manual_seed(11)  # written from the description: one generator, side a first
    rows = torch.randperm(50, generator=generator)[:30].numpy()
    drawn = torch.randn(20, 8, generator=generator, dtype=torch.float32)
    drawn = (drawn / drawn.norm(dim=1, keepdim=True).clamp_min(1e-12)).numpy()
    assert np.array_equal(a, x[rows]) and np.array_equal(b, y) and np.array_equal(directions, drawn)
    projected = np.sort(a.astype(np.float64) @ drawn.T.astype(np.float64), axis=0)
    against = np.sort(b.astype(np.float64) @ drawn.T.astype(np.float64), axis=0)
    expected = 3 * 8 * ((projected - against) ** 2).mean(axis=0).mean()
    assert sliced_wasserstein(a, b, directions) == pytest.approx(expected, rel=1e-12)


def test_mind_refuses_sets_of_different_sizes_or_dimensions():
    with pytest.raises(InceptionScoreError, match="same size"):
        sliced_wasserstein(np.zeros((3, 2)), np.zeros((4, 2)), np.ones((1, 2)))
