"""Plan: what each metric needs of each side, the sides opened and checked before any image is read."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InceptionScoreError
from ..maths.frechet import MomentAccumulator, Moments
from ..maths.kernel import check_kid_options
from ..maths.limits import MAX_BOOTSTRAP, MAX_KID_SUBSETS, check_cost, check_seed, check_whole
from ..options import Options
from ..parallel.group import Group
from ..parallel.sharding import everywhere
from ..pipeline.adm_batch import is_adm_batch, read_adm_statistics
from ..pipeline.extractors import REGISTRY, Classifier
from ..pipeline.references import Resolved, is_catalog_name
from ..pipeline.references import resolve as resolve_reference
from ..pipeline.sources import Source, open_source
from ..pipeline.statistics import (
    Statistics,
    is_statistics_path,
    read_statistics,
    require_features,
)
from ..results import (
    Order,
    feature_family,
)

METRICS = ("is", "fid", "sfid", "kid", "pr", "dc", "inf", "cmmd", "fd_dinov2", "fd_clip")


ALL_METRICS = METRICS[:7]  # "all": the Inception metrics (CMMD is asked for by name, with its extractor)


DEFAULT_METRICS = ("is", "fid", "kid")  # the API's evaluate() default (CLI `evaluate`: all REF can serve)


PROTOCOLS = ("default", "adm")


CMMD_SPACE = "clip-vit-l-14-336"  # CMMD as published (google-research/cmmd)


ADM_SPLIT_SIZE = 5000  # the ADM evaluator's IS: consecutive chunks of 5,000 images, in the given order


# What a metric needs of the samples' side and of its reference side (None: it has no reference).
NEEDS: dict[str, tuple[frozenset[str], frozenset[str] | None]] = {
    "is": (frozenset({"logits"}), None),
    "fid": (frozenset({"moments"}), frozenset({"moments"})),
    "sfid": (frozenset({"spatial_moments"}), frozenset({"spatial_moments"})),
    "kid": (frozenset({"features"}), frozenset({"features"})),
    "pr": (frozenset({"features"}), frozenset({"features"})),
    "dc": (frozenset({"features"}), frozenset({"features"})),
    "inf": (frozenset({"logits", "features"}), frozenset({"moments"})),
    "cmmd": (frozenset({"features"}), frozenset({"features"})),
    "fd_dinov2": (frozenset({"moments"}), frozenset({"moments"})),
    "fd_clip": (frozenset({"moments"}), frozenset({"moments"})),
}


# Metrics that name their feature space, and the registry extractor each runs on by default when the
# options' classifier is not of that space (run in the same pass over the images; Request.extractors chooses).
SPACE_METRICS = {"fd_dinov2": "dinov2-vitl14", "fd_clip": "clip-vit-b-32", "cmmd": "clip-vit-l-14-336"}


REFERENCED = tuple(metric for metric in METRICS if NEEDS[metric][1] is not None)


OUTPUT_OF_NEED = {
    "logits": "logits",
    "moments": "features",
    "features": "features",
    "spatial_moments": "spatial",
}


METRIC_NAMES = {
    "fid": "FID",
    "sfid": "sFID",
    "kid": "KID",
    "pr": "precision/recall",
    "dc": "density/coverage",
    "inf": "FID-infinity",
    "cmmd": "CMMD",
    "fd_dinov2": "FD_DINOv2",
    "fd_clip": "FD_CLIP",
}


@dataclass(frozen=True)
class Request:
    """Which metrics, against what, with which metric options."""

    metrics: frozenset[str]
    references: dict[str, Any] = field(default_factory=dict)  # metric -> reference side
    splits: int = 10
    order: Order = "shuffled"
    seed: int = 2020
    bootstrap: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_seed: int = 2020
    protocol: str = "default"  # "adm": the ADM evaluator's conventions (see docs/paper-table.md)
    infinity_points: int = 15
    infinity_seed: int = 2020
    automatic: bool = False  # metrics were not chosen: leave out those the inputs cannot serve
    extractors: dict[str, str] = field(default_factory=dict)  # "fd_dinov2" / "fd_clip" / "cmmd" -> registry name

    def __post_init__(self) -> None:
        for metric, name in self.extractors.items():
            if metric not in SPACE_METRICS or name not in REGISTRY or "features" not in REGISTRY[name].outputs:
                raise InceptionScoreError(
                    f"extractors maps {', '.join(SPACE_METRICS)} to a registry extractor name; got {metric!r}: {name!r}"
                )
            if metric != "cmmd" and feature_family(name) != feature_family(SPACE_METRICS[metric]):
                raise InceptionScoreError(f"{metric} is computed on {metric[3:]} features, not on {name}'s")
        check_whole(self.splits, "splits (--splits)", 1)
        check_whole(self.bootstrap, "bootstrap (--bootstrap)", 0)
        check_whole(self.kid_subsets, "kid_subsets (--kid-subsets)", 1)
        check_whole(self.kid_subset_size, "kid_subset_size (--kid-subset-size)", 2)
        if self.order not in ("shuffled", "given"):
            raise InceptionScoreError(f"order must be 'shuffled' or 'given' (--order), got {self.order!r}")
        check_seed(self.seed, "seed (--seed)")
        check_seed(self.kid_seed, "kid_seed (--kid-seed)")
        check_cost(self.bootstrap, MAX_BOOTSTRAP, "bootstrap (--bootstrap)", "1000 resamples give a 95% interval")
        check_cost(self.kid_subsets, MAX_KID_SUBSETS, "kid_subsets (--kid-subsets)", "100 is the convention")


@dataclass
class Side:
    """One distinct input, what the metrics need from it, and what was extracted."""

    value: Any
    description: str
    source: Source | None = None
    statistics: Statistics | None = None
    needs: set[str] = field(default_factory=set)  # "logits", "moments", "features", "spatial_moments"
    logits: np.ndarray | None = None
    moments: Moments | None = None
    accumulator: MomentAccumulator | None = None
    features: np.ndarray | None = None
    spatial_moments: Moments | None = None
    spatial_accumulator: MomentAccumulator | None = None
    file_statistics: dict[str, np.ndarray] = field(default_factory=dict)  # an ADM batch's mu, sigma, mu_s, sigma_s
    from_file: tuple[str, ...] = ()  # moments taken from the file's statistics (protocol "adm")
    cached: int = 0
    precision: str | None = None
    corrupt_cache_entries: int = 0
    names: list[str] | None = None
    skipped: list[str] = field(default_factory=list)
    reference: Resolved | None = None  # the catalog entry this side was resolved from
    cache_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the results should say about this side

    @property
    def count(self) -> int | None:
        """Number of images (for a statistics file: its stored n, or its number of stored features);
        None for a stream not read yet."""
        if self.source is not None:
            return len(self.names) if self.names is not None else self.source.total
        assert self.statistics is not None
        if "features" in self.needs and self.statistics.has_features:
            return self.statistics.features_shape[0]  # type: ignore[index]  # has_features: a shape
        return self.statistics.n


def check_metrics(metrics: Any) -> frozenset[str]:
    if metrics == "all":
        return frozenset(ALL_METRICS)
    if isinstance(metrics, str):
        metrics = tuple(part.strip() for part in metrics.split(","))
    if not isinstance(metrics, (tuple, list, set, frozenset)):
        raise InceptionScoreError(f"metrics must be a non-empty choice of {', '.join(METRICS)}; got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InceptionScoreError(
            f"metrics must be a non-empty choice of {', '.join(METRICS)} (or 'all'); got {metrics!r}"
        )
    return frozenset(metrics)


def check_protocol(protocol: Any) -> str:
    if protocol not in PROTOCOLS:
        raise InceptionScoreError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    return str(protocol)


def extractor_of(metric: str, request: Request, options: Options) -> str | None:
    """The registry extractor a metric needs beyond the options' classifier (None: the options' own)."""
    if metric not in SPACE_METRICS:
        return None
    chosen, spec = request.extractors.get(metric, SPACE_METRICS[metric]), options.classifier
    if spec == chosen:
        return None
    if metric in request.extractors:
        return chosen
    if metric == "cmmd":
        return chosen if spec is None else None  # CMMD on the given classifier's features, else CLIP's
    mine = feature_family(_named_space(options))  # a Classifier object counts by its name
    return None if mine == feature_family(chosen) else chosen


def pass_inputs(
    request: Request, metrics: set[str], options: Options, spec: str | None, *, only: bool
) -> tuple[Request, Options]:
    """One extractor's request and options: its metrics under the engine's names (fd_dinov2 and fd_clip
    are FIDs), and for another registry extractor than the options' classifier, its own input contract."""
    names = {metric: "fid" if metric.startswith("fd_") else metric for metric in metrics}
    references = dict(request.references)
    for metric, name in names.items():
        if metric != name and metric in request.references and (name not in metrics or name not in references):
            references[name] = request.references[metric]
    renamed = frozenset(names.values())
    references = {metric: value for metric, value in references.items() if metric in renamed}
    if spec is not None:
        options = options_for(options, spec, weights=options.weights if only else None)
    return dataclasses.replace(request, metrics=renamed, references=references), options


def options_for(options: Options, spec: str, *, weights: Any = None) -> Options:
    """The options for registry extractor `spec` beside the options' own: its contract, these weights
    (None: its environment variable, the cache or a download), the rest (device, batches...) shared."""
    return dataclasses.replace(
        options, classifier=spec, weights=weights, input_size=None, resize=None, normalize=None, channels=None
    )


@dataclass
class Pass:
    """One extractor's part of an evaluation: its sides (the main one first), extractor and request."""

    sides: list[Side]
    main: Side
    classifier: Classifier | None
    request: Request
    options: Options


def plan_pass(source: Any, request: Request, options: Options, group: Group | None) -> Pass:
    """The sides of `request` with what each needs of the options' extractor, checked before any image is read;
    the extractor loaded (under torch.distributed, by rank 0 first, which may download it)."""

    def plan() -> tuple[list[Side], Side, Request]:
        sides: dict[Any, Side] = {}
        main = side_of(sides, source, set(), options, group, num_samples=options.num_samples)
        planned = _servable(request, main, sides, options, group) if request.automatic else request
        for metric in sorted(planned.metrics):
            mine, theirs = NEEDS[metric]
            reference = planned.references.get(metric)
            if metric == "inf" and reference is None:
                mine = frozenset({"logits"})  # IS-infinity alone
            side_of(sides, source, set(mine), options, group)  # the main side, its needs checked
            if theirs is not None and reference is not None:
                side_of(sides, reference, set(theirs), options, group)
        _take_file_statistics(sides, planned)
        _check_before_pass(main, sides, planned)
        check_feature_spaces(list(sides.values()), _named_space(options))
        return list(sides.values()), main, planned

    # a catalog name may be downloaded while planning: rank 0 first, the others then find it in the cache
    named = any(is_catalog_name(value) for value in (source, *request.references.values()))
    sides, main, request = everywhere(group, plan, main_first=named)
    classifier = everywhere(group, lambda: load_extractor_for(sides, options), main_first=True)
    return Pass(sides, main, classifier, request, options)


def key_of(value: Any) -> Any:
    """Equal keys for the same input given twice (same path, or the same object)."""
    if isinstance(value, (str, os.PathLike)):
        return ("path", str(Path(value).resolve()))
    return ("object", id(value))


def side_of(
    sides: dict[Any, Side],
    value: Any,
    needs: set[str],
    options: Options,
    group: Group | None,
    *,
    num_samples: int | None = None,
) -> Side:
    key = key_of(value)
    if key not in sides and is_catalog_name(value):
        resolved = resolve_reference(
            value,
            progress=options.progress,
            allow_other_protocol=options.allow_other_protocol,
            space=_named_space(options),
        )
        sides[key] = side_of({}, resolved.path, set(), options, group, num_samples=num_samples)
        sides[key].value, sides[key].reference = value, resolved  # found again by its name
        sides[key].description = f"reference {resolved.entry.name} ({sides[key].description})"
    if key not in sides:
        if is_adm_batch(value):  # images streamed from arr_0, and maybe the evaluator's statistics
            source = _open(value, options, num_samples=None, distributed=group is not None)
            sides[key] = Side(value, source.description, source=source, file_statistics=read_adm_statistics(value))
        elif is_statistics_path(value):
            statistics = read_statistics(value)
            sides[key] = Side(value, f"statistics {statistics.path}", statistics=statistics)
        else:
            source = _open(value, options, num_samples=num_samples, distributed=group is not None)
            sides[key] = Side(value, source.description, source=source)
    side = sides[key]
    side.needs |= needs
    if side.statistics is not None and "logits" in side.needs:
        raise InceptionScoreError(
            f"{side.description} holds statistics, not images: it can be the reference of FID, sFID, KID, "
            "precision/recall and density/coverage, but it has no IS (give the images)"
        )
    return side


def _servable(request: Request, main: Side, sides: dict[Any, Side], options: Options, group: Group | None) -> Request:
    """The request with the metrics its inputs cannot serve left out (metrics were not chosen by the user)."""
    spatial = _gives_spatial(options)
    kept = set()
    for metric in request.metrics:
        reference = request.references.get(metric)
        if NEEDS[metric][1] is not None and reference is None and metric != "inf":
            continue
        if main.statistics is not None and metric in ("is", "inf"):
            continue
        if metric == "sfid" and not spatial:
            continue
        if metric in ("is", "inf") and not _gives_logits(options):
            continue
        if reference is not None and NEEDS[metric][1] is not None:
            side = side_of(sides, reference, set(), options, group)
            if side.statistics is not None and not _file_serves(side.statistics, metric):
                continue
        kept.add(metric)
    if "kid" in kept:
        counts = [main.count] + [side_of(sides, request.references["kid"], set(), options, group).count]
        if any(count is not None and count < request.kid_subset_size for count in counts):
            kept.discard("kid")  # the default subsets of 1000 need 1000 images a side
    if not kept:
        raise InceptionScoreError(f"{main.description}: none of the metrics {', '.join(METRICS)} can be computed here")
    return dataclasses.replace(request, metrics=frozenset(kept), automatic=False)


def _gives_logits(options: Options) -> bool:
    """Whether the extractor the options name gives class logits (a registry feature network does not)."""
    spec = options.classifier
    if isinstance(spec, str) and spec in REGISTRY:
        return "logits" in REGISTRY[spec].outputs
    return not isinstance(spec, Classifier) or "logits" in spec.outputs


def _gives_spatial(options: Options) -> bool:
    """Whether the extractor the options name gives sFID's spatial features (without loading it)."""
    spec = options.classifier
    if spec is None or spec == "inception-2015":
        return True
    return isinstance(spec, Classifier) and "spatial" in spec.outputs


def _file_serves(statistics: Statistics, metric: str) -> bool:
    if metric in ("kid", "pr", "dc", "cmmd"):
        return statistics.has_features
    if metric == "sfid":
        return statistics.has_spatial
    return True


def _take_file_statistics(sides: dict[Any, Side], request: Request) -> None:
    """An ADM batch's own mu/sigma and mu_s/sigma_s win over computing them from its images: under protocol
    "adm" (as the evaluator does), and for a catalog reference (its published whole-dataset statistics)."""
    for side in sides.values():
        if request.protocol != "adm" and side.reference is None:
            kept = [mean for need, mean in (("moments", "mu"), ("spatial_moments", "mu_s")) if need in side.needs]
            if any(mean in side.file_statistics for mean in kept):
                side.notes.append(
                    f"{side.description} holds the ADM evaluator's own statistics, which the default protocol does "
                    "not use: they are computed again from its images with this package's pipeline; "
                    "--protocol adm (protocol='adm') uses the file's, as the evaluator does"
                )
            continue
        for need, (mean, covariance) in (("moments", ("mu", "sigma")), ("spatial_moments", ("mu_s", "sigma_s"))):
            if need in side.needs and mean in side.file_statistics:
                moments = Moments(side.file_statistics[mean], side.file_statistics[covariance], None)
                setattr(side, need, moments)
                side.needs.discard(need)
                side.from_file += (mean, covariance)


def _open(value: Any, options: Options, *, num_samples: int | None, distributed: bool) -> Source:
    """An image side opened with the input options; under torch.distributed, streams are refused.

    A callable source (kind "sampler") can draw any count: each rank draws its share with its own
    seed (sharding.shard_of). A stream can only be read whole, by one process.
    """
    source = open_source(
        value,
        npz_key=options.npz_key,
        value_range=options.value_range,
        layout=options.layout,
        num_samples=num_samples,
        batch_size=options.batch_size,
    )
    if distributed and source.kind == "stream":
        raise InceptionScoreError(
            f"{source.description}: a generator or iterable cannot be split over torch.distributed ranks (every "
            "rank would read the same images); give a callable sample(batch_size) with num_samples (each rank "
            "draws its share with seed sample_seed + rank), score in one process (distributed=False), or save "
            "the images and score the files"
        )
    return source


def _check_before_pass(main: Side, sides: dict[Any, Side], request: Request) -> None:
    """Errors that need no features are raised before the (long) forward pass."""
    count = main.source.total if main.source is not None else None
    splits = request.splits
    if "is" in request.metrics and isinstance(splits, int) and count is not None and count < splits:
        raise InceptionScoreError(
            f"{main.description}: {count} images cannot be cut into {splits} splits; "
            f"use --splits {count} or fewer, or score more images (50,000 is the convention)"
        )
    for metric in ("kid", "pr", "dc", "sfid", "cmmd"):
        if metric in request.metrics:
            for side in (main, sides[key_of(request.references[metric])]):
                if side.statistics is not None:
                    _require(side.statistics, metric)
    if "kid" not in request.metrics:
        return
    kid_side = sides[key_of(request.references["kid"])]
    if main.count is not None and kid_side.count is not None:  # else a stream: checked once read
        check_kid_options(main.count, kid_side.count, subsets=request.kid_subsets, subset_size=request.kid_subset_size)


def _require(statistics: Statistics, metric: str) -> None:
    """A clear refusal when a statistics file lacks what `metric` needs, naming the option that writes it."""
    if metric == "sfid" and not statistics.has_spatial:
        raise InceptionScoreError(
            f"{statistics.path} has no spatial statistics (mu_s, sigma_s), which sFID needs: write it again with "
            "'inception-score stats SOURCE -o FILE.npz' (save_statistics; the inception-2015 network writes them), "
            "give the reference images, or leave sfid out of --metrics"
        )
    if metric != "sfid":
        require_features(statistics, METRIC_NAMES[metric])


def load_extractor_for(sides: list[Side], options: Options) -> Classifier | None:
    """The extractor for the image sides (None if every side is a statistics file), checked to give what they need."""
    images = [side for side in sides if side.source is not None and side.needs]  # sides whose images are read
    if not images:
        return None
    classifier = options.load_extractor()
    needed = {OUTPUT_OF_NEED[need] for side in images for need in side.needs}
    missing = sorted(needed - set(classifier.outputs))
    if "spatial" in missing:
        raise InceptionScoreError(
            f"classifier {classifier.identity} does not give sFID's spatial features (the 2015 network's "
            "Mixed_6d.branch1x1 output): use the default classifier inception-2015 (--classifier inception-2015), "
            "or leave sfid out of --metrics"
        )
    if missing:
        raise InceptionScoreError(
            f"classifier {classifier.identity} gives {' and '.join(classifier.outputs)} but not {', '.join(missing)}: "
            + (
                "FID and KID need feature vectors: return (logits, features) from forward, or declare the order "
                "with an `outputs` attribute such as ('logits', 'features')"
                if "features" in missing
                else "the Inception Score needs class logits"
            )
        )
    return classifier


def feature_space_of(sides: list[Side], classifier: Classifier | None) -> str | None:
    """The feature space of a comparison: the extractor's name, else the one its statistics files name."""
    if classifier is not None:
        return classifier.name
    named = [side.statistics.extractor for side in sides if side.statistics is not None and side.statistics.extractor]
    return named[0] if named else None


def _named_space(options: Options) -> str:
    """The feature space the options' extractor gives, known before it is loaded (custom modules: "python")."""
    spec = options.classifier
    if spec is None or (isinstance(spec, str) and spec in REGISTRY):
        return spec or "inception-2015"
    return spec.name if isinstance(spec, Classifier) else "python"


def check_feature_spaces(sides: list[Side], space: str | None) -> None:
    """Refuse to compare features of different spaces (Inception, DINOv2, CLIP, or two variants of one),
    before any image is read; `space`: the extractor's (ignored when every side is a statistics file)."""
    files = [side for side in sides if side.statistics is not None and side.statistics.extractor is not None]
    images = any(side.source is not None and side.needs for side in sides)
    spaces = ([(space, "the images' features")] if space is not None and images else []) + [
        (side.statistics.extractor, side.description) for side in files if side.statistics is not None
    ]
    known = [(space, what) for space, what in spaces if feature_family(space) not in (None, "inception")]
    for space, what in known:
        for other, other_what in spaces:
            if other != space and (feature_family(other) is not None or other in ("torchscript", "python")):
                raise InceptionScoreError(
                    f"{what} are in the {space} feature space but {other_what} in the {other} space: distances "
                    f"between different feature spaces are meaningless. Compute both with the same extractor "
                    f"(--classifier {space}, or write the statistics again with it); in one evaluate call, "
                    "--ref-for METRIC=REF (reference_for=) gives a metric a reference of its own space"
                )
