"""The engine under every front (API, `Evaluator`, `InceptionScore`, CLI): plan -> extract -> reduce -> compute.

Plan (`plan.py`, `sides.py`): which metrics, on which extractor, what each needs of each side, and
every check that needs no image. Extract (`extract.py`): images into each side's states, from a
source (one pass per distinct input through every extractor) or from in-memory batches. Reduce
(`states.py`): rows gathered to rank 0 in rank order, moments summed. Compute (`compute.py`):
each registered metric's declaration computes its result from the reduced states, with provenance
and warnings. `evaluator.py` holds the accumulating `Evaluator` over these steps; `summarise` here
writes statistics files from the same steps.
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
from ..parallel.sharding import check_same_inputs, everywhere, on_main
from ..pipeline.extractors import REGISTRY
from ..pipeline.statistics import Statistics, check_output_path, read_statistics, write_statistics
from .compute import pipeline_of
from .evaluator import Evaluator
from .extract import Job, extract_sources
from .plan import PROTOCOLS, Request, extractor_of, options_for
from .sides import load_extractor_for, open_side, with_needs
from .states import SideState, reduce_moments

__all__ = ["PROTOCOLS", "Evaluator", "Request", "extractor_of", "reduce_moments", "summarise"]


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
    request = Request({})

    def plan() -> list:
        opened = [open_side(source, target, group, num_samples=options.num_samples) for target, _ in targets]
        sides = [dataclasses.replace(with_needs(side, keep, request), from_file={}) for side in opened]
        if sides[0].statistics is not None:
            raise InceptionScoreError(f"{sides[0].description} is already a statistics file; give images to summarise")
        return sides

    sides = everywhere(group, plan)
    classifiers = []
    for number, (target, _) in enumerate(targets):
        classifier = everywhere(group, lambda: load_extractor_for([sides[number]], target), main_first=True)  # noqa: B023
        wanted = spatial if number == 0 else (False if spatial is False else None)  # others: when given
        if wanted or (wanted is None and classifier is not None and "spatial" in classifier.outputs):
            sides[number] = dataclasses.replace(
                with_needs(sides[number], keep | {"spatial_moments"}, request), from_file={}
            )
            classifier = everywhere(group, lambda: load_extractor_for([sides[number]], target))  # noqa: B023
        assert classifier is not None
        classifiers.append(classifier)
    check_same_inputs(group, [(side.count, side.description) for side in sides])
    states = [SideState(side.extracted) for side in sides]
    extract_sources([Job(*job) for job in zip(sides, classifiers, states)], options, group)
    totals = [state.totals(group) for state in states]

    def write() -> Statistics:
        features = totals[0].features if totals[0] is not None else None
        rows = None
        if max_features is not None and features is not None and len(features) > max_features:
            rows = np.sort(np.random.RandomState(seed).choice(len(features), max_features, replace=False))
        for found, classifier, output, (target, _) in zip(totals, classifiers, outputs, targets):
            assert found is not None and found.moments is not None
            kept = found.features if with_features or max_features is not None else None
            write_statistics(
                output,
                found.moments,
                weights_sha256=classifier.weights_sha256 or classifier.identity,
                pipeline_version=pipeline_of(target, classifier),
                features=kept[rows] if kept is not None and rows is not None else kept,
                feature_rows=rows,
                spatial=found.spatial_moments,
            )
        assert totals[0] is not None
        return dataclasses.replace(read_statistics(outputs[0]), skipped_names=tuple(totals[0].skipped))

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
