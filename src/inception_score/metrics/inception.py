"""The Inception Score (Salimans et al. 2016): its declaration, its result, and the entry points on arrays.

IS = exp(E_x KL(p(y|x) || p(y))) over splits of the class logits, in float64 (`maths/inception.py`);
the ADM evaluator's variant takes consecutive chunks of 5,000 images in the given order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import InceptionScoreError, warn
from ..maths.inception import (
    LogProbabilities,
    bootstrap_interval,
    check_matrix,
    count_non_finite,
    distinct_classes,
    entropy_with_logs,
    looks_class_sorted,
    marginal_of,
    split_score,
    split_scores_of,
    top_classes,
    top_share,
)
from ..maths.limits import MAX_BOOTSTRAP
from .base import LOGITS, SMALL_N, Card, Inputs, Metric, Option, Result, seed, whole
from .registry import register_metric

Order = Literal["shuffled", "given"]

ORDERS = ("shuffled", "given")

ADM_SPLIT_SIZE = 5000  # the ADM evaluator's IS: consecutive chunks of 5,000 images, in the given order


@dataclass(frozen=True)
class ScoreDetails:
    """Arrays behind the diagnostics, in input order; kept out of to_dict() so 50k images stay small in JSON."""

    marginal: np.ndarray  # C: p(y), the mean of p(y|x) over all images
    top1_class: np.ndarray  # N: argmax_y p(y|x), the lowest class on ties
    max_probability: np.ndarray  # N: max_y p(y|x)
    names: list[str] | None = None  # N: where each image came from, when known


@dataclass(frozen=True)
class ISResult(Result):
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
    cached: int | None = None  # images whose features came from the feature cache
    skipped: int = 0  # undecodable files left out (on_error="skip")
    skipped_names: list[str] = field(default_factory=list)
    split_size: int | None = None  # protocol "adm": consecutive chunks of this many images (the last may be shorter)
    details: ScoreDetails | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "effective_classes_covered", float(np.exp(self.marginal_entropy)))
        object.__setattr__(self, "effective_classes_per_image", float(np.exp(self.mean_conditional_entropy)))
        object.__setattr__(
            self, "one_split_score", float(np.exp(self.marginal_entropy - self.mean_conditional_entropy))
        )

    @property
    def precision(self) -> str | None:
        """The network's arithmetic (`provenance.arithmetic`): "float32", or "float16+tf32" in fast mode on CUDA."""
        return self.provenance.arithmetic

    def summary(self) -> str:
        """One human line, e.g. `IS = 11.24 ± 0.12 (50000 images, 10 splits, shuffled, reference weights)`."""
        if self.classifier is not None and self.classifier.get("name") != "inception-2015":
            identity = str(self.classifier.get("identity"))
            weights = (
                f"classifier {identity[len('python:') :]}"
                if identity.startswith("python:")
                else f"classifier {self.classifier['name']} {identity[:15]}"
            )
        elif self.reference_weights is None:
            weights = "given logits"
        elif self.reference_weights:
            weights = "reference weights"
        else:
            weights = f"NON-reference weights {(self.weights_sha256 or '')[:8]}"
        approximate = f", {self.precision} (approximate)" if self.precision not in (None, "float32") else ""
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        splits = f"{self.splits} splits, {self.order}"
        if self.split_size is not None:
            splits = (
                f"{self.splits} chunk{'s' if self.splits > 1 else ''} of {self.split_size} in the given order (ADM)"
            )
        return f"IS = {self.mean:.4f} ± {self.std:.4f} ({self.n} images{skipped}, {splits}, {weights}{approximate})"

    def explain(self) -> str:
        """A few lines that split the score into diversity and confidence."""
        interval = ""
        if self.one_split_interval is not None:
            low, high = self.one_split_interval
            interval = f", 95% bootstrap interval {low:.4f} to {high:.4f} ({self.bootstrap_resamples} resamples)"
        return "\n".join(
            [
                f"diversity:  H(y) = {self.marginal_entropy:.4f} nats, {self.effective_classes_covered:.2f} "
                f"effective classes covered of {self.num_classes}; {self.distinct_top1_classes} classes are the "
                f"top-1 of some image; the 10 largest hold {100 * self.top10_share:.1f}% of p(y)",
                f"confidence: E H(y|x) = {self.mean_conditional_entropy:.4f} nats, "
                f"{self.effective_classes_per_image:.2f} effective classes per image (1 = certain)",
                f"one split:  IS = exp(H(y) - E H(y|x)) = {self.effective_classes_covered:.2f} / "
                f"{self.effective_classes_per_image:.2f} = {self.one_split_score:.4f}{interval}",
            ]
        )


def small_sample_warning(n: int) -> str | None:
    """The warning for scores from fewer than SMALL_N images, or None."""
    if n >= SMALL_N:
        return None
    return (
        f"only {n} images: scores from fewer than 50,000 images are biased low "
        "and not comparable to published 50k-image scores"
    )


def sorted_order_warning(given_scores: list[float], shuffled_scores: list[float], one_split: float) -> str:
    return (
        f"split scores in the given order (mean {np.mean(given_scores):.4f}) are far below those of a "
        f"shuffled order (mean {np.mean(shuffled_scores):.4f}; all images as one split: {one_split:.4f}): "
        "the images look sorted by class; use order='shuffled' (--order shuffled)"
    )


def announce(result: ISResult) -> ISResult:
    """Emit each of the result's warnings as an InceptionScoreWarning, attributed to the caller's line."""
    for message in result.warnings:
        warn(message)
    return result


def _check_options(n: int, splits: int, order: str, seed: int, bootstrap: int) -> None:
    """The array entry points' options, checked by the IS declaration's own checks, and N >= splits."""
    given = {"splits": splits, "order": order, "seed": seed, "bootstrap": bootstrap}
    for option in InceptionScoreMetric.options:
        option.check(given[option.name], option.name)
    reason = InceptionScoreMetric().too_few("samples", n, given, "default", frozenset())
    if reason:
        raise InceptionScoreError(reason)


def inception_score_from_log_probabilities(
    log_probs: np.ndarray | LogProbabilities,
    *,
    splits: int = 10,
    order: Order = "shuffled",
    seed: int = 2020,
    bootstrap: int = 0,
) -> ISResult:
    """IS and its diagnostics from N x C log p(y|x) (an array, or LogProbabilities made from logits).

    The other entry points normalise to this. Warnings are returned in the result, not emitted
    (the other entry points emit them). Memory: float64 values of one split (or one block of rows)
    at a time, except for the bootstrap, which resamples all N x C probabilities.
    """
    if not isinstance(log_probs, LogProbabilities):
        log_probs = LogProbabilities(np.asarray(log_probs, dtype=np.float64), from_logits=False)
    _check_options(log_probs.shape[0], splits, order, seed, bootstrap)
    return _score(log_probs, splits=splits, order=order, seed=seed, bootstrap=bootstrap)


def _score(log_probs: LogProbabilities, *, splits: int, order: Order, seed: int, bootstrap: int) -> ISResult:
    """IS and its diagnostics, the options already checked (by the caller or by the engine's request)."""
    n, num_classes = log_probs.shape
    permutation = np.random.RandomState(seed).permutation(n)
    scores = split_scores_of(log_probs, permutation if order == "shuffled" else np.arange(n), splits)
    summary = marginal_of(log_probs)
    marginal = np.exp(summary.log_marginal)
    interval = None
    if bootstrap:
        interval = bootstrap_interval(np.exp(log_probs.rows(slice(None))), resamples=bootstrap, seed=seed)
    result = ISResult(
        mean=float(np.mean(scores)),
        std=float(np.std(scores)),
        split_scores=scores,
        n=n,
        splits=int(splits),
        order=order,
        seed=int(seed) if order == "shuffled" else None,
        marginal_entropy=float(entropy_with_logs(marginal, summary.log_marginal)),
        mean_conditional_entropy=float(np.mean(summary.image_entropies)),
        num_classes=int(num_classes),
        distinct_top1_classes=distinct_classes(summary.top1),
        top10_share=top_share(marginal),
        top_classes=top_classes(marginal, summary.top1),
        one_split_interval=interval,
        bootstrap_resamples=int(bootstrap),
        bootstrap_seed=int(seed) if bootstrap else None,
        details=ScoreDetails(marginal=marginal, top1_class=summary.top1, max_probability=summary.max_probability),
    )
    notes = [small_sample_warning(n)]
    if order == "given" and splits > 1:
        shuffled = split_scores_of(log_probs, permutation, splits)
        if looks_class_sorted(scores, shuffled):
            notes.append(sorted_order_warning(scores, shuffled, result.one_split_score))
    return dataclasses.replace(result, warnings=[note for note in notes if note])


def inception_score_from_logits(
    logits: np.ndarray, *, splits: int = 10, order: Order = "shuffled", seed: int = 2020, bootstrap: int = 0
) -> ISResult:
    """IS from N x C logits (for the 2015 network: pool3 @ fc.weight.T, no bias).

    Parameters
    ----------
    logits
        N x C finite numbers, any float or integer dtype (kept as given: not copied to float64).
    splits
        Number of splits (N >= splits).
    order
        "shuffled": rows permuted with ``RandomState(seed)`` first (torch-fidelity); "given": input order.
    seed
        Seed of the permutation and of the bootstrap.
    bootstrap
        Resamples for a seeded 95% interval of the 1-split score (0: none).

    Returns
    -------
    ISResult
        Its warnings are also emitted as InceptionScoreWarning.

    Notes
    -----
    Softmax is taken in float64 over all classes, one split at a time; the paper's protocol is
    splits=10 on 50,000 images.
    """
    return announce(
        inception_score_from_log_probabilities(
            LogProbabilities.of_logits(logits), splits=splits, order=order, seed=seed, bootstrap=bootstrap
        )
    )


def inception_score_from_probabilities(
    probs: np.ndarray, *, splits: int = 10, order: Order = "shuffled", seed: int = 2020, bootstrap: int = 0
) -> ISResult:
    """IS from N x C class probabilities; each row must be finite, non-negative and sum to 1.

    Parameters
    ----------
    probs
        N x C probabilities (rows summing to 1 within 1e-4).
    splits, order, seed, bootstrap
        As for `inception_score_from_logits`.

    Returns
    -------
    ISResult
    """
    probs = np.asarray(probs, dtype=np.float64)
    check_matrix(probs, "probabilities")
    if not np.all(np.isfinite(probs)):
        raise InceptionScoreError(f"probabilities contain {count_non_finite(probs)} NaN or infinite values")
    if np.any(probs < 0):
        raise InceptionScoreError(f"probabilities contain negative values (min {probs.min():.3g})")
    row_sums = probs.sum(axis=1)
    worst = int(np.argmax(np.abs(row_sums - 1)))
    if abs(row_sums[worst] - 1) > 1e-4:
        raise InceptionScoreError(
            f"probabilities must sum to 1 per image; row {worst} sums to {row_sums[worst]:.6g} "
            "(pass logits to inception_score_from_logits instead)"
        )
    with np.errstate(divide="ignore"):
        log_probs = np.log(probs / row_sums[:, None])
    return announce(
        inception_score_from_log_probabilities(log_probs, splits=splits, order=order, seed=seed, bootstrap=bootstrap)
    )


def check_order(value: Any, label: str) -> None:
    if value not in ORDERS:
        raise InceptionScoreError(f"{label} must be 'shuffled' or 'given', got {value!r}")


def adm_inception_score(log_probs: LogProbabilities, *, bootstrap: int = 0) -> ISResult:
    """IS as the ADM evaluator takes it: consecutive chunks of 5,000 images in the given order (the last
    may be shorter), the mean of the chunks' scores as the headline; diagnostics as for one split."""
    count = log_probs.shape[0]
    result = _score(log_probs, splits=1, order="given", seed=2020, bootstrap=bootstrap)
    scores = [
        split_score(log_probs.rows(np.arange(start, min(start + ADM_SPLIT_SIZE, count))))
        for start in range(0, count, ADM_SPLIT_SIZE)
    ]
    return dataclasses.replace(
        result,
        mean=float(np.mean(scores)),
        std=float(np.std(scores)),
        split_scores=scores,
        splits=len(scores),
        split_size=ADM_SPLIT_SIZE,
    )


class InceptionScoreMetric(Metric):
    """The Inception Score of the samples' class logits (no reference)."""

    order = 10
    name = "is"
    field = "inception_score"
    title = "IS"
    about = "the Inception Score of the samples' class logits (Salimans et al. 2016)"
    aliases = ("inception_score",)
    outputs = ("inception_score_mean", "inception_score_std")
    samples = (LOGITS,)
    options = (
        Option("splits", 10, whole(1), "number of splits; split i is rows [i*N//splits, (i+1)*N//splits)"),
        Option("order", "shuffled", check_order, "shuffled: rows permuted with RandomState(seed) first; given"),
        Option("seed", 2020, seed, "seed of the permutation and of the bootstrap"),
        Option(
            "bootstrap",
            0,
            whole(0, MAX_BOOTSTRAP, "1000 resamples give a 95% interval"),
            "resamples for a 95% interval of the one-split score",
        ),
    )
    result_type = ISResult
    default = True
    in_all = True

    def too_few(self, side: str, count: int, options: Any, protocol: str, parts: frozenset[str]) -> str:
        splits = 1 if protocol == "adm" else options["splits"]
        if count >= max(splits, 1):
            return ""
        if count == 0:
            return "no images to score"
        return (
            f"{count} images cannot be cut into {splits} splits; "
            f"use --splits {count} or fewer, or score more images (50,000 is the convention)"
        )

    def compute(self, inputs: Inputs) -> ISResult:
        samples, options = inputs.samples, inputs.options
        assert samples.logits is not None
        log_probs = LogProbabilities.of_logits(samples.logits)
        if inputs.protocol == "adm":
            result = adm_inception_score(log_probs, bootstrap=options["bootstrap"])
        else:
            result = _score(
                log_probs,
                splits=options["splits"],
                order=options["order"],
                seed=options["seed"],
                bootstrap=options["bootstrap"],
            )
        notes = result.warnings
        if inputs.provenance.feature_space not in ("inception-2015", "torchvision"):
            notes = [note for note in notes if note != small_sample_warning(result.n)]  # no published scores
        assert result.details is not None
        return dataclasses.replace(
            result,
            warnings=list(dict.fromkeys([*inputs.warnings, *notes])),
            provenance=inputs.provenance,
            details=dataclasses.replace(result.details, names=samples.names),
            cached=samples.cached,
            skipped=len(samples.skipped),
            skipped_names=list(samples.skipped),
        )

    def values(self, result: ISResult) -> dict[str, Any]:
        return {"inception_score_mean": result.mean, "inception_score_std": result.std}

    def cards(self, result: ISResult) -> list[Card]:
        classes = result.num_classes
        return [
            Card(
                "mean",
                "Inception Score",
                result.mean,
                f"{result.mean:.4f}",
                f"exp E KL(p(y|x) ‖ p(y)), from 1 to {classes}; higher is better. Published scores use 50,000 "
                "images and 10 splits.",
                spread=result.std,
                spread_key="std",
                detail=f"std over {result.splits} splits",
                group="score",
            ),
            Card(
                "one_split_score",
                "All images as one split",
                result.one_split_score,
                f"{result.one_split_score:.4f}",
                "the score of the whole set at once; the interval shows how much another sample of the same "
                "size could move it.",
                group="score",
            ),
            Card(
                "effective_classes_covered",
                "Diversity: classes covered",
                result.effective_classes_covered,
                f"{result.effective_classes_covered:.2f}",
                f"exp H(y): the images spread over this many classes, as if equally often (max {classes}). "
                "Low means mode collapse.",
                group="diversity",
            ),
            Card(
                "effective_classes_per_image",
                "Confidence: classes per image",
                result.effective_classes_per_image,
                f"{result.effective_classes_per_image:.2f}",
                "exp E H(y|x): how many classes the network hesitates between for a typical image. "
                "1 is certain; high means blurry or unrecognisable images.",
                group="confidence",
            ),
            Card(
                "distinct_top1_classes",
                "Classes seen as top-1",
                result.distinct_top1_classes,
                str(result.distinct_top1_classes),
                f"of {classes}: classes that are the best guess for at least one image.",
                group="diversity",
            ),
            Card(
                "top10_share",
                "Share of the top 10 classes",
                result.top10_share,
                f"{100 * result.top10_share:.1f}%",
                "of the mass of p(y); high means a few classes dominate.",
                group="diversity",
            ),
            Card(
                "n",
                "Images scored",
                result.n,
                str(result.n),
                "50,000 is the convention; fewer give lower, non-comparable scores.",
                group="neutral",
            ),
        ]


register_metric(InceptionScoreMetric())
