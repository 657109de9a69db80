"""Inception Score from logits or class probabilities: pure numpy, float64, never NaN.

IS = exp(E_x KL(p(y|x) || p(y))), computed per split and reported as mean and population std.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import InceptionScoreError

Order = Literal["shuffled", "given"]
ORDERS = ("shuffled", "given")


@dataclass(frozen=True)
class ISResult:
    """An Inception Score with everything needed to reproduce and compare it."""

    mean: float
    std: float
    split_scores: list[float]
    n: int
    splits: int
    order: str
    seed: int | None
    marginal_entropy: float
    mean_conditional_entropy: float
    weights_sha256: str | None = None
    reference_weights: bool | None = None
    world_size: int = 1  # processes (torch.distributed ranks) that extracted the features
    warnings: list[str] = field(default_factory=list)
    precision: str | None = None  # "float32" (exact), or "float16+tf32" when fast mode ran on CUDA
    cached: int | None = None  # images whose features came from the feature cache
    classifier: dict[str, Any] | None = None  # name, identity, input contract, logits (classifier.describe())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One human line, e.g. `IS = 11.24 ± 0.12 (50000 images, 10 splits, shuffled, reference weights)`."""
        if self.classifier is not None and self.classifier.get("name") != "inception-2015":
            identity = str(self.classifier.get("identity"))
            weights = (f"classifier {identity[len('python:'):]}" if identity.startswith("python:")
                       else f"classifier {self.classifier['name']} {identity[:15]}")
        elif self.reference_weights is None:
            weights = "given logits"
        elif self.reference_weights:
            weights = "reference weights"
        else:
            weights = f"NON-reference weights {(self.weights_sha256 or '')[:8]}"
        approximate = f", {self.precision} (approximate)" if self.precision not in (None, "float32") else ""
        return (f"IS = {self.mean:.4f} ± {self.std:.4f} "
                f"({self.n} images, {self.splits} splits, {self.order}, {weights}{approximate})")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    return logits - _logsumexp(logits, axis=1, keepdims=True)


def _logsumexp(values: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(values))) along an axis; rows that are all -inf give -inf, not NaN."""
    peak = np.max(values, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        total = np.log(np.sum(np.exp(values - peak), axis=axis, keepdims=True)) + peak
    return total if keepdims else np.squeeze(total, axis=axis)


def _entropy(probs: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """-sum p log p along the last axis, with 0 log 0 = 0."""
    with np.errstate(invalid="ignore"):  # 0 * -inf is masked out by the where
        terms = np.where(probs > 0, probs * log_probs, 0.0)
    return -np.sum(terms, axis=-1)


def _check_options(n: int, splits: int, order: str) -> None:
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or splits < 1:
        raise InceptionScoreError(f"splits must be a positive integer, got {splits!r}")
    if order not in ORDERS:
        raise InceptionScoreError(f"order must be 'shuffled' or 'given', got {order!r}")
    if n < splits:
        raise InceptionScoreError(
            f"{n} images cannot be cut into {splits} splits: use splits <= {n} "
            f"(--splits {max(n, 1)}), or score more images (50,000 is the convention)")


def inception_score_from_log_probabilities(log_probs: np.ndarray, *, splits: int = 10,
                                           order: Order = "shuffled", seed: int = 2020) -> ISResult:
    """IS from an N x C array of log p(y|x); the other entry points normalise to this."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    n = log_probs.shape[0]
    _check_options(n, splits, order)
    if order == "shuffled":
        log_probs = log_probs[np.random.RandomState(seed).permutation(n)]
    probs = np.exp(log_probs)
    split_scores = []
    for i in range(splits):
        rows = slice(i * n // splits, (i + 1) * n // splits)
        split_log_probs, split_probs = log_probs[rows], probs[rows]
        log_marginal = _logsumexp(split_log_probs, axis=0) - np.log(len(split_probs))
        with np.errstate(invalid="ignore"):  # classes with p = 0 contribute exactly 0
            kl_terms = np.where(split_probs > 0, split_probs * (split_log_probs - log_marginal), 0.0)
        split_scores.append(float(np.exp(np.mean(np.sum(kl_terms, axis=1)))))
    log_marginal = _logsumexp(log_probs, axis=0) - np.log(n)
    return ISResult(
        mean=float(np.mean(split_scores)), std=float(np.std(split_scores)),
        split_scores=split_scores, n=n, splits=int(splits), order=order,
        seed=int(seed) if order == "shuffled" else None,
        marginal_entropy=float(_entropy(np.exp(log_marginal), log_marginal)),
        mean_conditional_entropy=float(np.mean(_entropy(probs, log_probs))))


def inception_score_from_logits(logits: np.ndarray, *, splits: int = 10,
                                order: Order = "shuffled", seed: int = 2020) -> ISResult:
    """IS from N x C logits (for the 2015 network: pool3 @ fc.weight.T, no bias).

    Notes: softmax is taken in float64 over all classes; the paper's protocol is splits=10
    on 50,000 images; order="given" splits in input order like the paper's code, "shuffled"
    first permutes rows with RandomState(seed) like torch-fidelity.
    """
    logits = np.asarray(logits, dtype=np.float64)
    _check_matrix(logits, "logits")
    if not np.all(np.isfinite(logits)):
        raise InceptionScoreError(f"logits contain {_count_bad(logits)} NaN or infinite values")
    return inception_score_from_log_probabilities(log_softmax(logits), splits=splits, order=order, seed=seed)


def inception_score_from_probabilities(probs: np.ndarray, *, splits: int = 10,
                                       order: Order = "shuffled", seed: int = 2020) -> ISResult:
    """IS from N x C class probabilities; each row must be finite, non-negative and sum to 1."""
    probs = np.asarray(probs, dtype=np.float64)
    _check_matrix(probs, "probabilities")
    if not np.all(np.isfinite(probs)):
        raise InceptionScoreError(f"probabilities contain {_count_bad(probs)} NaN or infinite values")
    if np.any(probs < 0):
        raise InceptionScoreError(f"probabilities contain negative values (min {probs.min():.3g})")
    row_sums = probs.sum(axis=1)
    worst = int(np.argmax(np.abs(row_sums - 1)))
    if abs(row_sums[worst] - 1) > 1e-4:
        raise InceptionScoreError(
            f"probabilities must sum to 1 per image; row {worst} sums to {row_sums[worst]:.6g} "
            "(pass logits to inception_score_from_logits instead)")
    with np.errstate(divide="ignore"):
        log_probs = np.log(probs / row_sums[:, None])
    return inception_score_from_log_probabilities(log_probs, splits=splits, order=order, seed=seed)


def _check_matrix(values: np.ndarray, what: str) -> None:
    if values.ndim != 2 or values.shape[1] < 2:
        raise InceptionScoreError(f"expected {what} as N x C with C >= 2, got shape {values.shape}")


def _count_bad(values: np.ndarray) -> int:
    return int(np.count_nonzero(~np.isfinite(values)))


# FID and KID on 2048-d pool3 features (or any feature vectors), float64.

@dataclass(frozen=True)
class FIDResult:
    """A Fréchet Inception Distance, with the size and origin of both sides."""

    fid: float
    n_a: int | None
    n_b: int | None
    a: str | None = None
    b: str | None = None
    weights_sha256: str | None = None
    reference_weights: bool | None = None
    pipeline_version: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        return f"FID = {self.fid:.4f} ({_count(self.n_a)} vs {_count(self.n_b)} images)"


@dataclass(frozen=True)
class KIDResult:
    """A Kernel Inception Distance: mean and population std over random subsets."""

    mean: float
    std: float
    subsets: int
    subset_size: int
    seed: int
    n_a: int
    n_b: int
    a: str | None = None
    b: str | None = None
    weights_sha256: str | None = None
    reference_weights: bool | None = None
    pipeline_version: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        return (f"KID = {self.mean:.6f} ± {self.std:.6f} ({self.subsets} subsets of {self.subset_size}, "
                f"seed {self.seed}; {self.n_a} vs {self.n_b} images)")


def _count(n: int | None) -> str:
    return "?" if n is None else str(n)


@dataclass(frozen=True)
class Moments:
    """Mean and covariance (ddof=1) of n feature vectors, float64.

    `centered` optionally holds the n x d centred features themselves (kept while n <= d):
    an exact square-root factor of the covariance that makes FID cheap and exact for small n.
    """

    mean: np.ndarray
    covariance: np.ndarray
    n: int | None
    centered: np.ndarray | None = None


class MomentAccumulator:
    """Streaming float64 sums of features and of their outer products: O(d^2) memory for any N.

    Sums are taken around the first batch's mean, which keeps the covariance accurate when
    features have a large common offset. Rows are also kept while n <= d (no more memory
    than the d x d sums) so that small sets get the exact low-rank factor.
    """

    def __init__(self) -> None:
        self.n = 0
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None
        self._rows: list[np.ndarray] | None = []

    def update(self, features: np.ndarray) -> None:
        """Add an n x d batch of feature vectors."""
        batch = np.asarray(features, dtype=np.float64)
        _check_features(batch, "features")
        if self._shift is None:
            self._shift = batch.mean(axis=0) if len(batch) else np.zeros(batch.shape[1])
            self._sum = np.zeros(batch.shape[1])
            self._outer = np.zeros((batch.shape[1], batch.shape[1]))
        elif batch.shape[1] != len(self._shift):
            raise InceptionScoreError(f"features have {batch.shape[1]} dimensions, earlier ones {len(self._shift)}")
        shifted = batch - self._shift
        self.n += len(batch)
        self._sum += shifted.sum(axis=0)
        self._outer += shifted.T @ shifted
        if self._rows is not None:
            self._rows = self._rows + [shifted] if self.n <= len(self._shift) else None

    def moments(self) -> Moments:
        """Mean and covariance (ddof=1) of everything added so far."""
        if self._shift is None or self.n < 2:
            raise InceptionScoreError(f"FID needs at least 2 images on each side, got {self.n}")
        mean_shifted = self._sum / self.n
        if self._rows is not None:
            centered = np.concatenate(self._rows) - mean_shifted
            covariance = centered.T @ centered / (self.n - 1)
        else:
            centered = None
            covariance = (self._outer - self.n * np.outer(mean_shifted, mean_shifted)) / (self.n - 1)
        return Moments(self._shift + mean_shifted, (covariance + covariance.T) / 2, self.n, centered)


def moments_of(features: np.ndarray) -> Moments:
    """Moments of an N x d array of feature vectors."""
    accumulator = MomentAccumulator()
    accumulator.update(features)
    return accumulator.moments()


def frechet_distance(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """FID = |mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2)), in float64.

    Tr((S_a S_b)^(1/2)) is computed as the nuclear norm (sum of singular values) of F_a^T F_b for
    factors S = F F^T (Cholesky; for singular S pivoted Cholesky, or the eigendecomposition):
    the eigenvalues of S_a S_b are the squared singular values of F_a^T F_b. All real, so never
    complex or NaN, also for rank-deficient covariances (N < d) and identical sets (0 up to
    rounding). A negative rounding residue is reported as 0.
    """
    a = Moments(np.asarray(mu_a, np.float64), np.asarray(sigma_a, np.float64), None)
    b = Moments(np.asarray(mu_b, np.float64), np.asarray(sigma_b, np.float64), None)
    return _frechet(a, b)


def fid_from_moments(a: Moments, b: Moments) -> FIDResult:
    """FID between two sets summarised by their moments (see `frechet_distance`)."""
    return FIDResult(fid=_frechet(a, b), n_a=a.n, n_b=b.n)


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray) -> FIDResult:
    """FID between two N x d arrays of feature vectors (pool3 for the standard FID)."""
    return fid_from_moments(moments_of(features_a), moments_of(features_b))


def _frechet(a: Moments, b: Moments) -> float:
    for side, moments in (("a", a), ("b", b)):
        _check_moments(moments, side)
    if a.mean.shape != b.mean.shape:
        raise InceptionScoreError(f"cannot compare {a.mean.shape[0]}-d features (a) with {b.mean.shape[0]}-d (b)")
    factor_a, factor_b = _sqrt_factor(a, "a"), _sqrt_factor(b, "b")
    trace_sqrt = np.linalg.svd(factor_a.T @ factor_b, compute_uv=False).sum()
    distance = np.sum((a.mean - b.mean) ** 2) + np.trace(a.covariance) + np.trace(b.covariance) - 2 * trace_sqrt
    return max(float(distance), 0.0)


def _sqrt_factor(moments: Moments, side: str) -> np.ndarray:
    """A d x k matrix F with F F^T = covariance (up to rounding): the centred rows, or a Cholesky factor."""
    if moments.centered is not None:
        return moments.centered.T / np.sqrt(moments.centered.shape[0] - 1)
    covariance = moments.covariance
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:  # singular (e.g. N <= d) or not a covariance at all
        factor = _pivoted_cholesky(covariance, max_rank=max(len(covariance) // 4, min(len(covariance), 64)))
        if factor is None:
            factor = _eigen_factor(covariance)
    scale = float(np.max(np.abs(covariance), initial=0.0))
    if np.max(np.abs(covariance - factor @ factor.T), initial=0.0) > 1e-5 * scale:
        raise InceptionScoreError(f"covariance {side} is not positive semidefinite: it is not a covariance matrix")
    return factor


def _pivoted_cholesky(matrix: np.ndarray, max_rank: int) -> np.ndarray | None:
    """F (d x rank) with F F^T = matrix (positive semidefinite), or None if the rank exceeds max_rank.

    O(d rank^2): fast for the low-rank covariances of small sets.
    """
    d = len(matrix)
    remaining = np.diag(matrix).copy()
    tolerance = d * np.finfo(np.float64).eps * max(float(remaining.max(initial=0.0)), 0.0)
    factor = np.zeros((d, max_rank))
    for rank in range(max_rank + 1):
        pivot = int(np.argmax(remaining))
        if remaining[pivot] <= tolerance:
            return factor[:, :rank]
        if rank == max_rank:
            return None
        column = (matrix[:, pivot] - factor[:, :rank] @ factor[pivot, :rank]) / np.sqrt(remaining[pivot])
        factor[:, rank] = column
        remaining -= column ** 2
        remaining[pivot] = 0.0
    return None


def _eigen_factor(matrix: np.ndarray) -> np.ndarray:
    """F = V sqrt(L) from the eigendecomposition, rounding-level eigenvalues set to 0."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    keep = eigenvalues > len(matrix) * np.finfo(np.float64).eps * max(float(eigenvalues[-1]), 0.0)
    return eigenvalues[keep] ** 0.5 * eigenvectors[:, keep]


def _check_moments(moments: Moments, side: str) -> None:
    mean, covariance = moments.mean, moments.covariance
    if mean.ndim != 1 or covariance.shape != (len(mean), len(mean)):
        raise InceptionScoreError(
            f"side {side}: expected a mean of shape (d,) and a covariance (d, d), "
            f"got {mean.shape} and {covariance.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(covariance))):
        raise InceptionScoreError(f"side {side}: mean or covariance contains NaN or infinite values")
    scale = float(np.max(np.abs(covariance), initial=0.0))
    if np.max(np.abs(covariance - covariance.T), initial=0.0) > 1e-6 * scale:
        raise InceptionScoreError(f"side {side}: the covariance is not symmetric")


def _check_features(features: np.ndarray, what: str) -> None:
    if features.ndim != 2 or features.shape[1] < 1:
        raise InceptionScoreError(f"expected {what} as N x d, got shape {features.shape}")
    if not np.all(np.isfinite(features)):
        raise InceptionScoreError(f"{what} contain {_count_bad(features)} NaN or infinite values")


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray, *, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 2020) -> KIDResult:
    """KID: unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, over random subsets, in float64.

    Each round draws `subset_size` rows of a, then of b, without replacement, from one
    numpy.random.RandomState(seed) (torch-fidelity's order); the result is the mean and
    population std over `subsets` rounds. Notes: torch-fidelity's defaults are 100 subsets of 1000.
    """
    features_a, features_b = np.asarray(features_a), np.asarray(features_b)
    for what, features in (("features a", features_a), ("features b", features_b)):
        _check_features(features, what)
    if features_a.shape[1] != features_b.shape[1]:
        raise InceptionScoreError(
            f"cannot compare {features_a.shape[1]}-d features (a) with {features_b.shape[1]}-d (b)")
    check_kid_options(len(features_a), len(features_b), subsets=subsets, subset_size=subset_size)
    rng = np.random.RandomState(seed)
    values = []
    for _ in range(subsets):
        rows_a = features_a[rng.choice(len(features_a), subset_size, replace=False)].astype(np.float64)
        rows_b = features_b[rng.choice(len(features_b), subset_size, replace=False)].astype(np.float64)
        values.append(_unbiased_mmd2(rows_a, rows_b))
    return KIDResult(mean=float(np.mean(values)), std=float(np.std(values)), subsets=int(subsets),
                     subset_size=int(subset_size), seed=int(seed), n_a=len(features_a), n_b=len(features_b))


def check_kid_options(n_a: int, n_b: int, *, subsets: int, subset_size: int) -> None:
    """Raise a clear error when KID cannot run with these options on sets of n_a and n_b features."""
    for name, value, least in (("subsets", subsets, 1), ("subset_size", subset_size, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InceptionScoreError(f"KID {name} must be an integer >= {least}, got {value!r}")
    smallest = min(n_a, n_b)
    if smallest < subset_size:
        side = "a" if n_a <= n_b else "b"
        advice = (f"use subset_size={smallest} (--subset-size {smallest}) or fewer" if smallest >= 2
                  else "KID needs at least 2 images per side")
        raise InceptionScoreError(
            f"KID subsets of {subset_size} need at least {subset_size} images on each side, but side {side} "
            f"has {smallest}: {advice}, or use more images (the convention is 1000 from 50,000)")


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples: the kernel means without the diagonals of k(x,x), k(y,y)."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))
