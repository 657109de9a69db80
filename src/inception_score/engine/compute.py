"""Compute: each metric's result from the extracted states, with the pass's provenance and the warnings
that apply to the sides it compares (on rank 0 under torch.distributed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..metrics import Inputs, Metric, Provenance, SideData
from ..options import Options
from ..pipeline.extract import PIPELINE_VERSION, precision_name
from ..pipeline.extractors import REGISTRY, Classifier
from ..pipeline.references import protocol_warnings
from ..pipeline.statistics import (
    moments_of_statistics,
    provenance_warnings,
    read_features,
    spatial_moments_of_statistics,
)
from ..pipeline.weights import REFERENCE_SHA256, TORCHVISION
from .plan import Request
from .sides import FILE_KEYS, Side, feature_space_of
from .states import Totals


def side_data(side: Side, totals: Totals | None) -> SideData:
    """What the metrics see of a side: its extracted totals, its file's statistics, and its description."""
    from_file = dict(side.from_file)
    statistics = side.statistics
    if statistics is not None:
        if "moments" in side.needs:
            from_file["moments"] = moments_of_statistics(statistics)
        if "spatial_moments" in side.needs:
            from_file["spatial_moments"] = spatial_moments_of_statistics(statistics)
    features = totals.features if totals is not None else None
    if statistics is not None and "features" in side.needs:
        features = read_features(statistics)
    return SideData(
        side.description,
        count=totals.count if totals is not None else side.count,
        names=totals.names if totals is not None else None,
        skipped=totals.skipped if totals is not None else (),
        cached=totals.cached if totals is not None else 0,
        from_file=tuple(key for state in side.from_file for key in FILE_KEYS[state]),
        reference=side.reference.provenance() if side.reference is not None else None,
        logits=totals.logits if totals is not None else None,
        features=features,
        moments=from_file.get("moments", totals.moments if totals is not None else None),
        spatial_moments=from_file.get("spatial_moments", totals.spatial_moments if totals is not None else None),
    )


def provenance_of(
    sides: list[Side], classifier: Classifier | None, options: Options, sampling: Mapping[str, Any]
) -> tuple[Provenance, dict[Any, list[str]]]:
    """The pass's provenance (weights, pipeline, feature space, ranks, draws, arithmetic), and per side the
    warnings about files made otherwise (other weights or pipeline, a catalog file of another protocol)."""
    sha256 = classifier.weights_sha256 if classifier is not None else None
    pipeline = pipeline_of(options, classifier) if classifier is not None else None
    # a catalog file from other tools says nothing of how it was made: its entry's protocol does
    files = {
        side.key: side.statistics
        for side in sides
        if side.statistics is not None and (side.reference is None or side.reference.protocol.name == "inception-score")
    }
    if sha256 is None and pipeline is None:
        described = [stats for stats in files.values() if stats.weights_sha256 and stats.pipeline_version]
        if described:
            sha256, pipeline = described[0].weights_sha256, described[0].pipeline_version
    notes: dict[Any, list[str]] = {}
    for side in sides:
        statistics = files.get(side.key)
        found = provenance_warnings(statistics, sha256, pipeline) if statistics is not None else []
        if side.reference is not None:
            found += protocol_warnings(side.reference.entry, sha256, pipeline, side.reference.protocol)
        notes[side.key] = found
    provenance = Provenance(
        weights_sha256=sha256,
        # a network that ran is the reference one or not; statistics files alone say it only with a hash
        reference_weights=sha256 == REFERENCE_SHA256 if classifier is not None or sha256 else None,
        pipeline_version=pipeline,
        world_size=sampling["world_size"],
        sample_seed=sampling["sample_seed"],
        feature_space=feature_space_of(sides, classifier),
        classifier=classifier.describe() if classifier is not None else None,
        arithmetic=precision_name(options.torch_device, options.fast) if classifier is not None else None,
    )
    return provenance, notes


def pipeline_of(options: Options, classifier: Classifier | None) -> str:
    """The pipeline version (with the extractor when it is not the 2015 network, and the precision
    when it is not exact float32)."""
    version = PIPELINE_VERSION
    if classifier is not None and classifier.name != "inception-2015":
        version += f"; extractor {classifier.name} {classifier.identity}"
    precision = precision_name(options.torch_device, options.fast)
    return version if precision == "float32" else f"{version}; {precision}"


def weights_warnings(provenance: Provenance) -> list[str]:
    """What every result of a pass says about its network's weights when they are not the published ones."""
    sha256, space = provenance.weights_sha256, provenance.feature_space
    if not sha256:
        return []
    if space in (None, "inception-2015") and sha256 != REFERENCE_SHA256:
        return [
            f"weights {sha256[:12]}... are not the reference 2015 Inception weights: "
            "scores are not comparable to published ones"
        ]
    if space == "torchvision":
        known = "" if TORCHVISION.matches(sha256) else f" (weights {sha256[:12]}... are not torchvision's file)"
        return [
            f"torchvision's ImageNet Inception v3{known}: comparable only to scores computed with "
            "it (about 9.7 on CIFAR-10), not to the paper's protocol (11.24)"
        ]
    entry = REGISTRY.get(space or "")
    if entry is not None and entry.weights.sha256 is not None and not entry.weights.matches(sha256):
        return [
            f"weights {sha256[:12]}... are not the published {space} weights ({entry.weights.filename}, sha256 "
            f"{entry.weights.sha256[:12]}...): numbers in its feature space are not comparable to published ones"
        ]
    return []


def run_warnings(sides: list[Side], totals: Mapping[Any, Totals], options: Options) -> list[str]:
    """What a result says about the run: fast mode off CUDA, damaged cache entries, the sides' notes, skipped files."""
    warnings = []
    if options.fast and options.torch_device.type != "cuda" and any(side.key in totals for side in sides):
        warnings.append("fast has no effect on this device: the network ran in exact float32")
    found = [totals[side.key] for side in sides if side.key in totals]
    corrupt = sum(total.corrupt_cache_entries for total in found)
    if corrupt:
        warnings.append(f"{corrupt} damaged feature cache entries were removed and recomputed")
    warnings += dict.fromkeys([*(problem for total in found for problem in total.cache_problems)])
    warnings += dict.fromkeys(note for side in sides for note in side.notes)
    return warnings + skipped_warnings([name for total in found for name in total.skipped])


def skipped_warnings(skipped: list[str]) -> list[str]:
    """The warning for files left out with on_error="skip"."""
    if not skipped:
        return []
    shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    return [
        f"{len(skipped)} undecodable file{'s were' if len(skipped) > 1 else ' was'} skipped (--skip-bad): "
        f"{shown}; the score is of the other images"
    ]


def inputs_of(
    metric: Metric,
    parts: frozenset[str],
    used: list[Side],
    data: Mapping[Any, SideData],
    request: Request,
    provenance: Provenance,
    notes: list[str],
) -> Inputs:
    """What one metric's computation receives: the samples' side and its reference (`used`), its options."""
    return Inputs(
        data[used[0].key],
        data[used[1].key] if len(used) > 1 else None,
        request.options,
        parts,
        request.protocol,
        provenance,
        tuple(dict.fromkeys(notes)),
    )
