"""Inception Score from logits or class probabilities: pure numpy, float64, never NaN.

IS = exp(E_x KL(p(y|x) || p(y))), computed per split and reported as mean and population std.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import InceptionScoreError, InceptionScoreWarning

Order = Literal["shuffled", "given"]
ORDERS = ("shuffled", "given")
SMALL_N = 5000  # below this a score is flagged as not comparable to published 50k-image scores
TOP_SHARE_CLASSES = 10
TOP_CLASSES_IN_DICT = 10
SORTED_RELATIVE_DROP = 0.10  # given-order split scores this far below a random order's...
SORTED_NOISE_MULTIPLE = 3.0  # ...and beyond this many standard errors look class-sorted


@dataclass(frozen=True)
class ScoreDetails:
    """Arrays behind the diagnostics, in input order; kept out of to_dict() so 50k images stay small in JSON."""

    marginal: np.ndarray  # C: p(y), the mean of p(y|x) over all images
    top1_class: np.ndarray  # N: argmax_y p(y|x), the lowest class on ties
    max_probability: np.ndarray  # N: max_y p(y|x)
    names: list[str] | None = None  # N: where each image came from, when known


@dataclass(frozen=True)
class ISResult:
    """An Inception Score with everything needed to reproduce, compare and explain it."""

    mean: float
    std: float
    split_scores: list[float]
    n: int
    splits: int
    order: str
    seed: int | None
    marginal_entropy: float  # H(y) in nats, all images
    mean_conditional_entropy: float  # E_x H(y|x) in nats
    effective_classes_covered: float = field(init=False)  # exp H(y): diversity
    effective_classes_per_image: float = field(init=False)  # exp E H(y|x): 1 = fully confident
    one_split_score: float = field(init=False)  # exp(H(y) - E H(y|x)): IS of all images as one split
    num_classes: int = 0
    distinct_top1_classes: int = 0  # classes that are the top-1 of at least one image
    top10_share: float = 0.0  # share of p(y) held by its 10 largest classes
    top_classes: list[dict[str, Any]] = field(default_factory=list)
    one_split_interval: list[float] | None = None  # bootstrap 95% interval of one_split_score
    bootstrap_resamples: int = 0
    bootstrap_seed: int | None = None
    weights_sha256: str | None = None
    reference_weights: bool | None = None
    world_size: int = 1  # processes (torch.distributed ranks) that extracted the features
    warnings: list[str] = field(default_factory=list)
    precision: str | None = None  # "float32" (exact), or "float16+tf32" when fast mode ran on CUDA
    cached: int | None = None  # images whose features came from the feature cache
    classifier: dict[str, Any] | None = None  # name, identity, input contract, logits (classifier.describe())
    skipped: int = 0  # undecodable files left out (on_error="skip")
    skipped_names: list[str] = field(default_factory=list)
    sample_seed: int | None = None  # a callable's draws: global generators seeded with sample_seed + rank
    details: ScoreDetails | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "effective_classes_covered", float(np.exp(self.marginal_entropy)))
        object.__setattr__(self, "effective_classes_per_image", float(np.exp(self.mean_conditional_entropy)))
        object.__setattr__(self, "one_split_score",
                           float(np.exp(self.marginal_entropy - self.mean_conditional_entropy)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes; the per-image `details` are left out."""
        data = dataclasses.asdict(dataclasses.replace(self, details=None))
        del data["details"]
        return data

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
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return (f"IS = {self.mean:.4f} ± {self.std:.4f} "
                f"({self.n} images{skipped}, {self.splits} splits, {self.order}, {weights}{approximate})")

    def explain(self) -> str:
        """A few lines that split the score into diversity and confidence."""
        interval = ""
        if self.one_split_interval is not None:
            low, high = self.one_split_interval
            interval = f", 95% bootstrap interval {low:.4f} to {high:.4f} ({self.bootstrap_resamples} resamples)"
        return "\n".join([
            f"diversity:  H(y) = {self.marginal_entropy:.4f} nats, {self.effective_classes_covered:.2f} "
            f"effective classes covered of {self.num_classes}; {self.distinct_top1_classes} classes are the "
            f"top-1 of some image; the 10 largest hold {100 * self.top10_share:.1f}% of p(y)",
            f"confidence: E H(y|x) = {self.mean_conditional_entropy:.4f} nats, "
            f"{self.effective_classes_per_image:.2f} effective classes per image (1 = certain)",
            f"one split:  IS = exp(H(y) - E H(y|x)) = {self.effective_classes_covered:.2f} / "
            f"{self.effective_classes_per_image:.2f} = {self.one_split_score:.4f}{interval}",
        ])

    def save_report(self, path: str | Path, *, source: Any = None, **options: Any) -> Path:
        """Write a self-contained HTML report (needs matplotlib: `pip install 'inception-score[report]'`).

        `source` is what was scored, for thumbnails; other options go to `report.save_report`.
        """
        from .report import save_report
        return save_report(self, path, source=source, **options)


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


def entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in nats of each distribution along the last axis (0 log 0 = 0), float64."""
    probs = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return _entropy(probs, np.log(probs))


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


def split_scores(log_probs: np.ndarray, probs: np.ndarray, row_order: np.ndarray, splits: int) -> list[float]:
    """exp(mean KL(p(y|x) || p_split(y))) of each split; split i is rows row_order[i*N//splits:(i+1)*N//splits]."""
    n = len(row_order)
    scores = []
    for i in range(splits):
        rows = row_order[i * n // splits:(i + 1) * n // splits]
        split_log_probs, split_probs = log_probs[rows], probs[rows]
        log_marginal = _logsumexp(split_log_probs, axis=0) - np.log(len(rows))
        with np.errstate(invalid="ignore"):  # classes with p = 0 contribute exactly 0
            kl_terms = np.where(split_probs > 0, split_probs * (split_log_probs - log_marginal), 0.0)
        scores.append(float(np.exp(np.mean(np.sum(kl_terms, axis=1)))))
    return scores


def bootstrap_interval(probs: np.ndarray, *, resamples: int = 1000, seed: int = 2020,
                       level: float = 0.95) -> list[float]:
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
        scores[start:start + rows] = np.exp(entropy(weights @ probs) - weights @ image_entropies)
    tail = 100 * (1 - level) / 2
    return [float(value) for value in np.percentile(scores, [tail, 100 - tail])]


def looks_class_sorted(given_scores: list[float], shuffled_scores: list[float]) -> bool:
    """Whether split scores in the given order are far below those of a random order of the same images.

    Far: more than 10% lower on average and beyond 3 standard errors of that average.
    """
    given, shuffled = float(np.mean(given_scores)), float(np.mean(shuffled_scores))
    standard_error = float(np.std(shuffled_scores)) * np.sqrt(2 / len(given_scores))
    return (given < (1 - SORTED_RELATIVE_DROP) * shuffled
            and shuffled - given > SORTED_NOISE_MULTIPLE * standard_error)


def small_sample_warning(n: int) -> str | None:
    """The warning for scores from fewer than SMALL_N images, or None."""
    if n >= SMALL_N:
        return None
    return (f"only {n} images: scores from fewer than 50,000 images are biased low "
            "and not comparable to published 50k-image scores")


def sorted_order_warning(given_scores: list[float], shuffled_scores: list[float], one_split: float) -> str:
    return (f"split scores in the given order (mean {np.mean(given_scores):.4f}) are far below those of a "
            f"shuffled order (mean {np.mean(shuffled_scores):.4f}; all images as one split: {one_split:.4f}): "
            "the images look sorted by class; use order='shuffled' (--order shuffled)")


def announce(result: ISResult, stacklevel: int = 3) -> ISResult:
    """Emit each of the result's warnings as an InceptionScoreWarning (printed on stderr by default)."""
    for message in result.warnings:
        warnings.warn(message, InceptionScoreWarning, stacklevel=stacklevel)
    return result


def _check_options(n: int, splits: int, order: str, bootstrap: int) -> None:
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or splits < 1:
        raise InceptionScoreError(f"splits must be a positive integer, got {splits!r}")
    if order not in ORDERS:
        raise InceptionScoreError(f"order must be 'shuffled' or 'given', got {order!r}")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise InceptionScoreError(f"bootstrap must be a number of resamples >= 0 (e.g. 1000), got {bootstrap!r}")
    if n < splits:
        raise InceptionScoreError(
            f"{n} images cannot be cut into {splits} splits: use splits <= {n} "
            f"(--splits {max(n, 1)}), or score more images (50,000 is the convention)")


def inception_score_from_log_probabilities(log_probs: np.ndarray, *, splits: int = 10,
                                           order: Order = "shuffled", seed: int = 2020,
                                           bootstrap: int = 0) -> ISResult:
    """IS and its diagnostics from an N x C array of log p(y|x); the other entry points normalise to this.

    Warnings are returned in the result, not emitted (the other entry points emit them).
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    n = log_probs.shape[0]
    _check_options(n, splits, order, bootstrap)
    probs = np.exp(log_probs)
    permutation = np.random.RandomState(seed).permutation(n)
    scores = split_scores(log_probs, probs, permutation if order == "shuffled" else np.arange(n), splits)
    log_marginal = _logsumexp(log_probs, axis=0) - np.log(n)
    marginal = np.exp(log_marginal)
    top1 = top1_classes(log_probs)
    result = ISResult(
        mean=float(np.mean(scores)), std=float(np.std(scores)),
        split_scores=scores, n=n, splits=int(splits), order=order,
        seed=int(seed) if order == "shuffled" else None,
        marginal_entropy=float(_entropy(marginal, log_marginal)),
        mean_conditional_entropy=float(np.mean(_entropy(probs, log_probs))),
        num_classes=int(log_probs.shape[1]), distinct_top1_classes=distinct_classes(top1),
        top10_share=top_share(marginal), top_classes=top_classes(marginal, top1),
        one_split_interval=bootstrap_interval(probs, resamples=bootstrap, seed=seed) if bootstrap else None,
        bootstrap_resamples=int(bootstrap), bootstrap_seed=int(seed) if bootstrap else None,
        details=ScoreDetails(marginal=marginal, top1_class=top1, max_probability=np.exp(np.max(log_probs, axis=1))))
    notes = [small_sample_warning(n)]
    if order == "given" and splits > 1:
        shuffled = split_scores(log_probs, probs, permutation, splits)
        if looks_class_sorted(scores, shuffled):
            notes.append(sorted_order_warning(scores, shuffled, result.one_split_score))
    return dataclasses.replace(result, warnings=[note for note in notes if note])


def log_probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """Validated N x C logits -> float64 log-softmax."""
    logits = np.asarray(logits, dtype=np.float64)
    _check_matrix(logits, "logits")
    if not np.all(np.isfinite(logits)):
        raise InceptionScoreError(f"logits contain {_count_bad(logits)} NaN or infinite values")
    return log_softmax(logits)


def inception_score_from_logits(logits: np.ndarray, *, splits: int = 10, order: Order = "shuffled",
                                seed: int = 2020, bootstrap: int = 0) -> ISResult:
    """IS from N x C logits (for the 2015 network: pool3 @ fc.weight.T, no bias).

    Notes: softmax is taken in float64 over all classes; the paper's protocol is splits=10
    on 50,000 images; order="given" splits in input order like the paper's code, "shuffled"
    first permutes rows with RandomState(seed) like torch-fidelity. bootstrap=1000 adds a
    seeded 95% interval for the 1-split score. Warnings go to the result and to `warnings`.
    """
    return announce(inception_score_from_log_probabilities(
        log_probabilities_from_logits(logits), splits=splits, order=order, seed=seed, bootstrap=bootstrap))


def inception_score_from_probabilities(probs: np.ndarray, *, splits: int = 10, order: Order = "shuffled",
                                       seed: int = 2020, bootstrap: int = 0) -> ISResult:
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
    return announce(inception_score_from_log_probabilities(
        log_probs, splits=splits, order=order, seed=seed, bootstrap=bootstrap))


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
    world_size: int = 1  # processes (torch.distributed ranks) that extracted the features
    sample_seed: int | None = None  # a callable side's draws: seeded with sample_seed + rank

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
    world_size: int = 1  # processes (torch.distributed ranks) that extracted the features
    sample_seed: int | None = None  # a callable side's draws: seeded with sample_seed + rank

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
        rows = None
        if self._rows is not None:
            rows = np.concatenate(self._rows) if self._rows else np.zeros((0, len(self._shift)))
        return self._sum, self._outer, rows

    @classmethod
    def from_sums(cls, n: int, shift: np.ndarray, total: np.ndarray, outer: np.ndarray,
                  rows: np.ndarray | None = None) -> MomentAccumulator:
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
