"""IS-infinity and FID-infinity (Chong & Forsyth 2020): a metric's value extrapolated to infinitely many images.

Both scores are biased by a term close to linear in 1/N. Evaluating the metric on seeded
random subsets of ~15 sizes and fitting value = intercept + slope / n by least squares gives
the intercept, the "effectively unbiased" value, from the features already extracted (no
extra forward passes). The fit's points and its RMS residual are returned so a reader can
judge how straight the line is. The metric is any callable of row indices, so this module
knows nothing about IS or FID.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InceptionScoreError

DEFAULT_POINTS = 15
DEFAULT_SEED = 2020
SMALLEST_SHARE = 10  # the smallest subset is N // 10 images by default


@dataclass(frozen=True)
class Extrapolation:
    """A least-squares line value = intercept + slope / n through the metric on subsets of n images."""

    intercept: float  # the extrapolated value at n = infinity (IS-infinity, FID-infinity)
    slope: float  # d value / d(1/n)
    sizes: tuple[int, ...]  # subset sizes, ascending
    values: tuple[float, ...]  # the metric on the subset of each size
    rms_residual: float  # sqrt(mean((value - fitted)^2)) over the points
    seed: int
    count: int  # N, the images available

    def fitted(self, size: int) -> float:
        """The line's value at n = size images."""
        return self.intercept + self.slope / size

    def to_dict(self) -> dict[str, Any]:
        return dict(
            intercept=self.intercept,
            slope=self.slope,
            sizes=list(self.sizes),
            values=list(self.values),
            rms_residual=self.rms_residual,
            seed=self.seed,
            count=self.count,
        )


def subset_sizes(count: int, *, points: int = DEFAULT_POINTS, smallest: int | None = None) -> tuple[int, ...]:
    """Evenly spaced subset sizes from `smallest` to `count`.

    Parameters
    ----------
    count : int
        N, the images available (the largest size).
    points : int
        How many sizes (fewer when the range holds fewer distinct integers).
    smallest : int, optional
        The smallest size; default N // 10 (5,000 for the usual 50,000 images), at least 2.

    Returns
    -------
    tuple of int
        Distinct ascending sizes, at least two.
    """
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise InceptionScoreError(f"points must be an integer >= 2, got {points!r}")
    if smallest is None:
        smallest = max(count // SMALLEST_SHARE, 2)
    if not 1 <= smallest < count:
        raise InceptionScoreError(
            f"the smallest subset must hold between 1 and N - 1 = {count - 1} images, got {smallest} "
            "(extrapolation needs at least two different subset sizes)"
        )
    sizes = np.unique(np.round(np.linspace(smallest, count, points)).astype(np.int64))
    return tuple(int(size) for size in sizes)


def fit_inverse_size(sizes: Sequence[int], values: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares fit of value = intercept + slope / size.

    Parameters
    ----------
    sizes : sequence of int
        At least two distinct subset sizes.
    values : sequence of float
        The metric at each size, finite.

    Returns
    -------
    tuple of float
        (intercept, slope, RMS residual).
    """
    inverse = 1.0 / np.asarray(sizes, dtype=np.float64)
    observed = np.asarray(values, dtype=np.float64)
    if inverse.shape != observed.shape or np.unique(inverse).size < 2:
        raise InceptionScoreError(f"need values at two or more distinct sizes, got sizes {list(sizes)}")
    if not np.all(np.isfinite(observed)):
        raise InceptionScoreError(f"the metric gave non-finite values {observed.tolist()} at sizes {list(sizes)}")
    # Centre 1/n before solving: the columns [1, 1/n] are nearly collinear for large n.
    centre = inverse.mean()
    design = np.stack([np.ones_like(inverse), inverse - centre], axis=1)
    (level, slope), *_ = np.linalg.lstsq(design, observed, rcond=None)
    residuals = observed - design @ np.array([level, slope])
    return float(level - slope * centre), float(slope), float(np.sqrt(np.mean(residuals**2)))


def extrapolate(
    metric: Callable[[np.ndarray], float],
    count: int,
    *,
    points: int = DEFAULT_POINTS,
    smallest: int | None = None,
    sizes: Sequence[int] | None = None,
    seed: int = DEFAULT_SEED,
) -> Extrapolation:
    """Evaluate `metric` on seeded random subsets of several sizes and extrapolate to n = infinity.

    Parameters
    ----------
    metric : callable
        metric(indices) -> float, where indices is a sorted int64 array of distinct rows in
        [0, count): e.g. ``lambda rows: fid_from_features(samples[rows], reference)``.
    count : int
        N, the number of rows the metric may index.
    points : int
        Number of subset sizes (Chong & Forsyth use 15).
    smallest : int, optional
        Smallest subset; default N // 10.
    sizes : sequence of int, optional
        Explicit subset sizes (overrides points and smallest), each in [1, N].
    seed : int
        One `numpy.random.RandomState(seed)` draws every subset, in ascending order of size,
        without replacement; the full size uses all rows in order.

    Returns
    -------
    Extrapolation
        Intercept (the IS-infinity / FID-infinity), slope, the points and the RMS residual.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 2:
        raise InceptionScoreError(f"count must be an integer >= 2, got {count!r}")
    if sizes is None:
        chosen = subset_sizes(int(count), points=points, smallest=smallest)
    else:
        chosen = tuple(sorted({int(size) for size in sizes}))
        if len(chosen) < 2 or chosen[0] < 1 or chosen[-1] > count:
            raise InceptionScoreError(f"sizes must hold two or more distinct values in [1, {count}], got {list(sizes)}")
    rng = np.random.RandomState(seed)
    values = []
    for size in chosen:
        rows = np.arange(count) if size == count else np.sort(rng.choice(count, size, replace=False))
        values.append(float(metric(rows.astype(np.int64))))
    intercept, slope, rms = fit_inverse_size(chosen, values)
    return Extrapolation(intercept, slope, chosen, tuple(values), rms, int(seed), int(count))
