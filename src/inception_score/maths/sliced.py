"""MIND (Monge Inception Distance, Berthet et al. 2026, arXiv 2605.06797): a sliced squared 2-Wasserstein
distance between two sets of feature vectors, float64.

MIND = 3 d * mean over M unit directions u of mean_j (sort(X u)_j - sort(Y u)_j)^2, for two sets of
the same size n (torch-fidelity's development branch cuts the larger set to n first). For each
direction the optimal 1-d transport pairs the sorted projections; the factor alpha = 3 d is the
paper's. The directions are drawn by the caller (the metric draws them as torch-fidelity does).
"""

from __future__ import annotations

import numpy as np

from ..errors import InceptionScoreError
from .frechet import check_features

PROJECTED_VALUES = 1 << 23  # projections held at a time per side (64 MiB of float64)


def sliced_wasserstein(x: np.ndarray, y: np.ndarray, directions: np.ndarray) -> float:
    """3 d * mean over the rows u of `directions` of mean_j (sort(x u)_j - sort(y u)_j)^2, in float64.

    x, y: n x d each (the same n); directions: M x d rows of unit length.
    """
    x, y, directions = np.asarray(x), np.asarray(y), np.asarray(directions)
    for what, values in (("features a", x), ("features b", y), ("directions", directions)):
        check_features(values, what)
    if x.shape != y.shape or directions.shape[1] != x.shape[1] or len(x) < 1 or len(directions) < 1:
        raise InceptionScoreError(
            f"MIND compares two n x d sets of the same size along M x d directions; got {x.shape}, {y.shape} and "
            f"{directions.shape}"
        )
    n, d = x.shape
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    step = max(1, PROJECTED_VALUES // n)
    total = 0.0
    for start in range(0, len(directions), step):
        block = directions[start : start + step].astype(np.float64).T  # d x m
        along_x, along_y = np.sort(x64 @ block, axis=0), np.sort(y64 @ block, axis=0)
        total += float(((along_x - along_y) ** 2).mean(axis=0).sum())
    return 3.0 * d * total / len(directions)
