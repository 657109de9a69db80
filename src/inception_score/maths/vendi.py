"""The Vendi score (Friedman & Dieng 2023): the effective number of distinct samples, float64.

VS = exp(H(lambda)), the exponential of the Shannon entropy of the eigenvalues lambda of K / n, where
K is the n x n similarity matrix of the samples. With the cosine kernel K = X X^T for the rows of X
scaled to unit length, so the non-zero eigenvalues of K / n are those of the d x d matrix X^T X / n,
which is what is decomposed when d < n. n identical samples give 1; n mutually orthogonal ones give n.
"""

from __future__ import annotations

import numpy as np

from ..errors import InceptionScoreError
from .frechet import check_features

BLOCK_ROWS = 4096  # rows normalised and summed at a time


def vendi_score(features: np.ndarray, *, block_rows: int = BLOCK_ROWS) -> float:
    """Vendi score of N x d feature vectors with the cosine-similarity kernel (N >= 1; no zero vector)."""
    features = np.asarray(features)
    check_features(features, "features")
    n, d = features.shape
    if n < 1:
        raise InceptionScoreError("the Vendi score needs at least 1 feature vector, got 0")
    if n <= d:
        unit = _unit_rows(features, 0)
        eigenvalues = np.linalg.eigvalsh(unit @ unit.T / n)
    else:
        gram = np.zeros((d, d))
        for start in range(0, n, block_rows):
            unit = _unit_rows(features[start : start + block_rows], start)
            gram += unit.T @ unit
        eigenvalues = np.linalg.eigvalsh(gram / n)
    return float(np.exp(spectral_entropy(eigenvalues)))


def spectral_entropy(eigenvalues: np.ndarray) -> float:
    """Shannon entropy (nats) of non-negative eigenvalues summing to 1; round-off negatives count as 0."""
    positive = eigenvalues[eigenvalues > 0]
    return float(-(positive * np.log(positive)).sum())


def _unit_rows(block: np.ndarray, first_index: int) -> np.ndarray:
    """Rows scaled to unit length in float64; a zero row has no direction (cosine similarity undefined)."""
    rows = np.asarray(block, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
    if not (norms > 0).all():
        index = first_index + int(np.argmin(norms > 0))
        raise InceptionScoreError(
            f"feature vector {index} is all zeros: the cosine similarity (the Vendi score's kernel) is undefined "
            "for it; check the extractor's output"
        )
    return rows / norms[:, None]
