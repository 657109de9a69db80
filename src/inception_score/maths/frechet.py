"""Fréchet distance of two feature distributions (FID on pool3 features), float64.

Moments are accumulated in a stream (O(d^2) memory for any N) and the matrix square root's
trace is taken from real factors, so the distance is never complex or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InceptionScoreError
from .inception import count_non_finite


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
        check_features(batch, "features")
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

    @property
    def shift(self) -> np.ndarray | None:
        """The point the sums are taken around (the first batch's mean); None before any update."""
        return self._shift

    def recentre(self, shift: np.ndarray) -> None:
        """Take the sums (and kept rows) around `shift` instead, so that accumulators can be added.

        With delta = old shift - new shift, every shifted row gains delta: the sum gains n delta
        and the outer products gain delta sum^T + sum delta^T + n delta delta^T.
        """
        shift = np.asarray(shift, dtype=np.float64)
        if self._shift is None:
            self._shift, self._sum, self._outer = shift.copy(), np.zeros(len(shift)), np.zeros((len(shift),) * 2)
            return
        if len(shift) != len(self._shift):
            raise InceptionScoreError(f"cannot recentre {len(self._shift)}-d sums around a {len(shift)}-d point")
        assert self._sum is not None and self._outer is not None
        delta = self._shift - shift
        self._outer += np.outer(delta, self._sum) + np.outer(self._sum, delta) + self.n * np.outer(delta, delta)
        self._sum += self.n * delta
        if self._rows is not None:
            self._rows = [rows + delta for rows in self._rows]
        self._shift = shift.copy()

    def sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(sum, outer products, rows) around `shift`; rows is None once more than d were added."""
        if self._shift is None:
            raise InceptionScoreError("no features were added yet: recentre() an empty accumulator first")
        assert self._sum is not None and self._outer is not None
        rows = None
        if self._rows is not None:
            rows = np.concatenate(self._rows) if self._rows else np.zeros((0, len(self._shift)))
        return self._sum, self._outer, rows

    @classmethod
    def from_sums(
        cls, n: int, shift: np.ndarray, total: np.ndarray, outer: np.ndarray, rows: np.ndarray | None = None
    ) -> MomentAccumulator:
        """An accumulator holding added-up sums() of several taken around the same shift."""
        accumulator = cls()
        accumulator.n = n
        accumulator._shift = np.asarray(shift, np.float64).copy()
        accumulator._sum = np.asarray(total, np.float64).copy()
        accumulator._outer = np.asarray(outer, np.float64).copy()
        keep = rows is not None and n <= len(accumulator._shift)
        accumulator._rows = [np.asarray(rows, np.float64)] if keep else None
        return accumulator

    def moments(self) -> Moments:
        """Mean and covariance (ddof=1) of everything added so far."""
        if self._shift is None or self._sum is None or self._outer is None or self.n < 2:
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
    complex or NaN, also for rank-deficient covariances (N < d). Identical statistics give exactly 0;
    otherwise a negative rounding residue is reported as 0.

    Parameters
    ----------
    mu_a, mu_b
        Means, shape (d,).
    sigma_a, sigma_b
        Covariances, shape (d, d), symmetric positive semidefinite.

    Returns
    -------
    float
        The distance, >= 0.
    """
    a = Moments(np.asarray(mu_a, np.float64), np.asarray(sigma_a, np.float64), None)
    b = Moments(np.asarray(mu_b, np.float64), np.asarray(sigma_b, np.float64), None)
    return frechet_of_moments(a, b)


def frechet_of_moments(a: Moments, b: Moments) -> float:
    """The Fréchet distance of two sets summarised by their moments (see `frechet_distance`)."""
    for side, moments in (("a", a), ("b", b)):
        _check_moments(moments, side)
    if a.mean.shape != b.mean.shape:
        raise InceptionScoreError(f"cannot compare {a.mean.shape[0]}-d features (a) with {b.mean.shape[0]}-d (b)")
    if np.array_equal(a.mean, b.mean) and np.array_equal(a.covariance, b.covariance):
        return 0.0  # the same statistics: exactly 0, not the rounding residue of the square root's trace
    factor_a, factor_b = _sqrt_factor(a, "a"), _sqrt_factor(b, "b")
    trace_sqrt = np.linalg.svd(factor_a.T @ factor_b, compute_uv=False).sum()
    with np.errstate(over="ignore", invalid="ignore"):
        distance = np.sum((a.mean - b.mean) ** 2) + np.trace(a.covariance) + np.trace(b.covariance) - 2 * trace_sqrt
    if not np.isfinite(distance):
        largest = max(float(np.abs(m.mean).max(initial=0)) for m in (a, b))
        raise InceptionScoreError(
            f"the FID overflows float64 (the means reach {largest:.3g}): these moments are not of feature "
            "vectors (pool3 means are of order 1); check that the statistics files were written by this tool "
            "or pytorch-fid"
        )
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
        remaining -= column**2
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
            f"got {mean.shape} and {covariance.shape}"
        )
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(covariance))):
        raise InceptionScoreError(f"side {side}: mean or covariance contains NaN or infinite values")
    scale = float(np.max(np.abs(covariance), initial=0.0))
    if np.max(np.abs(covariance - covariance.T), initial=0.0) > 1e-6 * scale:
        raise InceptionScoreError(f"side {side}: the covariance is not symmetric")


def check_features(features: np.ndarray, what: str) -> None:
    if features.ndim != 2 or features.shape[1] < 1:
        raise InceptionScoreError(f"expected {what} as N x d, got shape {features.shape}")
    if not np.all(np.isfinite(features)):
        raise InceptionScoreError(f"{what} contain {count_non_finite(features)} NaN or infinite values")
