"""The engine: plan -> extract -> reduce -> results, under every front (API, metric object, CLI).

Plan: each requested metric says what it needs of each side (IS: class logits; FID: the mean
and covariance of feature vectors; KID, precision/recall, density/coverage: the feature vectors
themselves; sFID: the mean and covariance of the spatial features; IS-infinity/FID-infinity: the
samples' logits and feature vectors), and the extractor (or the reference file) must provide it.
Extract: one pass per distinct image input, asking each extractor for exactly that.
Reduce: in one process, or over torch.distributed ranks, through the same code (rows gathered
to rank 0 in input order, moments summed). Results: frozen dataclasses, built on rank 0 and
given to every rank.

Here: `evaluate` and `summarise`, the steps in order; `plan.py` (the metrics' needs, the sides,
the checks made before any image is read), `extract.py` (the pass and the reduction),
`metrics.py` (each metric's result with its provenance and warnings).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InceptionScoreError
from ..options import Options
from ..parallel.launch import join
from ..parallel.sharding import check_same_inputs, draw_seed, everywhere, on_main
from ..pipeline.extractors import REGISTRY
from ..pipeline.statistics import Statistics, check_output_path, read_statistics, write_statistics
from ..results import Evaluation
from .extract import extract_sides, fill_moments, reduce_moments
from .metrics import (
    adm_result_from_logits,
    build_results,
    pipeline_of,
    result_from_logits,
    skipped_warnings,
    weights_warnings,
)
from .plan import (
    ADM_SPLIT_SIZE,
    ALL_METRICS,
    DEFAULT_METRICS,
    METRIC_NAMES,
    METRICS,
    NEEDS,
    OUTPUT_OF_NEED,
    PROTOCOLS,
    REFERENCED,
    SPACE_METRICS,
    Request,
    Side,
    check_feature_spaces,
    check_metrics,
    check_protocol,
    extractor_of,
    feature_space_of,
    load_extractor_for,
    options_for,
    pass_inputs,
    plan_pass,
    side_of,
)

__all__ = [
    "ADM_SPLIT_SIZE",
    "ALL_METRICS",
    "DEFAULT_METRICS",
    "METRICS",
    "METRIC_NAMES",
    "NEEDS",
    "OUTPUT_OF_NEED",
    "PROTOCOLS",
    "REFERENCED",
    "SPACE_METRICS",
    "Request",
    "Side",
    "adm_result_from_logits",
    "check_feature_spaces",
    "check_metrics",
    "check_protocol",
    "evaluate",
    "extractor_of",
    "feature_space_of",
    "reduce_moments",
    "result_from_logits",
    "skipped_warnings",
    "summarise",
    "weights_warnings",
]


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
    for metric in sorted(request.metrics, key=lambda metric: (extractor_of(metric, request, options) or "", metric)):
        passes.setdefault(extractor_of(metric, request, options), set()).add(metric)  # the classifier's first
    others = [spec for spec in passes if spec is not None]
    # weights are the options' classifier's; with no metric of its own, the one other extractor's
    if options.weights is not None and None not in passes and len(others) > 1:
        raise InceptionScoreError(
            f"weights (--weights) names one file but {', '.join(others)} run here: give each its weights "
            "through its environment variable or the cache (inception-score weights install FILE)"
        )
    group = join(options.distributed)
    planned = [
        plan_pass(source, *pass_inputs(request, metrics, options, spec, only=len(passes) == 1), group)
        for spec, metrics in passes.items()
    ]
    check_same_inputs(group, [(side.count, side.description) for one in planned for side in one.sides])
    extract_sides([(one.sides, one.classifier) for one in planned], options, group)
    main = planned[0].main
    drawn = main.source is not None and main.source.kind == "sampler"
    sampling = dict(
        world_size=group.world_size if group is not None else 1,
        sample_seed=draw_seed(group, options.sample_seed) if drawn else None,
    )

    def results() -> Evaluation:
        evaluation = Evaluation(protocol=request.protocol)
        for one, (spec, metrics) in zip(planned, passes.items()):
            found = build_results(one.sides, one.main, one.classifier, one.request, one.options, sampling)
            evaluation = _merge(evaluation, found, metrics, main=spec is None)
        return evaluation

    return on_main(group, results)


def summarise(
    source: Any,
    path: str | Path,
    *,
    with_features: bool,
    options: Options,
    max_features: int | None = None,
    spatial: bool | None = None,
    seed: int = 2020,
    also: Mapping[str, str | Path] | None = None,
) -> Statistics:
    """Write the feature mean and covariance of `source` (and its features) to a statistics file.

    max_features: store the features of at most this many images (a seeded random choice of rows
    when there are more), enough for precision/recall and density/coverage against the file.
    spatial: also write the sFID statistics `mu_s`, `sigma_s` (default: when the extractor gives them).
    also: registry extractor -> file, the same statistics in other feature spaces from the same pass
    (each image decoded once; the same rows of features). Returns the main file's statistics.
    """
    group = join(options.distributed)
    writes = group is None or group.rank == 0
    targets = [(options, path)] + [
        (options_for(options, name), file) for name, file in _checked_also(also, options, path)
    ]
    outputs = everywhere(
        group, lambda: [check_output_path(file, inputs=(source,)) if writes else Path(file) for _, file in targets]
    )
    keep = {"moments", "features"} if with_features or max_features is not None else {"moments"}

    def plan() -> list[Side]:
        sides = [
            side_of({}, source, set(keep), target, group, num_samples=options.num_samples) for target, _ in targets
        ]
        if sides[0].statistics is not None:
            raise InceptionScoreError(f"{sides[0].description} is already a statistics file; give images to summarise")
        return sides

    sides = everywhere(group, plan)
    classifiers = []
    for number, (side, (target, _)) in enumerate(zip(sides, targets)):
        classifier = everywhere(group, lambda: load_extractor_for([side], target), main_first=True)  # noqa: B023
        wanted = spatial if number == 0 else (False if spatial is False else None)  # others: when given
        if wanted or (wanted is None and classifier is not None and "spatial" in classifier.outputs):
            side.needs.add("spatial_moments")
            classifier = everywhere(group, lambda: load_extractor_for([side], target))  # noqa: B023
        classifiers.append(classifier)
    check_same_inputs(group, [(side.count, side.description) for side in sides])
    extract_sides([([side], classifier) for side, classifier in zip(sides, classifiers)], options, group)

    def write() -> Statistics:
        fill_moments(sides)
        rows = None
        if max_features is not None and sides[0].features is not None and len(sides[0].features) > max_features:
            rows = np.sort(np.random.RandomState(seed).choice(len(sides[0].features), max_features, replace=False))
        for side, classifier, output, (target, _) in zip(sides, classifiers, outputs, targets):
            assert side.moments is not None and classifier is not None
            features = side.features if with_features or max_features is not None else None
            write_statistics(
                output,
                side.moments,
                weights_sha256=classifier.weights_sha256 or classifier.identity,
                pipeline_version=pipeline_of(target, classifier),
                features=features[rows] if features is not None and rows is not None else features,
                feature_rows=rows,
                spatial=side.spatial_moments,
            )
        return dataclasses.replace(read_statistics(outputs[0]), skipped_names=tuple(sides[0].skipped))

    return on_main(group, write)


def _checked_also(
    also: Mapping[str, str | Path] | None, options: Options, path: str | Path
) -> list[tuple[str, str | Path]]:
    """The other extractors of `summarise`: registry feature networks other than the options' own, each
    written to a file of its own (not `path`, the main file)."""
    chosen = list((also or {}).items())
    own = "inception-2015" if options.classifier is None else options.classifier
    for name, file in chosen:
        if not isinstance(name, str) or name not in REGISTRY or "features" not in REGISTRY[name].outputs:
            raise InceptionScoreError(
                f"also (--also) maps a registry extractor ({', '.join(REGISTRY)}) to a file; got {name!r}"
            )
        if name == own:
            raise InceptionScoreError(f"also (--also) names {name}, the extractor the main file is computed with")
        if not isinstance(file, (str, os.PathLike)):
            raise InceptionScoreError(f"also (--also) gives {name} a file path, not {file!r}")
    files = [
        str(Path(file).resolve())
        for file in (path, *(file for _, file in chosen))
        if isinstance(file, os.PathLike | str)
    ]
    if len(set(files)) < len(files):
        raise InceptionScoreError("also (--also) writes two feature spaces to the same file: each needs its own")
    return chosen


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
