"""The engine: plan -> extract -> reduce -> results, under every front (API, metric object, CLI).

Plan: each requested metric says what it needs of each side (IS: class logits; FID: the mean
and covariance of feature vectors; KID, precision/recall, density/coverage: the feature vectors
themselves; sFID: the mean and covariance of the spatial features; IS-infinity/FID-infinity: the
samples' logits and feature vectors), and the extractor (or the reference file) must provide it.
Extract: one pass per distinct image side, asking the extractor for exactly that.
Reduce: in one process, or over torch.distributed ranks, through the same code (rows gathered
to rank 0 in input order, moments summed). Results: frozen dataclasses, built on rank 0 and
given to every rank.
"""

from __future__ import annotations

import dataclasses
import os
import warnings as python_warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InceptionScoreError, InceptionScoreWarning
from .maths.cmmd import SCALE as CMMD_SCALE
from .maths.cmmd import SIGMA as CMMD_SIGMA
from .maths.cmmd import cmmd
from .maths.extrapolation import extrapolate
from .maths.frechet import MomentAccumulator, Moments, frechet_of_moments, moments_of
from .maths.inception import LogProbabilities, split_score
from .maths.kernel import check_kid_options
from .maths.limits import MAX_BOOTSTRAP, MAX_KID_SUBSETS, check_cost, check_seed, check_whole
from .maths.neighbours import manifold_metrics
from .options import Options
from .parallel.group import Group
from .parallel.launch import join
from .parallel.sharding import check_same_inputs, draw_seed, everywhere, on_main, shard_of
from .pipeline.adm_batch import is_adm_batch, read_adm_statistics
from .pipeline.cache import FeatureCache
from .pipeline.extract import PIPELINE_VERSION, Features, Head, extract_many, precision_name
from .pipeline.extractors import REGISTRY, Classifier
from .pipeline.references import Resolved, is_catalog_name, protocol_warnings
from .pipeline.references import resolve as resolve_reference
from .pipeline.sources import Source, open_source
from .pipeline.statistics import (
    Statistics,
    check_output_path,
    is_statistics_path,
    moments_of_statistics,
    provenance_warnings,
    read_features,
    read_statistics,
    require_features,
    spatial_moments_of_statistics,
    write_statistics,
)
from .pipeline.weights import REFERENCE_SHA256, TORCHVISION
from .results import (
    SMALL_N,
    CMMDResult,
    Evaluation,
    InfinityResult,
    ISResult,
    ManifoldResult,
    Order,
    RealismDetails,
    SFIDResult,
    announce,
    feature_family,
    fid_from_moments,
    inception_score_from_log_probabilities,
    kernel_inception_distance,
    small_sample_warning,
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
# options' classifier is not of that space (a second pass over the images; Request.extractors chooses).
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


def evaluate(source: Any, request: Request, options: Options) -> Evaluation:
    """Every metric of `request`: one pass over each distinct image side, through every extractor.

    The options' classifier serves every metric but those that name another feature space
    (`SPACE_METRICS`: fd_dinov2, fd_clip, and cmmd when no classifier is given), which their own
    registry extractors serve in the same pass: each image is decoded once and run once through
    each extractor that needs it.
    """
    check_protocol(request.protocol)
    for metric in sorted(request.metrics & set(REFERENCED)):
        if request.references.get(metric) is None and metric != "inf" and not request.automatic:
            raise InceptionScoreError(
                f"{METRIC_NAMES[metric]} needs a reference: pass reference=... (CLI: --ref REF), "
                f"or leave {metric!r} out of metrics"
            )
    passes: dict[str | None, set[str]] = {}
    for metric in sorted(request.metrics, key=lambda metric: (_extractor_of(metric, request, options) or "", metric)):
        passes.setdefault(_extractor_of(metric, request, options), set()).add(metric)  # the classifier's first
    others = [spec for spec in passes if spec is not None]
    # weights are the options' classifier's; with no metric of its own, the one other extractor's
    if options.weights is not None and None not in passes and len(others) > 1:
        raise InceptionScoreError(
            f"weights (--weights) names one file but {', '.join(others)} run here: give each its weights "
            "through its environment variable or the cache (inception-score weights install FILE)"
        )
    group = join(options.distributed)
    planned = [
        _plan(source, *_pass_inputs(request, metrics, options, spec, only=len(passes) == 1), group)
        for spec, metrics in passes.items()
    ]
    check_same_inputs(group, [(side.count, side.description) for one in planned for side in one.sides])
    _extract([(one.sides, one.classifier) for one in planned], options, group)
    main = planned[0].main
    drawn = main.source is not None and main.source.kind == "sampler"
    sampling = dict(
        world_size=group.world_size if group is not None else 1,
        sample_seed=draw_seed(group, options.sample_seed) if drawn else None,
    )

    def results() -> Evaluation:
        evaluation = Evaluation(protocol=request.protocol)
        for one, (spec, metrics) in zip(planned, passes.items()):
            found = _results(one.sides, one.main, one.classifier, one.request, one.options, sampling)
            evaluation = _merge(evaluation, found, metrics, main=spec is None)
        return evaluation

    return on_main(group, results)


def _extractor_of(metric: str, request: Request, options: Options) -> str | None:
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
    mine = feature_family(spec) if isinstance(spec, str) else None
    return None if mine == feature_family(chosen) else chosen


def _pass_inputs(
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
        options = dataclasses.replace(
            options,
            classifier=spec,
            weights=options.weights if only else None,
            input_size=None,
            resize=None,
            normalize=None,
            channels=None,
        )
    return dataclasses.replace(request, metrics=renamed, references=references), options


def _merge(evaluation: Evaluation, found: Evaluation, metrics: set[str], *, main: bool) -> Evaluation:
    """One pass's results added to the evaluation; a pass's FID goes to the fd_* field its metric names."""
    if main:
        evaluation = dataclasses.replace(
            found,
            fid=found.fid if "fid" in metrics else None,
            fd_dinov2=evaluation.fd_dinov2,
            fd_clip=evaluation.fd_clip,
            cmmd=evaluation.cmmd,
        )
    return dataclasses.replace(
        evaluation,
        fd_dinov2=found.fid if "fd_dinov2" in metrics else evaluation.fd_dinov2,
        fd_clip=found.fid if "fd_clip" in metrics else evaluation.fd_clip,
        cmmd=found.cmmd if "cmmd" in metrics else evaluation.cmmd,
    )


@dataclass
class _Pass:
    """One extractor's part of an evaluation: its sides (the main one first), extractor and request."""

    sides: list[Side]
    main: Side
    classifier: Classifier | None
    request: Request
    options: Options


def _plan(source: Any, request: Request, options: Options, group: Group | None) -> _Pass:
    """The sides of `request` with what each needs of the options' extractor, checked before any image is read;
    the extractor loaded (under torch.distributed, by rank 0 first, which may download it)."""

    def plan() -> tuple[list[Side], Side, Request]:
        sides: dict[Any, Side] = {}
        main = _side(sides, source, set(), options, group, num_samples=options.num_samples)
        planned = _servable(request, main, sides, options, group) if request.automatic else request
        for metric in sorted(planned.metrics):
            mine, theirs = NEEDS[metric]
            reference = planned.references.get(metric)
            if metric == "inf" and reference is None:
                mine = frozenset({"logits"})  # IS-infinity alone
            _side(sides, source, set(mine), options, group)  # the main side, its needs checked
            if theirs is not None and reference is not None:
                _side(sides, reference, set(theirs), options, group)
        _take_file_statistics(sides, planned)
        _check_before_pass(main, sides, planned)
        check_feature_spaces(list(sides.values()), _named_space(options))
        return list(sides.values()), main, planned

    # a catalog name may be downloaded while planning: rank 0 first, the others then find it in the cache
    named = any(is_catalog_name(value) for value in (source, *request.references.values()))
    sides, main, request = everywhere(group, plan, main_first=named)
    classifier = everywhere(group, lambda: _extractor(sides, options), main_first=True)
    return _Pass(sides, main, classifier, request, options)


def summarise(
    source: Any,
    path: str | Path,
    *,
    with_features: bool,
    options: Options,
    max_features: int | None = None,
    spatial: bool | None = None,
    seed: int = 2020,
) -> Statistics:
    """Write the feature mean and covariance of `source` (and its features) to a statistics file.

    max_features: store the features of at most this many images (a seeded random choice of rows
    when there are more), enough for precision/recall and density/coverage against the file.
    spatial: also write the sFID statistics `mu_s`, `sigma_s` (default: when the extractor gives them).
    """
    group = join(options.distributed)
    writes = group is None or group.rank == 0
    output = everywhere(group, lambda: check_output_path(path, inputs=(source,)) if writes else Path(path))

    def plan() -> Side:
        side = _side(
            {},
            source,
            {"moments", "features"} if with_features or max_features is not None else {"moments"},
            options,
            group,
            num_samples=options.num_samples,
        )
        if side.statistics is not None:
            raise InceptionScoreError(f"{side.description} is already a statistics file; give images to summarise")
        return side

    side = everywhere(group, plan)
    classifier = everywhere(group, lambda: _extractor([side], options), main_first=True)
    if spatial or (spatial is None and classifier is not None and "spatial" in classifier.outputs):
        side.needs.add("spatial_moments")
        classifier = everywhere(group, lambda: _extractor([side], options))
    check_same_inputs(group, [(side.count, side.description)])
    _extract([([side], classifier)], options, group)

    def write() -> Statistics:
        _fill_moments([side])
        assert side.moments is not None and classifier is not None
        features, rows = side.features if with_features or max_features is not None else None, None
        if features is not None and max_features is not None and len(features) > max_features:
            rows = np.sort(np.random.RandomState(seed).choice(len(features), max_features, replace=False))
            features = features[rows]
        write_statistics(
            output,
            side.moments,
            weights_sha256=classifier.weights_sha256 or classifier.identity,
            pipeline_version=_pipeline(options, classifier),
            features=features,
            feature_rows=rows,
            spatial=side.spatial_moments,
        )
        return dataclasses.replace(read_statistics(output), skipped_names=tuple(side.skipped))

    return on_main(group, write)


def result_from_logits(
    logits: np.ndarray,
    sha256: str | None,
    *,
    splits: int,
    order: Order,
    seed: int,
    warnings: list[str] | None = None,
    world_size: int = 1,
    classifier: Classifier | None = None,
    bootstrap: int = 0,
    names: list[str] | None = None,
) -> ISResult:
    """The IS of the classifier's logits (default: the 2015 network), with its identity and the warnings that apply.

    The warnings are also emitted as InceptionScoreWarning.
    """
    result = inception_score_from_log_probabilities(
        LogProbabilities.of_logits(logits), splits=splits, order=order, seed=seed, bootstrap=bootstrap
    )
    name = classifier.name if classifier is not None else "inception-2015"
    reference = sha256 == REFERENCE_SHA256 if name == "inception-2015" else False
    notes = list(warnings or [])
    if name == "inception-2015":
        notes += weights_warnings(sha256 or "")
    elif name == "torchvision":
        known = (
            ""
            if TORCHVISION.matches(sha256 or "")
            else f" (weights {(sha256 or '')[:12]}... are not torchvision's file)"
        )
        notes.append(
            f"torchvision's ImageNet Inception v3{known}: comparable only to scores computed with "
            "it (about 9.7 on CIFAR-10), not to the paper's protocol (11.24)"
        )
    if name not in ("inception-2015", "torchvision"):  # no published 50k-image scores to compare with
        notes += [note for note in result.warnings if note != small_sample_warning(result.n)]
    else:
        notes += result.warnings
    assert result.details is not None
    details = dataclasses.replace(result.details, names=list(names) if names is not None else None)
    return announce(
        dataclasses.replace(
            result,
            weights_sha256=sha256,
            reference_weights=reference,
            warnings=notes,
            world_size=world_size,
            details=details,
            classifier=classifier.describe() if classifier is not None else None,
        )
    )


def weights_warnings(sha256: str) -> list[str]:
    """A warning when the weights are not the reference 2015 Inception weights."""
    if sha256 == REFERENCE_SHA256:
        return []
    return [
        f"weights {sha256[:12]}... are not the reference 2015 Inception weights: "
        "scores are not comparable to published ones"
    ]


def _key(value: Any) -> Any:
    """Equal keys for the same input given twice (same path, or the same object)."""
    if isinstance(value, (str, os.PathLike)):
        return ("path", str(Path(value).resolve()))
    return ("object", id(value))


def _side(
    sides: dict[Any, Side],
    value: Any,
    needs: set[str],
    options: Options,
    group: Group | None,
    *,
    num_samples: int | None = None,
) -> Side:
    key = _key(value)
    if key not in sides and is_catalog_name(value):
        resolved = resolve_reference(
            value, progress=options.progress, allow_other_protocol=options.allow_other_protocol
        )
        sides[key] = _side({}, resolved.path, set(), options, group, num_samples=num_samples)
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
            side = _side(sides, reference, set(), options, group)
            if side.statistics is not None and not _file_serves(side.statistics, metric):
                continue
        kept.add(metric)
    if "kid" in kept:
        counts = [main.count] + [_side(sides, request.references["kid"], set(), options, group).count]
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
            for side in (main, sides[_key(request.references[metric])]):
                if side.statistics is not None:
                    _require(side.statistics, metric)
    if "kid" not in request.metrics:
        return
    kid_side = sides[_key(request.references["kid"])]
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


def _extractor(sides: list[Side], options: Options) -> Classifier | None:
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
                    f"(--classifier {space}, or write the statistics again with it)"
                )


def _extract(passes: list[tuple[list[Side], Classifier | None]], options: Options, group: Group | None) -> None:
    """Fill in what each side of each pass needs: one pass over each distinct image input, which
    decodes every image once and runs it through each extractor that needs it (`extract_many`).

    Under torch.distributed every rank extracts a contiguous shard of each image source; logits
    and features are gathered to rank 0 in input order and the feature moments summed there, so
    only rank 0's sides are filled in. Statistics files are read on rank 0 alone.
    """

    def read_files() -> None:
        for side in (side for sides, _ in passes for side in sides):
            statistics = side.statistics
            if statistics is not None and "moments" in side.needs:
                side.moments = moments_of_statistics(statistics)
            if statistics is not None and "spatial_moments" in side.needs:
                side.spatial_moments = spatial_moments_of_statistics(statistics)
            if statistics is not None and "features" in side.needs:
                side.features = read_features(statistics)

    everywhere(group, lambda: read_files() if group is None or group.rank == 0 else None)
    inputs: dict[Any, list[tuple[Side, Classifier]]] = {}
    for sides, classifier in passes:
        for side in sides:  # images with needs (an ADM batch's may all have come from its file)
            if side.source is not None and side.needs:
                assert classifier is not None
                inputs.setdefault(_key(side.value), []).append((side, classifier))
    for pairs in inputs.values():
        samples, count = shard_of(group, pairs[0][0].source, sample_seed=options.sample_seed)
        heads = [_head(side, classifier, options) for side, classifier in pairs]
        run = _InputRun(samples, count, options, group, heads)
        moments = [(head.pool3_moments, head.spatial_moments) for head in heads]
        found: list[Features | None] = []
        if group is None:
            found += run.extract(True)
        else:
            local = group.run(lambda: run.extract(group.rank == 0))  # noqa: B023 (run now, in this iteration)
            found = [group.gather_dataclass(features) for features in local]
            moments = [
                tuple(reduce_moments(group, summed) if summed is not None else None for summed in pair)  # type: ignore[misc]
                for pair in moments
            ]
        for (side, _), features, (accumulator, spatial) in zip(pairs, found, moments):
            if features is None:  # not rank 0: the gathered results live there
                continue
            side.logits, side.features = features.logits, features.pool3
            side.cached, side.precision = len(features.names) - features.computed, features.precision
            side.corrupt_cache_entries = features.corrupt_cache_entries
            side.names = features.names
            side.skipped = features.skipped
            side.cache_problems = features.cache_problems
            side.accumulator = accumulator
            side.spatial_accumulator = spatial


def _head(side: Side, classifier: Classifier, options: Options) -> Head:
    """The extractor's part of a pass over the side's images: what the side needs of it."""
    cache = FeatureCache(size_limit=options.cache_size) if options.cache and classifier.cache_key else None
    return Head(
        classifier.module,
        classifier.contract,
        cache,
        classifier.cache_key or "",
        keep_logits="logits" in side.needs,
        keep_pool3="features" in side.needs,
        pool3_moments=MomentAccumulator() if "moments" in side.needs else None,
        spatial_moments=MomentAccumulator() if "spatial_moments" in side.needs else None,
    )


@dataclass(frozen=True)
class _InputRun:
    """One image input's pass through the extractors that need it."""

    samples: Any
    count: int | None
    options: Options
    group: Group | None
    heads: list[Head]

    def extract(self, show_progress: bool) -> list[Features]:
        options = self.options
        return extract_many(
            self.samples if self.group is None else self.group.watch(self.samples),
            self.heads,
            batch_size=options.batch_size,
            device=options.torch_device,
            progress=options.progress and show_progress,
            total=self.count,
            max_pixels=options.max_pixels,
            workers=0 if options.plain else options.workers,
            fast=options.fast,
            on_error=options.on_error,
        )


def reduce_moments(group: Group, accumulator: MomentAccumulator) -> MomentAccumulator | None:
    """Every rank's streaming feature moments added up on rank 0 (None elsewhere).

    Sums are moved to a common shift (the first non-empty rank's, i.e. the first batch of the
    input) and summed in float64: d + d^2 numbers per rank, whatever N. While the total is at
    most d the rows themselves are gathered too, for the exact low-rank factor.
    """
    seen = group.all_gather_object((accumulator.n, accumulator.shift))
    counts = [count for count, _ in seen]
    shifts = [shift for count, shift in seen if count]
    if not shifts:
        return accumulator if group.rank == 0 else None
    accumulator.recentre(shifts[0])
    total, outer, rows = accumulator.sums()
    summed_total, summed_outer = group.reduce_sum(total), group.reduce_sum(outer)
    keep_rows = sum(counts) <= len(shifts[0])
    rows = group.gather_rows(rows) if keep_rows and rows is not None else None
    if group.rank != 0:
        return None
    assert summed_total is not None and summed_outer is not None
    return MomentAccumulator.from_sums(sum(counts), shifts[0], summed_total, summed_outer, rows)


def _fill_moments(sides: list[Side]) -> None:
    """Mean and covariance of the image sides whose feature moments were accumulated."""
    for side in sides:
        if side.moments is None and side.accumulator is not None:
            side.moments = side.accumulator.moments()
        if side.spatial_moments is None and side.spatial_accumulator is not None:
            side.spatial_moments = side.spatial_accumulator.moments()


def _pipeline(options: Options, classifier: Classifier | None) -> str:
    """The pipeline version (with the extractor when it is not the 2015 network, and the precision
    when it is not exact float32)."""
    version = PIPELINE_VERSION
    if classifier is not None and classifier.name != "inception-2015":
        version += f"; extractor {classifier.name} {classifier.identity}"
    precision = precision_name(options.torch_device, options.fast)
    return version if precision == "float32" else f"{version}; {precision}"


def _results(
    sides: list[Side],
    main: Side,
    classifier: Classifier | None,
    request: Request,
    options: Options,
    sampling: dict[str, Any],
) -> Evaluation:
    """The results from what `_extract` filled in (on rank 0 under torch.distributed).

    `sampling`: world_size and sample_seed, recorded in every result.
    """
    _fill_moments(sides)
    sha256 = classifier.weights_sha256 if classifier is not None else None
    pipeline = _pipeline(options, classifier) if classifier is not None else None
    sha256, pipeline, file_warnings = _provenance(sides, sha256, pipeline)
    file_warnings = _run_warnings(sides, options) + file_warnings
    evaluation = Evaluation(protocol=request.protocol)
    if "is" in request.metrics:
        assert main.logits is not None
        result = (adm_result_from_logits if request.protocol == "adm" else result_from_logits)(
            main.logits,
            sha256,
            splits=request.splits,
            order=request.order,
            seed=request.seed,
            warnings=_run_warnings([main], options),
            bootstrap=request.bootstrap,
            names=main.names,
            classifier=classifier,
            world_size=sampling["world_size"],
        )
        evaluation = dataclasses.replace(
            evaluation,
            inception_score=dataclasses.replace(
                result,
                precision=main.precision,
                cached=main.cached,
                skipped=len(main.skipped),
                skipped_names=list(main.skipped),
                sample_seed=sampling["sample_seed"],
            ),
        )
    context = dict(
        a=main.description,
        weights_sha256=sha256,
        pipeline_version=pipeline,
        **sampling,
        reference_weights=None if sha256 is None else sha256 == REFERENCE_SHA256,
    )
    named = _names_weights(classifier)
    space = feature_space_of(sides, classifier)
    if "fid" in request.metrics:
        fid_side = _reference_side(sides, request, "fid")
        assert main.moments is not None and fid_side.moments is not None
        fid = fid_from_moments(main.moments, fid_side.moments)
        notes = _fid_warnings(fid.n_a, fid.n_b)
        evaluation = dataclasses.replace(
            evaluation,
            fid=dataclasses.replace(
                fid,
                b=_described(fid_side, ("mu", "sigma")),
                warnings=_warnings(sha256, named, file_warnings, notes),
                reference=_reference_provenance(fid_side, fid.n_b),
                feature_space=space,
                **context,
            ),
        )
    if "sfid" in request.metrics:
        sfid_side = _reference_side(sides, request, "sfid")
        assert main.spatial_moments is not None and sfid_side.spatial_moments is not None
        sfid = fid_from_moments(main.spatial_moments, sfid_side.spatial_moments)
        notes = _fid_warnings(sfid.n_a, sfid.n_b)
        evaluation = dataclasses.replace(
            evaluation,
            sfid=SFIDResult(
                sfid.fid,
                sfid.n_a,
                sfid.n_b,
                b=_described(sfid_side, ("mu_s", "sigma_s")),
                warnings=_warnings(sha256, named, file_warnings, [n.replace("FID", "sFID", 1) for n in notes]),
                **context,
            ),
        )
    if {"pr", "dc"} & request.metrics:
        manifold = _manifold(main, sides, request, _warnings(sha256, named, file_warnings, []), context)
        evaluation = dataclasses.replace(evaluation, manifold=dataclasses.replace(manifold, feature_space=space))
    if "inf" in request.metrics:
        evaluation = dataclasses.replace(
            evaluation, infinity=_infinity(main, sides, request, _warnings(sha256, named, file_warnings, []), context)
        )
    if "kid" in request.metrics:
        kid_side = _reference_side(sides, request, "kid")
        assert main.features is not None and kid_side.features is not None
        kid = kernel_inception_distance(
            main.features,
            kid_side.features,
            subsets=request.kid_subsets,
            subset_size=request.kid_subset_size,
            seed=request.kid_seed,
        )
        notes = _kid_warnings(request.kid_subsets, request.kid_subset_size)
        evaluation = dataclasses.replace(
            evaluation,
            kid=dataclasses.replace(
                kid,
                b=kid_side.description,
                warnings=_warnings(sha256, named, file_warnings, notes),
                reference=_reference_provenance(kid_side, kid.n_b),
                feature_space=space,
                **context,
            ),
        )
    if "cmmd" in request.metrics:
        cmmd_side = _reference_side(sides, request, "cmmd")
        assert main.features is not None and cmmd_side.features is not None
        evaluation = dataclasses.replace(
            evaluation,
            cmmd=CMMDResult(
                cmmd(main.features, cmmd_side.features),
                "min-variance",
                CMMD_SIGMA,
                CMMD_SCALE,
                len(main.features),
                len(cmmd_side.features),
                feature_space=space,
                b=cmmd_side.description,
                warnings=_warnings(sha256, named, file_warnings, _cmmd_warnings(space)),
                reference=_reference_provenance(cmmd_side, len(cmmd_side.features)),
                **context,
            ),
        )
    return evaluation


def _reference_provenance(side: Side, n: int | None) -> dict[str, Any] | None:
    """Catalog name, sha256 (and where it came from), protocol and N of a catalog reference side."""
    return side.reference.provenance(n) if side.reference is not None else None


def _reference_side(sides: list[Side], request: Request, metric: str) -> Side:
    return next(side for side in sides if _key(side.value) == _key(request.references[metric]))


def _described(side: Side, keys: tuple[str, str]) -> str:
    """The side's description, saying when its statistics came from the file (protocol "adm")."""
    if keys[0] in side.from_file:
        return f"{side.description} ({', '.join(keys)} from the file)"
    return side.description


def _manifold(
    main: Side, sides: list[Side], request: Request, warnings: list[str], context: dict[str, Any]
) -> ManifoldResult:
    """Precision/recall, density/coverage and realism of the samples (main) against the reference's pool3."""
    metric = "pr" if "pr" in request.metrics else "dc"
    reference = _reference_side(sides, request, metric)
    if "pr" in request.metrics and "dc" in request.metrics and _reference_side(sides, request, "dc") is not reference:
        raise InceptionScoreError("precision/recall and density/coverage must use the same reference")
    assert main.features is not None and reference.features is not None
    found = manifold_metrics(reference.features, main.features)
    pr, dc, realism = found.precision_recall, found.density_coverage, found.realism
    return ManifoldResult(
        pr.precision,
        pr.recall,
        pr.f_score,
        dc.density,
        dc.coverage,
        [name for name in ("pr", "dc") if name in request.metrics],
        n_a=pr.fake_count,
        n_b=pr.real_count,
        k_pr=pr.k,
        k_dc=dc.k,
        realism=realism.to_dict(),
        b=reference.description,
        warnings=warnings,
        details=RealismDetails(realism.scores, realism.inside, realism.nearest_real, main.names),
        **context,
    )


def _infinity(
    main: Side, sides: list[Side], request: Request, warnings: list[str], context: dict[str, Any]
) -> InfinityResult:
    """IS-infinity (one split per subset) and, with a reference, FID-infinity, from the features already extracted."""
    assert main.logits is not None
    log_probs = LogProbabilities.of_logits(main.logits)
    count = len(main.logits)
    points, seed = request.infinity_points, request.infinity_seed
    inception = extrapolate(lambda rows: split_score(log_probs.rows(rows)), count, points=points, seed=seed)
    frechet, reference = None, None
    if request.references.get("inf") is not None:
        reference = _reference_side(sides, request, "inf")
        assert main.features is not None and reference.moments is not None
        features, moments = main.features, reference.moments
        frechet = extrapolate(
            lambda rows: frechet_of_moments(moments_of(features[rows]), moments), count, points=points, seed=seed
        )
    return InfinityResult(
        inception.intercept,
        frechet.intercept if frechet is not None else None,
        inception.to_dict(),
        frechet.to_dict() if frechet is not None else None,
        n_a=count,
        n_b=reference.moments.n if reference is not None and reference.moments is not None else None,
        b=_described(reference, ("mu", "sigma")) if reference is not None else None,
        warnings=warnings,
        **context,
    )


def adm_result_from_logits(logits: np.ndarray, sha256: str | None, **options: Any) -> ISResult:
    """IS as the ADM evaluator takes it: consecutive chunks of 5,000 images in the given order (the last
    may be shorter), the mean of the chunks' scores as the headline; diagnostics as `result_from_logits`."""
    count = len(logits)
    chunks = max(1, -(-count // ADM_SPLIT_SIZE))
    options = {"seed": 2020, **options, "splits": 1, "order": "given"}
    result = result_from_logits(logits, sha256, **options)
    log_probs = LogProbabilities.of_logits(logits)
    scores = [
        split_score(log_probs.rows(np.arange(start, min(start + ADM_SPLIT_SIZE, count))))
        for start in range(0, count, ADM_SPLIT_SIZE)
    ]
    assert len(scores) == chunks
    return dataclasses.replace(
        result,
        mean=float(np.mean(scores)),
        std=float(np.std(scores)),
        split_scores=scores,
        splits=chunks,
        split_size=ADM_SPLIT_SIZE,
    )


def _names_weights(classifier: Classifier | None) -> bool:
    """Whether the distances' weights warning applies (it is about the 2015 network's weights)."""
    return classifier is None or classifier.name == "inception-2015"


def _provenance(
    sides: list[Side], sha256: str | None, pipeline: str | None
) -> tuple[str | None, str | None, list[str]]:
    """The weights and pipeline of this comparison, and warnings for files made otherwise."""
    # a catalog file from other tools says nothing of how it was made: its entry's protocol does
    files = [
        side.statistics
        for side in sides
        if side.statistics is not None
        and (side.reference is None or side.reference.entry.protocol.name == "inception-score")
    ]
    if sha256 is None and pipeline is None:
        described = [s for s in files if s.weights_sha256 is not None and s.pipeline_version is not None]
        if described:
            sha256, pipeline = described[0].weights_sha256, described[0].pipeline_version
    messages = [message for statistics in files for message in provenance_warnings(statistics, sha256, pipeline)]
    messages += [
        message
        for side in sides
        if side.reference is not None
        for message in protocol_warnings(side.reference.entry, sha256, pipeline)
    ]
    for message in messages:
        python_warnings.warn(message, InceptionScoreWarning, stacklevel=7)
    return sha256, pipeline, messages


def _run_warnings(sides: list[Side], options: Options) -> list[str]:
    """What a result says about the run: fast mode off CUDA, damaged cache entries, skipped files."""
    warnings = []
    if options.fast and options.torch_device.type != "cuda" and any(side.source is not None for side in sides):
        warnings.append("fast has no effect on this device: the network ran in exact float32")
    corrupt = sum(side.corrupt_cache_entries for side in sides)
    if corrupt:
        warnings.append(f"{corrupt} damaged feature cache entries were removed and recomputed")
    warnings += dict.fromkeys(problem for side in sides for problem in side.cache_problems)
    return warnings + skipped_warnings([name for side in sides for name in side.skipped])


def skipped_warnings(skipped: list[str]) -> list[str]:
    """The warning for files left out with on_error="skip"."""
    if not skipped:
        return []
    shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    return [
        f"{len(skipped)} undecodable file{'s were' if len(skipped) > 1 else ' was'} skipped (--skip-bad): "
        f"{shown}; the score is of the other images"
    ]


def _warnings(sha256: str | None, named: bool, file_warnings: list[str], notes: list[str]) -> list[str]:
    return (weights_warnings(sha256) if sha256 and named else []) + file_warnings + notes


def _fid_warnings(n_a: int | None, n_b: int | None) -> list[str]:
    sizes = [n for n in (n_a, n_b) if n is not None]
    if sizes and min(sizes) < SMALL_N:
        return [
            f"FID from {n_a if n_a is not None else '?'} vs {n_b if n_b is not None else '?'} images: FID is "
            "biased upwards for small sets; compare only numbers computed with the same numbers of images "
            "(50,000 is the convention)"
        ]
    return []


def _cmmd_warnings(space: str | None) -> list[str]:
    if space == CMMD_SPACE:
        return []
    return [
        f"CMMD on {space or 'custom'} features: published CMMDs use {CMMD_SPACE}'s unit-length embeddings "
        f"(--classifier {CMMD_SPACE}); compare only with CMMDs of the same features"
    ]


def _kid_warnings(subsets: int, subset_size: int) -> list[str]:
    if (subsets, subset_size) == (100, 1000):
        return []
    return [f"KID with {subsets} subsets of {subset_size}: published KIDs use 100 subsets of 1000"]
