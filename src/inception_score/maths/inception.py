"""Inception Score maths on class probabilities: float64, never NaN, bounded memory.

IS = exp(E_x KL(p(y|x) || p(y))) per split = exp(H(p_split(y)) - E_x H(y|x)). Logits stay in
float32 (4 KB per image for 1008 classes); float64 log-probabilities are made one split or one
block of rows at a time, so memory does not grow with N beyond the logits themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InceptionScoreError

TOP_SHARE_CLASSES = 10

TOP_CLASSES_IN_DICT = 10

SORTED_RELATIVE_DROP = 0.10  # given-order split scores this far below a random order's...

SORTED_NOISE_MULTIPLE = 3.0  # ...and beyond this many standard errors look class-sorted


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64 (a new array; the input is not modified)."""
    log_probs = np.array(logits, dtype=np.float64)
    log_probs -= _logsumexp(log_probs, axis=1, keepdims=True)
    return log_probs


def _logsumexp(values: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(values))) along an axis; rows that are all -inf give -inf, not NaN."""
    peak = np.max(values, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    shifted = values - peak
    np.exp(shifted, out=shifted)
    with np.errstate(divide="ignore"):
        total = np.log(np.sum(shifted, axis=axis, keepdims=True)) + peak
    return total if keepdims else np.squeeze(total, axis=axis)


def entropy_with_logs(probs: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """-sum p log p along the last axis, with 0 log 0 = 0."""
    with np.errstate(invalid="ignore"):  # 0 * -inf is masked out by the where
        terms = np.where(probs > 0, probs * log_probs, 0.0)
    return -np.sum(terms, axis=-1)


def entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in nats of each distribution along the last axis (0 log 0 = 0), float64."""
    probs = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return entropy_with_logs(probs, np.log(probs))


def effective_classes(entropy_nats: float) -> float:
    """exp(entropy): the number of equally likely classes with that entropy (perplexity)."""
    return float(np.exp(entropy_nats))


def top1_classes(log_probs: np.ndarray) -> np.ndarray:
    """Each image's most probable class (the lowest index on ties)."""
    return np.argmax(np.asarray(log_probs), axis=1)


def distinct_classes(top1: np.ndarray) -> int:
    """How many classes are the top-1 class of at least one image."""
    return int(np.unique(np.asarray(top1)).size)


def top_share(marginal: np.ndarray, k: int = TOP_SHARE_CLASSES) -> float:
    """Share of the marginal p(y) held by its k largest classes (1.0 when k >= the classes in use)."""
    marginal = np.asarray(marginal, dtype=np.float64)
    return float(np.sum(np.sort(marginal)[::-1][:k]) / np.sum(marginal))


def top_classes(marginal: np.ndarray, top1: np.ndarray, k: int = TOP_CLASSES_IN_DICT) -> list[dict[str, Any]]:
    """The k largest classes of p(y), largest first: index, share of p(y), images with it as top-1."""
    counts = np.bincount(top1, minlength=len(marginal))
    largest = np.argsort(-np.asarray(marginal), kind="stable")[:k]
    return [{"class": int(c), "share": float(marginal[c]), "top1_images": int(counts[c])} for c in largest]


def split_scores(log_probs: np.ndarray, probs: np.ndarray | None, row_order: np.ndarray, splits: int) -> list[float]:
    """exp(mean KL(p(y|x) || p_split(y))) of each split; split i is rows row_order[i*N//splits:(i+1)*N//splits].

    probs (exp of log_probs) may be None: it is then computed a split at a time.
    """
    n = len(row_order)
    scores = []
    for i in range(splits):
        rows = row_order[i * n // splits : (i + 1) * n // splits]
        scores.append(split_score(log_probs[rows], None if probs is None else probs[rows]))
    return scores


def split_score(log_probs: np.ndarray, probs: np.ndarray | None = None) -> float:
    """exp(mean_x KL(p(y|x) || p(y))) of one split's float64 log-probabilities (probs = their exp, if at hand)."""
    if probs is None:
        probs = np.exp(log_probs)
    log_marginal = _logsumexp(log_probs, axis=0) - np.log(len(log_probs))
    with np.errstate(invalid="ignore"):  # classes with p = 0 contribute exactly 0 (set below)
        kl_terms = log_probs - log_marginal
        kl_terms *= probs
    kl_terms[~(probs > 0)] = 0.0
    return float(np.exp(np.mean(np.sum(kl_terms, axis=1))))


def bootstrap_interval(
    probs: np.ndarray, *, resamples: int = 1000, seed: int = 2020, level: float = 0.95
) -> list[float]:
    """Percentile bootstrap interval of the 1-split IS: resample the N images with replacement.

    Uses IS = exp(H(p_bar) - mean H(p(y|x))), so a resample costs one weighted sum of rows;
    draws come from numpy.random.RandomState(seed), so the interval is reproducible.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n = len(probs)
    image_entropies = entropy(probs)
    rng = np.random.RandomState(seed)
    chunk = max(1, min(resamples, (1 << 22) // n))
    scores = np.empty(resamples)
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        picks = rng.randint(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
        weights = np.bincount(picks.ravel(), minlength=rows * n).reshape(rows, n) / n
        scores[start : start + rows] = np.exp(entropy(weights @ probs) - weights @ image_entropies)
    tail = 100 * (1 - level) / 2
    return [float(value) for value in np.percentile(scores, [tail, 100 - tail])]


def looks_class_sorted(given_scores: list[float], shuffled_scores: list[float]) -> bool:
    """Whether split scores in the given order are far below those of a random order of the same images.

    Far: more than 10% lower on average and beyond 3 standard errors of that average.
    """
    given, shuffled = float(np.mean(given_scores)), float(np.mean(shuffled_scores))
    standard_error = float(np.std(shuffled_scores)) * np.sqrt(2 / len(given_scores))
    return given < (1 - SORTED_RELATIVE_DROP) * shuffled and shuffled - given > SORTED_NOISE_MULTIPLE * standard_error


ROWS_PER_BLOCK = 4096  # rows turned into float64 log-probabilities at a time for the diagnostics


class LogProbabilities:
    """log p(y|x) of N images, made in float64 a block of rows at a time.

    From logits (kept as given, e.g. float32: 4 KB per image for 1008 classes) each block is a
    row-wise float64 log-softmax, so any block holds exactly the values the whole array would.
    """

    def __init__(self, values: np.ndarray, *, from_logits: bool) -> None:
        self.values = values
        self.from_logits = from_logits

    @classmethod
    def of_logits(cls, logits: np.ndarray) -> LogProbabilities:
        """Validated N x C logits (finite, C >= 2); they are not copied."""
        logits = np.asarray(logits)
        if logits.dtype.kind not in "fiu":
            raise InceptionScoreError(f"expected logits as numbers, got dtype {logits.dtype}")
        check_matrix(logits, "logits")
        bad = sum(
            count_non_finite(logits[start : start + ROWS_PER_BLOCK]) for start in range(0, len(logits), ROWS_PER_BLOCK)
        )
        if bad:
            raise InceptionScoreError(f"logits contain {bad} NaN or infinite values")
        return cls(logits, from_logits=True)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    def rows(self, index: np.ndarray | slice) -> np.ndarray:
        """float64 log-probabilities of the rows `index`."""
        if self.from_logits:
            return log_softmax(self.values[index])
        return np.asarray(self.values[index], dtype=np.float64)

    def blocks(self) -> Iterator[np.ndarray]:
        """The float64 log-probabilities of every row, ROWS_PER_BLOCK rows at a time, in order."""
        for start in range(0, self.shape[0], ROWS_PER_BLOCK):
            yield self.rows(slice(start, start + ROWS_PER_BLOCK))


def log_probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """Validated N x C logits -> float64 log-softmax (the whole array; see LogProbabilities for blocks)."""
    log_probs = LogProbabilities.of_logits(logits)
    return log_probs.rows(slice(None))


def split_scores_of(log_probs: LogProbabilities, row_order: np.ndarray, splits: int) -> list[float]:
    """exp(mean KL(p(y|x) || p_split(y))) of each split, one split's rows in float64 at a time.

    Split i is rows row_order[i*N//splits:(i+1)*N//splits] (the paper's and torch-fidelity's cut).
    """
    n = len(row_order)
    return [split_score(log_probs.rows(row_order[i * n // splits : (i + 1) * n // splits])) for i in range(splits)]


@dataclass(frozen=True)
class Marginal:
    """What the diagnostics need from all N images, gathered a block at a time."""

    log_marginal: np.ndarray  # C: log p(y), p(y) the mean of p(y|x)
    image_entropies: np.ndarray  # N: H(y|x) in nats
    top1: np.ndarray  # N: argmax_y p(y|x), the lowest class on ties
    max_probability: np.ndarray  # N: max_y p(y|x)


def marginal_of(log_probs: LogProbabilities) -> Marginal:
    """p(y) and the per-image entropies and top-1 classes; exact whole-array values when N <= ROWS_PER_BLOCK."""
    block_marginals, entropies, top1, peaks = [], [], [], []
    for block in log_probs.blocks():
        block_marginals.append(_logsumexp(block, axis=0))
        entropies.append(entropy_with_logs(np.exp(block), block))
        top1.append(top1_classes(block))
        peaks.append(np.max(block, axis=1))
    log_marginal = _logsumexp(np.stack(block_marginals), axis=0) - np.log(log_probs.shape[0])
    return Marginal(log_marginal, np.concatenate(entropies), np.concatenate(top1), np.exp(np.concatenate(peaks)))


def check_matrix(values: np.ndarray, what: str) -> None:
    if values.ndim != 2 or values.shape[1] < 2:
        raise InceptionScoreError(f"expected {what} as N x C with C >= 2, got shape {values.shape}")


def count_non_finite(values: np.ndarray) -> int:
    return int(np.count_nonzero(~np.isfinite(values)))
