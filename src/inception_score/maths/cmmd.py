"""CMMD (Jayasumana et al. 2024, "Rethinking FID"): squared MMD with a Gaussian RBF kernel, in float64.

    CMMD = scale * ( mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) - 2 mean_ij k(x_i, y_j) ),
    k(a, b) = exp( -||a - b||^2 / (2 sigma^2) ),   sigma = 10, scale = 1000.

The reference (google-research/cmmd `distance.py`) takes the means over the full kernel matrices,
diagonal included: Gretton et al.'s minimum-variance (biased) estimator, named "min-variance"
here and the default. "unbiased" leaves the diagonals of the within-set matrices out.
The reference computes on CLIP ViT-L/14@336px embeddings normalised to unit length
(see `inception_score.pipeline.networks.clip`); `unit_normalise` does that for other features.
Kernel sums are accumulated over square tiles, so memory stays bounded for any N.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import InceptionScoreError

Estimator = Literal["min-variance", "unbiased"]
ESTIMATORS: tuple[str, ...] = ("min-variance", "unbiased")
SIGMA = 10.0
SCALE = 1000.0
BLOCK_ROWS = 2048  # a tile is at most 2048 x 2048 float64 values: 32 MiB


def cmmd(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sigma: float = SIGMA,
    scale: float = SCALE,
    estimator: Estimator = "min-variance",
    block_rows: int = BLOCK_ROWS,
) -> float:
    """CMMD between two sets of embeddings (rows), in float64.

    Parameters
    ----------
    x, y : np.ndarray
        Embeddings, N x D and M x D (any float dtype; used in float64). For CMMD as published,
        CLIP ViT-L/14@336px embeddings of unit length.
    sigma : float
        Bandwidth of the Gaussian RBF kernel (the reference's 10).
    scale : float
        Factor on the result (the reference's 1000).
    estimator : {"min-variance", "unbiased"}
        "min-variance" (the reference): means over all pairs, i = j included; needs N, M >= 1.
        "unbiased": within-set means over i != j; needs N, M >= 2; can be slightly negative.
    block_rows : int
        Side of the square tiles the kernel matrices are summed in.

    Returns
    -------
    float
        scale * MMD^2.
    """
    x, y = _check_embeddings(x, y, estimator)
    if not (np.isfinite(sigma) and sigma > 0):
        raise InceptionScoreError(f"sigma must be a positive number, got {sigma}")
    if not np.isfinite(scale):
        raise InceptionScoreError(f"scale must be a finite number, got {scale}")
    if block_rows < 1:
        raise InceptionScoreError(f"block_rows must be at least 1, got {block_rows}")
    gamma = 1.0 / (2.0 * sigma * sigma)
    within_x = _within_set_mean(x, gamma, estimator, block_rows)
    within_y = _within_set_mean(y, gamma, estimator, block_rows)
    between = rbf_kernel_sum(x, y, gamma=gamma, block_rows=block_rows) / (len(x) * len(y))
    return float(scale * (within_x + within_y - 2.0 * between))


def rbf_kernel_sum(
    a: np.ndarray, b: np.ndarray, *, gamma: float, block_rows: int = BLOCK_ROWS, symmetric: bool = False
) -> float:
    """Sum over all pairs (i, j) of exp(-gamma ||a_i - b_j||^2), tile by tile, in float64.

    Parameters
    ----------
    a, b : np.ndarray
        float64 arrays N x D and M x D.
    gamma : float
        1 / (2 sigma^2).
    block_rows : int
        Tile side.
    symmetric : bool
        `a` and `b` are the same set: only tiles on or above the diagonal are computed and the
        others counted twice (half the work).

    Returns
    -------
    float
    """
    a_norms = np.einsum("ij,ij->i", a, a)
    b_norms = a_norms if symmetric else np.einsum("ij,ij->i", b, b)
    total = 0.0
    for row in range(0, len(a), block_rows):
        first_col = row if symmetric else 0
        for col in range(first_col, len(b), block_rows):
            tile = _rbf_tile(
                a[row : row + block_rows],
                b[col : col + block_rows],
                a_norms[row : row + block_rows],
                b_norms[col : col + block_rows],
                gamma,
            )
            total += tile.sum() * (2.0 if symmetric and col != row else 1.0)
    return total


def unit_normalise(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length in float64, as CMMD's reference has its CLIP embeddings.

    Parameters
    ----------
    features : np.ndarray
        N x D, no zero rows.

    Returns
    -------
    np.ndarray
        float64, N x D.
    """
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    if features.ndim != 2 or not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise InceptionScoreError("unit_normalise needs N x D finite features without zero rows")
    return features / norms


def _within_set_mean(features: np.ndarray, gamma: float, estimator: Estimator, block_rows: int) -> float:
    count = len(features)
    total = rbf_kernel_sum(features, features, gamma=gamma, block_rows=block_rows, symmetric=True)
    if estimator == "min-variance":
        return total / (count * count)
    return (total - count) / (count * (count - 1))  # k(x_i, x_i) = 1 exactly: drop the diagonal


def _rbf_tile(a: np.ndarray, b: np.ndarray, a_norms: np.ndarray, b_norms: np.ndarray, gamma: float) -> np.ndarray:
    squared_distances = a_norms[:, None] + b_norms[None, :] - 2.0 * (a @ b.T)
    np.maximum(squared_distances, 0.0, out=squared_distances)  # rounding can dip below 0 for equal rows
    return np.exp(-gamma * squared_distances)


def _check_embeddings(x: np.ndarray, y: np.ndarray, estimator: Estimator) -> tuple[np.ndarray, np.ndarray]:
    if estimator not in ESTIMATORS:
        raise InceptionScoreError(f"unknown CMMD estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    minimum = 1 if estimator == "min-variance" else 2
    checked = []
    for name, values in (("x", x), ("y", y)):
        values = np.asarray(values)
        if values.ndim != 2 or values.shape[1] == 0:
            raise InceptionScoreError(f"CMMD needs embeddings N x D; {name} has shape {values.shape}")
        if len(values) < minimum:
            raise InceptionScoreError(
                f"the {estimator} CMMD estimator needs at least {minimum} embeddings "
                f"in each set; {name} has {len(values)}"
            )
        if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
            raise InceptionScoreError(f"CMMD needs real-valued embeddings; {name} has dtype {values.dtype}")
        values = values.astype(np.float64, copy=False)
        if not np.all(np.isfinite(values)):
            raise InceptionScoreError(f"{name} holds NaN or infinite values; CMMD needs finite embeddings")
        checked.append(values)
    if checked[0].shape[1] != checked[1].shape[1]:
        raise InceptionScoreError(
            f"x and y must have the same embedding size, got {checked[0].shape[1]} "
            f"and {checked[1].shape[1]}; were they made by the same extractor?"
        )
    return checked[0], checked[1]
