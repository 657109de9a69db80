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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One human line, e.g. `IS = 11.24 ± 0.12 (50000 images, 10 splits, shuffled, reference weights)`."""
        if self.reference_weights is None:
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
