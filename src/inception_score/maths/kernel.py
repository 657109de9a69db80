"""Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel, float64."""

from __future__ import annotations

import numpy as np

from ..errors import InceptionScoreError
from .frechet import check_features


def kid_subset_values(
    features_a: np.ndarray, features_b: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> np.ndarray:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 on each of `subsets` random subset pairs, float64.

    Each round draws `subset_size` rows of a, then of b, without replacement, from one
    numpy.random.RandomState(seed) (torch-fidelity's order).
    """
    features_a, features_b = np.asarray(features_a), np.asarray(features_b)
    for what, features in (("features a", features_a), ("features b", features_b)):
        check_features(features, what)
    if features_a.shape[1] != features_b.shape[1]:
        raise InceptionScoreError(
            f"cannot compare {features_a.shape[1]}-d features (a) with {features_b.shape[1]}-d (b)"
        )
    check_kid_options(len(features_a), len(features_b), subsets=subsets, subset_size=subset_size)
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, once
        for index in range(subsets):
            rows_a = features_a[rng.choice(len(features_a), subset_size, replace=False)].astype(np.float64)
            rows_b = features_b[rng.choice(len(features_b), subset_size, replace=False)].astype(np.float64)
            values[index] = _unbiased_mmd2(rows_a, rows_b)
        summary_is_finite = np.isfinite([values.mean(), values.std()]).all()
    if not (np.isfinite(values).all() and summary_is_finite):
        largest = max(float(np.abs(features).max()) for features in (features_a, features_b))
        raise InceptionScoreError(
            f"the KID overflows float64 (feature values reach {largest:.3g}; its cubic kernel needs them far "
            "smaller): these are not feature vectors (pool3 values are of order 1); check that the features "
            "were written by this tool"
        )
    return values


def check_kid_options(n_a: int, n_b: int, *, subsets: int, subset_size: int) -> None:
    """Raise a clear error when KID cannot run with these options on sets of n_a and n_b features."""
    for name, value, least in (("subsets", subsets, 1), ("subset_size", subset_size, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InceptionScoreError(f"KID {name} must be an integer >= {least}, got {value!r}")
    smallest = min(n_a, n_b)
    if smallest < subset_size:
        raise InceptionScoreError(kid_shortfall(smallest, "a" if n_a <= n_b else "b", subset_size))


def kid_shortfall(count: int, side: str, subset_size: int) -> str:
    """Why `count` images on side `side` ("a" or "b") are too few for KID subsets of `subset_size`."""
    advice = (
        f"use subset_size={count} (--kid-subset-size {count}) or fewer"
        if count >= 2
        else "KID needs at least 2 images per side"
    )
    return (
        f"KID subsets of {subset_size} need at least {subset_size} images on each side, but side {side} "
        f"has {count}: {advice}, or use more images (the convention is 1000 from 50,000)"
    )


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples: the kernel means without the diagonals of k(x,x), k(y,y)."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))
