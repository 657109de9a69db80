"""FID and KID as pure float64 functions: torch-fidelity's numbers, closed forms, hard cases, errors."""

import json

import numpy as np
import pytest

from inception_score import InceptionScoreError
from inception_score.maths.frechet import MomentAccumulator, Moments, frechet_distance, moments_of
from inception_score.metrics.frechet import fid_from_features, fid_from_moments
from inception_score.metrics.kernel import kernel_inception_distance


@pytest.fixture(scope="module")
def pool3(data):
    return {name: np.load(data / f"reference_{name}_pool3.npy") for name in "ab"}


@pytest.fixture(scope="module")
def expected(data):
    return json.loads((data / "reference_ab.json").read_text())


def test_fid_matches_torch_fidelity(pool3, expected):
    result = fid_from_features(pool3["a"], pool3["b"])
    assert result.fid == pytest.approx(expected["fid"], rel=1e-4)
    assert (result.n_a, result.n_b) == (120, 120)


def test_fid_equals_the_exact_nuclear_norm_form(pool3):
    # Independent form: Tr((S_a S_b)^(1/2)) = sum of singular values of A_c^T B_c / (n - 1) for centred data.
    a, b = (pool3[name].astype(np.float64) for name in "ab")
    a_c, b_c = a - a.mean(0), b - b.mean(0)
    trace_sqrt = np.linalg.svd(a_c @ b_c.T, compute_uv=False).sum() / 119
    exact = np.sum((a.mean(0) - b.mean(0)) ** 2) + (np.sum(a_c**2) + np.sum(b_c**2)) / 119 - 2 * trace_sqrt
    assert fid_from_features(a, b).fid == pytest.approx(exact, rel=1e-10)


def test_fid_from_mu_sigma_alone_rank_deficient_is_exact_and_zero_for_identical_sets(pool3):
    # 120 images, 2048 dimensions: covariances of rank 119, the eigendecomposition route.
    a, b = moments_of(pool3["a"]), moments_of(pool3["b"])
    assert frechet_distance(a.mean, a.covariance, b.mean, b.covariance) == pytest.approx(
        fid_from_features(pool3["a"], pool3["b"]).fid, rel=1e-9
    )
    same = frechet_distance(a.mean, a.covariance, a.mean, a.covariance)
    assert isinstance(same, float) and 0 <= same < 1e-6


def test_fid_of_a_set_with_itself_is_zero(pool3):
    assert 0 <= fid_from_features(pool3["a"], pool3["a"]).fid < 1e-6


def _random_covariance(rng, d, rank=None):
    factor = rng.standard_normal((d, rank or d))
    return factor @ factor.T


@pytest.mark.parametrize("rank_a, rank_b", [(2, 2), (1, 2), (2, 1), (1, 1)])
def test_fid_2x2_closed_form_for_non_commuting_covariances(rank_a, rank_b):
    # For 2 x 2 PSD S_a S_b with eigenvalues l1, l2 >= 0: Tr sqrt = sqrt(l1 + l2 + 2 sqrt(l1 l2)).
    rng = np.random.RandomState(rank_a * 10 + rank_b)
    for _ in range(20):
        sigma_a, sigma_b = _random_covariance(rng, 2, rank_a), _random_covariance(rng, 2, rank_b)
        mu_a, mu_b = rng.standard_normal(2), rng.standard_normal(2)
        product = sigma_a @ sigma_b
        det = np.linalg.det(sigma_a) * np.linalg.det(sigma_b) if min(rank_a, rank_b) == 2 else 0.0  # exact 0
        trace_sqrt = np.sqrt(np.trace(product) + 2 * np.sqrt(det))
        expected = np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_sqrt
        # A rank-deficient input is singular only up to rounding (eps), and Tr sqrt moves by sqrt(eps) there.
        tolerance = 1e-9 if min(rank_a, rank_b) == 2 else 1e-7
        assert frechet_distance(mu_a, sigma_a, mu_b, sigma_b) == pytest.approx(max(expected, 0), rel=tolerance)


def test_fid_for_commuting_rank_deficient_covariances():
    # S_a = Q diag(a) Q^T, S_b = Q diag(b) Q^T: the trace term is sum (sqrt a - sqrt b)^2.
    rng = np.random.RandomState(0)
    q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    var_a, var_b = rng.uniform(0, 3, 50), rng.uniform(0, 3, 50)
    var_a[:20] = 0
    var_b[10:30] = 0
    mu_a, mu_b = rng.standard_normal(50), rng.standard_normal(50)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = frechet_distance(mu_a, q * var_a @ q.T, mu_b, q * var_b @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "features_a, features_b",
    [
        (np.ones((5, 8)), np.ones((5, 8))),  # zero covariance on both sides
        (np.ones((5, 8)), np.arange(40.0).reshape(5, 8)),  # zero against rank 1
        (np.random.RandomState(1).rand(2, 300), np.random.RandomState(2).rand(2, 300)),  # N = 2
    ],
)
def test_fid_degenerate_sets_are_finite_and_non_negative(features_a, features_b):
    result = fid_from_features(features_a, features_b)
    assert np.isfinite(result.fid) and result.fid >= 0
    a, b = moments_of(features_a), moments_of(features_b)
    assert frechet_distance(a.mean, a.covariance, b.mean, b.covariance) == pytest.approx(result.fid, rel=1e-9, abs=1e-9)


def test_streaming_moments_equal_numpy_for_any_batching():
    rng = np.random.RandomState(3)
    features = rng.standard_normal((40, 6)) * 2 + 1e6  # large common offset: sums must not cancel
    for cuts in ([40], [1, 39], [3] * 13 + [1], [7, 0, 33]):
        accumulator = MomentAccumulator()
        start = 0
        for size in cuts:
            accumulator.update(features[start : start + size])
            start += size
        moments = accumulator.moments()
        assert moments.n == 40 and moments.centered is None  # n > d: only the d x d sums are kept
        np.testing.assert_allclose(moments.mean, features.mean(0), rtol=1e-14)
        np.testing.assert_allclose(moments.covariance, np.cov(features, rowvar=False), rtol=1e-9)


@pytest.mark.parametrize("sizes", [[20, 20], [0, 13, 27], [5, 5, 5, 5, 5, 5, 5, 5], [6, 2], [0, 2, 3]])
def test_sums_of_shards_moved_to_one_shift_add_up_to_the_moments_of_all(sizes):
    """What engine.reduce_moments does across ranks: recentre every shard on one shift, add the sums."""
    rng = np.random.RandomState(5)
    features = rng.standard_normal((sum(sizes), 6)) * 2 + 1e4
    parts, start = [], 0
    for size in sizes:
        part = MomentAccumulator()
        for first in range(start, start + size, 3):
            part.update(features[first : min(first + 3, start + size)])
        parts.append(part)
        start += size
    shift = next(part.shift for part in parts if part.n)
    sums, outers, rows = [], [], []
    for part in parts:
        part.recentre(shift)
        total, outer, kept = part.sums()
        sums.append(total), outers.append(outer), rows.append(kept)
    kept_rows = np.concatenate(rows) if sum(sizes) <= 6 else None
    moments = MomentAccumulator.from_sums(sum(sizes), shift, sum(sums), sum(outers), kept_rows).moments()
    expected = moments_of(features)
    assert moments.n == expected.n and (moments.centered is None) == (expected.centered is None)
    np.testing.assert_allclose(moments.mean, expected.mean, rtol=1e-14)
    np.testing.assert_allclose(moments.covariance, expected.covariance, rtol=1e-9)


def test_small_sets_keep_their_rows_and_both_routes_agree():
    rng = np.random.RandomState(4)
    a, b = rng.rand(10, 30), rng.rand(12, 30) + 0.1
    small_a, small_b = moments_of(a), moments_of(b)
    assert small_a.centered.shape == (10, 30)
    without_rows = [Moments(m.mean, m.covariance, m.n) for m in (small_a, small_b)]
    assert fid_from_moments(small_a, small_b).fid == pytest.approx(fid_from_moments(*without_rows).fid, rel=1e-9)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: fid_from_features(np.ones((5, 3)), np.ones((5, 4))), "cannot compare 3-d features (a) with 4-d"),
        (lambda: fid_from_features(np.full((5, 3), np.nan), np.ones((5, 3))), "NaN or infinite"),
        (lambda: fid_from_features(np.ones((1, 3)), np.ones((5, 3))), "at least 2 images"),
        (lambda: fid_from_features(np.ones(5), np.ones((5, 3))), "expected features as N x d"),
        (
            lambda: frechet_distance(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2)),
            "not symmetric",
        ),
        (
            lambda: frechet_distance(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2)),
            "not positive semidefinite",
        ),
        (lambda: frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3)), "expected a mean of shape (d,)"),
    ],
)
def test_fid_bad_input_is_a_clear_error(make, message):
    with pytest.raises(InceptionScoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_kid_matches_torch_fidelity(pool3, expected):
    mean, std = expected["kid_subsets10_size50_seed2020_float64"]
    result = kernel_inception_distance(pool3["a"], pool3["b"], subsets=10, subset_size=50, seed=2020)
    assert result.mean == pytest.approx(mean, rel=1e-4)
    assert result.std == pytest.approx(std, rel=1e-4)
    assert result.to_dict()["mean"] == result.mean
    assert (result.subsets, result.subset_size, result.seed, result.n_a, result.n_b) == (10, 50, 2020, 120, 120)


def _naive_kid(x, y, subsets, size, seed):
    """Pair by pair, straight from the definition of the unbiased MMD^2 estimator."""
    rng = np.random.RandomState(seed)
    values = []
    for _ in range(subsets):
        xs = x[rng.choice(len(x), size, replace=False)].astype(np.float64)
        ys = y[rng.choice(len(y), size, replace=False)].astype(np.float64)
        kernel = lambda u, v: (u @ v / len(u) + 1) ** 3  # noqa: E731
        same = sum(kernel(xs[i], xs[j]) + kernel(ys[i], ys[j]) for i in range(size) for j in range(size) if i != j)
        cross = sum(kernel(xs[i], ys[j]) for i in range(size) for j in range(size))
        values.append(same / (size * (size - 1)) - 2 * cross / size**2)
    return np.mean(values), np.std(values)


def test_kid_equals_the_pairwise_definition():
    rng = np.random.RandomState(5)
    x, y = rng.rand(15, 7).astype(np.float32), rng.rand(11, 7).astype(np.float32) * 1.5
    result = kernel_inception_distance(x, y, subsets=4, subset_size=6, seed=9)
    assert (result.mean, result.std) == pytest.approx(_naive_kid(x, y, 4, 6, 9), rel=1e-10)


@pytest.mark.parametrize(
    "options, message",
    [
        (
            dict(subset_size=1000),
            "KID subsets of 1000 need at least 1000 images on each side, but side b has 80: "
            "use subset_size=80 (--kid-subset-size 80)",
        ),
        (dict(subsets=0), "subsets must be an integer >= 1"),
        (dict(subset_size=1), "subset_size must be an integer >= 2"),
    ],
)
def test_kid_bad_options_are_clear_errors(pool3, options, message):
    with pytest.raises(InceptionScoreError) as error:
        kernel_inception_distance(pool3["a"], pool3["b"][:80], **options)
    assert message in str(error.value)
