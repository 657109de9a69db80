"""An emulation of the ADM evaluator's float16 distances, to measure what that shortcut changes.

openai/guided-diffusion's `evaluations/evaluator.py` (a port of Kynkaenniemi et al.'s code)
computes squared distances |u|^2 - 2 u.v + |v|^2 with the features cast to float16: squares
and products rounded to float16, each of the three additions rounded to float16, clamped at 0;
when a 10,000 x 10,000 block holds a non-finite value it recomputes that block in float32. A
point's radius is the (k+1)-th smallest entry of its row, itself included (so its own distance,
which float16 may not give as 0, is excluded by position, not by index). The comparisons are
`distance <= radius` on those float16 values held in float32.

Assumed, as on the GPUs the evaluator runs on: the float16 matrix product and the float16 sums
of squares accumulate in float32 and round once to float16 at the end (cuBLAS/TensorFlow's
default for half precision). Our own metrics are in `neighbours.py`; this module is only the
yardstick, and keeps the evaluator's block size, so it needs ~2 GB for 10,000 points or more.
"""

from __future__ import annotations

import numpy as np

from .neighbours import PrecisionRecall, _check_k, _check_same_dim, check_features, f_score

ADM_BLOCK = 10_000  # the evaluator's row and column batch size


def _float16_squared_norms(points16: np.ndarray) -> np.ndarray:
    squares = points16 * points16  # float16, rounded per element like tf.square
    return squares.sum(axis=1, dtype=np.float32).astype(np.float16)


def adm_squared_distances(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """One block of the evaluator's squared distances.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        m x d and n x d features (float32 in the evaluator).

    Returns
    -------
    numpy.ndarray
        m x n float32: the float16 result, or the float32 one when the float16 block is not
        finite everywhere (e.g. features large enough to overflow 65504).
    """
    with np.errstate(over="ignore"):
        rows16, cols16 = np.asarray(rows).astype(np.float16), np.asarray(cols).astype(np.float16)
    with np.errstate(over="ignore", invalid="ignore"):
        products16 = (rows16.astype(np.float32) @ cols16.astype(np.float32).T).astype(np.float16)
        block16 = _float16_squared_norms(rows16)[:, None] - np.float16(2) * products16
        block16 = np.maximum(block16 + _float16_squared_norms(cols16)[None, :], np.float16(0))
    if np.all(np.isfinite(block16)):
        return block16.astype(np.float32)
    rows32, cols32 = np.asarray(rows, np.float32), np.asarray(cols, np.float32)
    block32 = (
        np.einsum("ij,ij->i", rows32, rows32)[:, None]
        - 2 * (rows32 @ cols32.T)
        + np.einsum("ij,ij->i", cols32, cols32)[None, :]
    )
    return np.maximum(block32, np.float32(0))


def adm_radii(features: np.ndarray, k: int = 3) -> np.ndarray:
    """Squared k-NN radii as the evaluator's `manifold_radii`: (k+1)-th smallest of each row, self included.

    Parameters
    ----------
    features : numpy.ndarray
        N x d features, N >= k + 1.
    k : int
        Neighbour rank.

    Returns
    -------
    numpy.ndarray
        N float32 squared radii.
    """
    k = _check_k(k)
    features = check_features(features, "features", k + 1)
    count = features.shape[0]
    radii = np.empty(count, np.float32)
    for start in range(0, count, ADM_BLOCK):
        rows = features[start : start + ADM_BLOCK]
        row_distances = np.concatenate(
            [adm_squared_distances(rows, features[col : col + ADM_BLOCK]) for col in range(0, count, ADM_BLOCK)], axis=1
        )
        radii[start : start + len(rows)] = np.partition(row_distances, k, axis=1)[:, k]
    return radii


def adm_float16_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> PrecisionRecall:
    """Precision and recall as the ADM evaluator computes them (float16 distances, emulated).

    Parameters
    ----------
    real, fake : numpy.ndarray
        Reference and sample features, at least k + 1 each.
    k : int
        Neighbour rank (the evaluator uses 3).

    Returns
    -------
    PrecisionRecall
        Compare with `neighbours.precision_recall` (exact distances) to see the shortcut's effect.
    """
    k = _check_k(k)
    real = check_features(real, "real features", k + 1)
    fake = check_features(fake, "fake features", k + 1)
    _check_same_dim(real, fake)
    real_radii, fake_radii = adm_radii(real, k), adm_radii(fake, k)
    real_inside = np.zeros(real.shape[0], bool)
    fake_inside = np.zeros(fake.shape[0], bool)
    for r0 in range(0, real.shape[0], ADM_BLOCK):
        for f0 in range(0, fake.shape[0], ADM_BLOCK):
            block = adm_squared_distances(real[r0 : r0 + ADM_BLOCK], fake[f0 : f0 + ADM_BLOCK])
            real_inside[r0 : r0 + block.shape[0]] |= (block <= fake_radii[None, f0 : f0 + block.shape[1]]).any(axis=1)
            fake_inside[f0 : f0 + block.shape[1]] |= (block <= real_radii[r0 : r0 + block.shape[0], None]).any(axis=0)
    precision = float(np.count_nonzero(fake_inside)) / fake.shape[0]
    recall = float(np.count_nonzero(real_inside)) / real.shape[0]
    return PrecisionRecall(precision, recall, f_score(precision, recall), k, real.shape[0], fake.shape[0])
