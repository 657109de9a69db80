"""Results: frozen dataclasses that say what was computed, from what, and how to compare it.

The entry points on arrays (`inception_score_from_logits`, `fid_from_features`,
`kernel_inception_distance`...) wrap the pure maths of `maths/` into these results.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import InceptionScoreError, InceptionScoreWarning
from .maths.frechet import Moments, frechet_of_moments, moments_of
from .maths.inception import (
    LogProbabilities,
    bootstrap_interval,
    check_matrix,
    count_non_finite,
    distinct_classes,
    entropy_with_logs,
    looks_class_sorted,
    marginal_of,
    split_scores_of,
    top_classes,
    top_share,
)
from .maths.kernel import kid_subset_values

Order = Literal["shuffled", "given"]

ORDERS = ("shuffled", "given")

SMALL_N = 5000  # below this a score is flagged as not comparable to published 50k-image scores


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
    split_size: int | None = None  # protocol "adm": consecutive chunks of this many images (the last may be shorter)
    details: ScoreDetails | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "effective_classes_covered", float(np.exp(self.marginal_entropy)))
        object.__setattr__(self, "effective_classes_per_image", float(np.exp(self.mean_conditional_entropy)))
        object.__setattr__(
            self, "one_split_score", float(np.exp(self.marginal_entropy - self.mean_conditional_entropy))
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes; the per-image `details` are left out."""
        data = dataclasses.asdict(dataclasses.replace(self, details=None))
        del data["details"]
        return data

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

    def save_report(self, path: str | Path, *, source: Any = None, **options: Any) -> Path:
        """Deprecated: use ``inception_score.save_report(result, path, source=...)``, which this calls."""
        return _forward_to_report(self, path, source=source, **options)


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
            f"(--splits {max(n, 1)}), or score more images (50,000 is the convention)"
        )


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
    n, num_classes = log_probs.shape
    _check_options(n, splits, order, bootstrap)
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
    reference: dict[str, Any] | None = None  # catalog reference: name, sha256 and its origin, protocol, N
    feature_space: str | None = None  # the extractor: "inception-2015" FID, "dinov2-vitl14" FD_DINOv2, ...

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    @property
    def name(self) -> str:
        """What the distance is called in its feature space: FID, FD_DINOv2, FD_CLIP."""
        label = space_label(self.feature_space)
        return f"FD_{label}" if label else "FID"

    def summary(self) -> str:
        return (
            f"{self.name} = {self.fid:.4f} ({_count(self.n_a)} vs {_count(self.n_b)} images){_against(self.reference)}"
        )


# Feature spaces other than Inception's, by the prefix of their extractor's name, as papers label them.
SPACE_LABELS = {"dinov2": "DINOv2", "clip": "CLIP"}


def feature_family(feature_space: str | None) -> str | None:
    """The family of an extractor name ("dinov2-vitl14" -> "dinov2", "clip-vit-b-32" -> "clip",
    "inception-2015" and "torchvision" -> "inception"); None for a custom module or an unknown space."""
    if feature_space in ("inception-2015", "torchvision"):
        return "inception"
    prefix = (feature_space or "").split("-")[0]
    return prefix if prefix in SPACE_LABELS else None


def space_label(feature_space: str | None) -> str | None:
    """The label papers give a feature space other than Inception's ("DINOv2", "CLIP"); None for Inception's
    (and a custom module's), whose metrics keep their usual names (FID, KID, precision...)."""
    family = feature_family(feature_space)
    return SPACE_LABELS[family] if family in SPACE_LABELS else None


def space_key(name: str, feature_space: str | None) -> str:
    """A metric's key in a flat dict, suffixed with the feature space when it is not Inception's
    ("precision" -> "precision_dinov2")."""
    family = feature_family(feature_space)
    return f"{name}_{family}" if family in SPACE_LABELS else name


@dataclass(frozen=True)
class CMMDResult:
    """CMMD (Jayasumana et al. 2024): scale x MMD^2 with a Gaussian RBF kernel on embeddings, float64."""

    value: float
    estimator: str  # "min-variance" (the reference's: i = j pairs included) or "unbiased"
    sigma: float
    scale: float
    n_a: int
    n_b: int
    feature_space: str | None = None
    a: str | None = None
    b: str | None = None
    weights_sha256: str | None = None
    reference_weights: bool | None = None
    pipeline_version: str | None = None
    warnings: list[str] = field(default_factory=list)
    world_size: int = 1
    sample_seed: int | None = None
    reference: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        return (
            f"CMMD = {self.value:.4f} ({self.estimator}, sigma {self.sigma:g}, x{self.scale:g}; {self.n_a} vs "
            f"{self.n_b} images, {self.feature_space or 'custom'} features){_against(self.reference)}"
        )


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
    reference: dict[str, Any] | None = None  # catalog reference: name, sha256 and its origin, protocol, N
    feature_space: str | None = None  # the extractor whose features the kernel compares

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    @property
    def name(self) -> str:
        """What the distance is called in its feature space: KID, KD_DINOv2, KD_CLIP (dgm-eval's "kd")."""
        label = space_label(self.feature_space)
        return f"KD_{label}" if label else "KID"

    def summary(self) -> str:
        return (
            f"{self.name} = {self.mean:.6f} ± {self.std:.6f} ({self.subsets} subsets of {self.subset_size}, "
            f"seed {self.seed}; {self.n_a} vs {self.n_b} images){_against(self.reference)}"
        )


def _against(reference: dict[str, Any] | None) -> str:
    """The reference part of a summary line: catalog name, protocol, sha256 (so two users can compare)."""
    if reference is None:
        return ""
    return f" vs reference {reference['catalog_name']} [{reference['protocol']}, sha256 {reference['sha256']}]"


def _count(n: int | None) -> str:
    return "?" if n is None else str(n)


@dataclass(frozen=True)
class SFIDResult:
    """A spatial FID (Nash et al. 2021, as ADM computes it): the Fréchet distance of the 2015 network's
    Mixed_6d.branch1x1 features (first 7 channels, 17 x 17 x 7 = 2023 values in H, W, C order)."""

    sfid: float
    n_a: int | None
    n_b: int | None
    a: str | None = None
    b: str | None = None
    weights_sha256: str | None = None
    reference_weights: bool | None = None
    pipeline_version: str | None = None
    warnings: list[str] = field(default_factory=list)
    world_size: int = 1
    sample_seed: int | None = None
    features: str = "Mixed_6d.branch1x1 after batch norm and ReLU, channels [:7], H x W x C = 17 x 17 x 7 = 2023"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        return f"sFID = {self.sfid:.4f} ({_count(self.n_a)} vs {_count(self.n_b)} images)"


@dataclass(frozen=True)
class RealismDetails:
    """Per-sample arrays (input order), kept out of to_dict(): realism score, inside the reference manifold,
    nearest reference image, and the samples' names when known."""

    scores: np.ndarray
    inside: np.ndarray
    nearest_reference: np.ndarray
    names: list[str] | None = None


@dataclass(frozen=True)
class ManifoldResult:
    """Precision, recall, F-score (Kynkäänniemi et al. 2019, k = 3), density and coverage (Naeem et al. 2020,
    k = 5) and the per-sample realism score, from exact distances between pool3 feature vectors.

    `a` is the samples' side (generated images), `b` the reference (real images).
    """

    precision: float  # share of samples inside some reference image's k-NN ball
    recall: float  # share of reference images inside some sample's k-NN ball
    f_score: float  # 2 P R / max(1e-5, P + R), torch-fidelity's
    density: float
    coverage: float
    metrics: list[str]  # which of "pr", "dc" were asked for (all five numbers are computed together)
    n_a: int
    n_b: int
    k_pr: int = 3
    k_dc: int = 5
    realism: dict[str, Any] = field(default_factory=dict)  # summary: outside_count, median, ...
    a: str | None = None
    b: str | None = None
    weights_sha256: str | None = None
    reference_weights: bool | None = None
    pipeline_version: str | None = None
    warnings: list[str] = field(default_factory=list)
    world_size: int = 1
    sample_seed: int | None = None
    distances: str = "exact: squared Euclidean distances with float64 products of the float32 features"
    details: RealismDetails | None = field(default=None, compare=False, repr=False)
    feature_space: str | None = None  # the extractor whose features the neighbourhoods are taken in

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes; the per-sample `details` are left out."""
        data = dataclasses.asdict(dataclasses.replace(self, details=None))
        del data["details"]
        return data

    def summary(self) -> str:
        parts = []
        if "pr" in self.metrics:
            parts.append(f"precision = {self.precision:.4f}, recall = {self.recall:.4f}, F = {self.f_score:.4f}")
        if "dc" in self.metrics:
            parts.append(f"density = {self.density:.4f}, coverage = {self.coverage:.4f}")
        label = space_label(self.feature_space)
        return f"{'; '.join(parts)} ({f'{label} features, ' if label else ''}{self.n_a} vs {self.n_b} images)"


@dataclass(frozen=True)
class InfinityResult:
    """IS-infinity and FID-infinity (Chong & Forsyth 2020): each metric on seeded random subsets of the
    samples, fitted as value = intercept + slope / n; the intercepts, with the points and the fits' RMS
    residuals. IS is taken with one split on each subset; FID against the whole reference."""

    inception_score_infinity: float
    frechet_inception_distance_infinity: float | None
    inception_score_fit: dict[str, Any]  # Extrapolation.to_dict(): sizes, values, slope, rms_residual, seed
    frechet_inception_distance_fit: dict[str, Any] | None
    n_a: int
    n_b: int | None = None
    a: str | None = None
    b: str | None = None
    weights_sha256: str | None = None
    reference_weights: bool | None = None
    pipeline_version: str | None = None
    warnings: list[str] = field(default_factory=list)
    world_size: int = 1
    sample_seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        fid = self.frechet_inception_distance_infinity
        fid_text = f", FID-infinity = {fid:.4f}" if fid is not None else ""
        sizes = self.inception_score_fit["sizes"]
        return (
            f"IS-infinity = {self.inception_score_infinity:.4f}{fid_text} "
            f"(fit over {len(sizes)} subsets of {sizes[0]} to {sizes[-1]} images)"
        )


def fid_from_moments(a: Moments, b: Moments) -> FIDResult:
    """FID between two sets summarised by their moments (see `frechet_distance`).

    Parameters
    ----------
    a, b
        Mean, covariance (ddof=1) and count of each set.

    Returns
    -------
    FIDResult
    """
    return FIDResult(fid=frechet_of_moments(a, b), n_a=a.n, n_b=b.n)


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray) -> FIDResult:
    """FID between two N x d arrays of feature vectors (pool3 for the standard FID).

    Parameters
    ----------
    features_a, features_b
        N_a x d and N_b x d finite feature vectors (N >= 2 each).

    Returns
    -------
    FIDResult
        The distance in float64, never NaN, with the two counts.
    """
    return fid_from_moments(moments_of(features_a), moments_of(features_b))


def kernel_inception_distance(
    features_a: np.ndarray, features_b: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> KIDResult:
    """KID: unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, over random subsets, in float64.

    Parameters
    ----------
    features_a, features_b
        N_a x d and N_b x d finite feature vectors (at least `subset_size` each).
    subsets, subset_size, seed
        Each round draws `subset_size` rows of a, then of b, without replacement, from one
        ``numpy.random.RandomState(seed)`` (torch-fidelity's order).

    Returns
    -------
    KIDResult
        Mean and population std over the `subsets` rounds.

    Notes
    -----
    torch-fidelity's defaults, and the usual published protocol, are 100 subsets of 1000.
    """
    values = kid_subset_values(features_a, features_b, subsets=subsets, subset_size=subset_size, seed=seed)
    return KIDResult(
        mean=float(np.mean(values)),
        std=float(np.std(values)),
        subsets=int(subsets),
        subset_size=int(subset_size),
        seed=int(seed),
        n_a=len(features_a),
        n_b=len(features_b),
    )


@dataclass(frozen=True)
class Evaluation:
    """The metrics computed together by `evaluate`; those not asked for are None."""

    inception_score: ISResult | None = None
    fid: FIDResult | None = None
    kid: KIDResult | None = None
    sfid: SFIDResult | None = None
    manifold: ManifoldResult | None = None  # precision, recall, F-score, density, coverage, realism
    infinity: InfinityResult | None = None
    protocol: str = "default"
    cmmd: CMMDResult | None = None
    fd_dinov2: FIDResult | None = None  # from a second extractor in the same call (metrics "fd_dinov2", "fd_clip")
    fd_clip: FIDResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """IS fields at the top level (as `inception-score score --json`), FID and KID under "fid" and "kid"
        (and sFID, precision/recall/density/coverage, IS/FID-infinity under "sfid", "manifold", "infinity"
        when computed). For torch-fidelity's flat key names use `metrics_dict()`."""
        out = self.inception_score.to_dict() if self.inception_score else {}
        for name, result in self._named():
            if result is not None:
                out[name] = result.to_dict()
        return out

    def _named(self) -> tuple[tuple[str, Any], ...]:
        return (
            ("fid", self.fid),
            ("kid", self.kid),
            ("sfid", self.sfid),
            ("manifold", self.manifold),
            ("infinity", self.infinity),
            ("cmmd", self.cmmd),
            ("fd_dinov2", self.fd_dinov2),
            ("fd_clip", self.fd_clip),
        )

    def metrics_dict(self) -> dict[str, Any]:
        """One flat dict of the numbers under torch-fidelity's key names where it has the metric
        (`inception_score_mean`, `frechet_inception_distance`, `precision`, ...), ours for the rest
        (`fd_dinov2`, `fd_clip`, `cmmd`, `spatial_frechet_inception_distance`, `density`, `coverage`,
        `inception_score_infinity`, `frechet_inception_distance_infinity`), the protocol, and every full
        result under `details`. In another feature space than Inception's the keys say it: FID is
        `fd_dinov2` / `fd_clip`, KID `kd_dinov2_mean` / `kd_dinov2_std`, precision `precision_dinov2`..."""
        out: dict[str, Any] = {}
        if self.inception_score is not None:
            out["inception_score_mean"] = self.inception_score.mean
            out["inception_score_std"] = self.inception_score.std
        if self.fid is not None:
            label = space_label(self.fid.feature_space)
            out[f"fd_{label.lower()}" if label else "frechet_inception_distance"] = self.fid.fid
        if self.sfid is not None:
            out["spatial_frechet_inception_distance"] = self.sfid.sfid
        if self.kid is not None:
            label = space_label(self.kid.feature_space)
            out[f"kd_{label.lower()}_mean" if label else "kernel_inception_distance_mean"] = self.kid.mean
            out[f"kd_{label.lower()}_std" if label else "kernel_inception_distance_std"] = self.kid.std
        manifold = self.manifold
        if manifold is not None:
            numbers = dict(precision=manifold.precision, recall=manifold.recall, f_score=manifold.f_score)
            numbers = numbers if "pr" in manifold.metrics else {}
            if "dc" in manifold.metrics:
                numbers.update(density=manifold.density, coverage=manifold.coverage)
            out.update((space_key(name, manifold.feature_space), value) for name, value in numbers.items())
        if self.infinity is not None:
            out["inception_score_infinity"] = self.infinity.inception_score_infinity
            if self.infinity.frechet_inception_distance_infinity is not None:
                out["frechet_inception_distance_infinity"] = self.infinity.frechet_inception_distance_infinity
        for name, distance in (("fd_dinov2", self.fd_dinov2), ("fd_clip", self.fd_clip)):
            if distance is not None:
                out[name] = distance.fid
        if self.cmmd is not None:
            out["cmmd"] = self.cmmd.value
        out["protocol"] = self.protocol
        details = {"inception_score": self.inception_score.to_dict()} if self.inception_score else {}
        details.update((name, result.to_dict()) for name, result in self._named() if result is not None)
        out["details"] = details
        return out

    @property
    def warnings(self) -> list[str]:
        """Every warning of every result, once."""
        results = (self.inception_score, *(result for _, result in self._named()))
        return list(dict.fromkeys(w for result in results if result is not None for w in result.warnings))

    def summary(self) -> str:
        results = (self.inception_score, *(result for _, result in self._named()))
        return "\n".join(result.summary() for result in results if result)

    def save_report(self, path: str | Path, *, source: Any = None, **options: Any) -> Path:
        """Deprecated: use ``inception_score.save_report(evaluation, path, source=...)``, which this calls."""
        return _forward_to_report(self, path, source=source, **options)


def _forward_to_report(result: ISResult | Evaluation, path: str | Path, **options: Any) -> Path:
    """The results' old `save_report` methods: a deprecated shortcut to the report layer above this one."""
    warnings.warn(
        "result.save_report(path) is deprecated: use inception_score.save_report(result, path)",
        DeprecationWarning,
        stacklevel=3,
    )
    from .report import save_report  # layering: the one allowed upward import (see tests/test_layers.py)

    return save_report(result, path, **options)
