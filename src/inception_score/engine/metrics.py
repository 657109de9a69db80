"""Results: each metric computed from what the pass extracted, with its provenance and warnings."""

from __future__ import annotations

import dataclasses
import warnings as python_warnings
from typing import Any

import numpy as np

from ..errors import InceptionScoreError, InceptionScoreWarning
from ..maths.cmmd import SCALE as CMMD_SCALE
from ..maths.cmmd import SIGMA as CMMD_SIGMA
from ..maths.cmmd import cmmd
from ..maths.extrapolation import extrapolate
from ..maths.frechet import frechet_of_moments, moments_of
from ..maths.inception import LogProbabilities, split_score
from ..maths.neighbours import manifold_metrics
from ..options import Options
from ..pipeline.extract import PIPELINE_VERSION, precision_name
from ..pipeline.extractors import Classifier
from ..pipeline.references import protocol_warnings
from ..pipeline.statistics import (
    provenance_warnings,
)
from ..pipeline.weights import REFERENCE_SHA256, TORCHVISION
from ..results import (
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
    fid_from_moments,
    inception_score_from_log_probabilities,
    kernel_inception_distance,
    small_sample_warning,
)
from .extract import fill_moments
from .plan import ADM_SPLIT_SIZE, CMMD_SPACE, Request, Side, feature_space_of, key_of


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


def pipeline_of(options: Options, classifier: Classifier | None) -> str:
    """The pipeline version (with the extractor when it is not the 2015 network, and the precision
    when it is not exact float32)."""
    version = PIPELINE_VERSION
    if classifier is not None and classifier.name != "inception-2015":
        version += f"; extractor {classifier.name} {classifier.identity}"
    precision = precision_name(options.torch_device, options.fast)
    return version if precision == "float32" else f"{version}; {precision}"


def build_results(
    sides: list[Side],
    main: Side,
    classifier: Classifier | None,
    request: Request,
    options: Options,
    sampling: dict[str, Any],
) -> Evaluation:
    """The results from what `extract_sides` filled in (on rank 0 under torch.distributed).

    `sampling`: world_size and sample_seed, recorded in every result.
    """
    fill_moments(sides)
    sha256 = classifier.weights_sha256 if classifier is not None else None
    pipeline = pipeline_of(options, classifier) if classifier is not None else None
    sha256, pipeline, file_warnings = _provenance(sides, sha256, pipeline)
    file_warnings = run_warnings(sides, options) + file_warnings
    evaluation = Evaluation(protocol=request.protocol)
    if "is" in request.metrics:
        assert main.logits is not None
        result = (adm_result_from_logits if request.protocol == "adm" else result_from_logits)(
            main.logits,
            sha256,
            splits=request.splits,
            order=request.order,
            seed=request.seed,
            warnings=run_warnings([main], options),
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
        described = _described(fid_side, ("mu", "sigma"))
        warnings = _warnings(sha256, named, file_warnings, notes)
        evaluation = dataclasses.replace(
            evaluation, fid=_against(fid, fid_side, described, fid.n_b, warnings, space, context)
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
        warnings = _warnings(sha256, named, file_warnings, notes)
        evaluation = dataclasses.replace(
            evaluation, kid=_against(kid, kid_side, kid_side.description, kid.n_b, warnings, space, context)
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


def _against(
    result: Any, side: Side, described: str, n: int | None, warnings: list[str], space: str | None, context: dict
) -> Any:
    """A distance result (FID, KID) with what it was compared against, its warnings and provenance."""
    reference = _reference_provenance(side, n)
    return dataclasses.replace(
        result, b=described, warnings=warnings, reference=reference, feature_space=space, **context
    )


def _reference_provenance(side: Side, n: int | None) -> dict[str, Any] | None:
    """Catalog name, sha256 (and where it came from), protocol and N of a catalog reference side."""
    return side.reference.provenance(n) if side.reference is not None else None


def _reference_side(sides: list[Side], request: Request, metric: str) -> Side:
    return next(side for side in sides if key_of(side.value) == key_of(request.references[metric]))


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
    assert pr is not None and dc is not None and realism is not None  # both asked for (the defaults)
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
        if side.statistics is not None and (side.reference is None or side.reference.protocol.name == "inception-score")
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
        for message in protocol_warnings(side.reference.entry, sha256, pipeline, side.reference.protocol)
    ]
    for message in messages:
        python_warnings.warn(message, InceptionScoreWarning, stacklevel=7)
    return sha256, pipeline, messages


def run_warnings(sides: list[Side], options: Options) -> list[str]:
    """What a result says about the run: fast mode off CUDA, damaged cache entries, the sides' notes, skipped files."""
    warnings = []
    if options.fast and options.torch_device.type != "cuda" and any(side.source is not None for side in sides):
        warnings.append("fast has no effect on this device: the network ran in exact float32")
    corrupt = sum(side.corrupt_cache_entries for side in sides)
    if corrupt:
        warnings.append(f"{corrupt} damaged feature cache entries were removed and recomputed")
    warnings += dict.fromkeys(note for side in sides for note in side.cache_problems + side.notes)
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
