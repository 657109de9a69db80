"""torch-fidelity 0.4's `calculate_metrics(**kwargs)` over our engine: its argument names, its keys, its numbers.

A script written for torch-fidelity runs unchanged with `from inception_score.compat import calculate_metrics`.
Every argument torch-fidelity 0.4 reads is known here. Those that change a number are honoured, or
refused when the value asks for something we do not compute (another kernel, another layer); those
that only concern torch-fidelity's own machinery (its feature cache files, its data loader, its
dataset downloads) are accepted and change nothing; an unknown name is an error that lists the known
ones (torch-fidelity itself ignores a misspelt name). The inputs are read as torch-fidelity reads
them (the same files in the same order, the same split permutation and KID subset draws), so IS,
FID, KID and precision/recall agree with its own to 1e-4 relative (docs/migrating.md).
"""

from __future__ import annotations

from typing import Any

import torch

from .. import engine
from ..errors import InceptionScoreError, warn
from ..metrics import Evaluation
from ..options import Options
from ..pipeline.sources import Source
from .arguments import (
    ARGUMENTS,
    DEFAULT_EXTRACTOR,
    DEFAULTS,
    DEPRECATED,
    DEVELOPMENT,
    EXTRACTORS,
    FIXED,
    FLAG_METRICS,
    HONOURED,
    KEYS,
    NO_EFFECT,
    checked_arguments,
)
from .inputs import input_source, listed_files, resize_and_crop

__all__ = [
    "ARGUMENTS",
    "DEFAULTS",
    "DEPRECATED",
    "DEVELOPMENT",
    "FIXED",
    "HONOURED",
    "NO_EFFECT",
    "calculate_metrics",
    "checked_arguments",
    "input_source",
    "listed_files",
    "resize_and_crop",
]


def calculate_metrics(**kwargs: Any) -> dict[str, float]:
    """torch-fidelity 0.4's `calculate_metrics`: the same arguments, keys and numbers (see the module docstring).

    Parameters
    ----------
    **kwargs
        torch-fidelity's arguments (`input1`, `input2`, `isc`, `fid`, `kid`, `prc`, `isc_splits`,
        `kid_subsets`, `kid_subset_size`, `samples_shuffle`, `rng_seed`, `batch_size`, `cuda`,
        `feature_extractor_weights_path`, ...; docs/migrating.md lists each and what it does here).

    Returns
    -------
    dict
        torch-fidelity's keys for the metrics asked for (`inception_score_mean`, `inception_score_std`,
        `frechet_inception_distance`, `kernel_inception_distance_mean`, `kernel_inception_distance_std`,
        `monge_inception_distance`, `precision`, `recall`, `f_score`), in its order, as Python floats.
    """
    args = checked_arguments(kwargs)
    flags = [flag for flag in FLAG_METRICS if args[flag]]
    if not flags:
        raise InceptionScoreError("at least one metric must be specified (isc, fid, kid, prc or mind)")
    if args["input1"] is None:
        raise InceptionScoreError("input1 is required for every metric")
    if args["input2"] is None and any(flag != "isc" for flag in flags):
        raise InceptionScoreError("input2 is required for fid, kid, prc and mind (they compare two inputs)")
    groups: dict[str, list[str]] = {}
    for flag in flags:
        extractor = args["feature_extractor"] or DEFAULT_EXTRACTOR[flag]
        groups.setdefault(extractor, []).append(flag)
    if args["feature_extractor_weights_path"] is not None and len(groups) > 1:
        raise InceptionScoreError(
            "feature_extractor_weights_path names one file, but this call runs Inception (isc, fid, kid) and VGG-16 "
            "(prc), and torch-fidelity 0.4 would load that file into both: make one call per network"
        )
    sources = {side: input_source(args[f"input{side}"], args, f"input{side}") for side in (1, 2)}
    found: dict[str, float] = {}
    for extractor, group in groups.items():
        found.update(_metrics_of(_evaluate(sources, args, extractor, group), group))
    return {key: found[key] for key in KEYS if key in found}


def _evaluate(sources: dict[int, Source | None], args: dict[str, Any], extractor: str, flags: list[str]) -> Evaluation:
    """One pass of our engine through one network for torch-fidelity's flags."""
    metric_options: dict[str, Any] = dict(
        splits=args["isc_splits"],
        order="shuffled" if args["samples_shuffle"] else "given",
        seed=args["rng_seed"],
        kid_subsets=args["kid_subsets"],
        kid_subset_size=args["kid_subset_size"],
        kid_seed=args["rng_seed"],
        mind_num_projections=args["mind_num_projections"],
        mind_seed=args["rng_seed"],
    )
    options = Options(
        classifier=EXTRACTORS[extractor],
        weights=args["feature_extractor_weights_path"],
        batch_size=args["batch_size"],
        device=_device(args["cuda"]),
        cache=bool(args["cache"]),
        progress=bool(args["verbose"]),
    )
    compares = any(flag != "isc" for flag in flags)
    return engine.Evaluator(
        tuple(FLAG_METRICS[flag] for flag in flags),
        sources[2] if compares else None,
        samples=sources[1],
        options=options,
        **metric_options,
    ).compute()


def _device(cuda: bool) -> str:
    if not cuda:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    warn("cuda=True but CUDA is not available: running on the CPU")
    return "cpu"


def _metrics_of(evaluation: Evaluation, flags: list[str]) -> dict[str, float]:
    """torch-fidelity's keys for what `evaluation` holds."""
    found: dict[str, float] = {}
    if "isc" in flags:
        found.update(
            inception_score_mean=evaluation.inception_score.mean, inception_score_std=evaluation.inception_score.std
        )
    if "fid" in flags:
        found["frechet_inception_distance"] = evaluation.fid.fid
    if "kid" in flags:
        found.update(
            kernel_inception_distance_mean=evaluation.kid.mean, kernel_inception_distance_std=evaluation.kid.std
        )
    if "mind" in flags:
        found["monge_inception_distance"] = evaluation.mind.mind
    if "prc" in flags:
        manifold = evaluation.manifold
        found.update(precision=manifold.precision, recall=manifold.recall, f_score=manifold.f_score)
    return {key: float(value) for key, value in found.items()}
