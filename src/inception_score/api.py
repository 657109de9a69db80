"""The public calls: thin fronts over the engine, one per job, all taking the same `Options`.

Every front takes the image options as keywords (any field of `Options`: weights, classifier,
batch_size, device, cache, on_error, ...) or as `options=Options(...)`; a misspelt name is an
error. See the docs' API reference for each option.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import engine
from .errors import InceptionScoreError, InceptionScoreWarning
from .options import Options
from .pipeline.statistics import Statistics, is_statistics_path, read_statistics
from .results import Evaluation, FIDResult, ISResult, KIDResult, Order


def inception_score(
    source: Any,
    *,
    splits: int = 10,
    order: Order = "shuffled",
    seed: int = 2020,
    bootstrap: int = 0,
    options: Options | None = None,
    **image_options: Any,
) -> ISResult:
    """Inception Score of a folder, archive, image/.npy/.npz file(s), PIL images, an array or tensor,
    an iterable of batches or a callable ``sample(batch_size)`` with ``num_samples``.

    Parameters
    ----------
    source
        What to score (see the sources page of the docs).
    splits
        Number of splits; split i is rows ``[i*N//splits, (i+1)*N//splits)`` of the (permuted) order.
    order
        "shuffled" (default): rows permuted with ``RandomState(seed)`` first, like torch-fidelity, safe
        for class-sorted inputs; "given": the input order, like the paper's code.
    seed
        Seed of the permutation (and of the bootstrap).
    bootstrap
        Resamples for a seeded 95% interval of the 1-split score (0: none; e.g. 1000).
    options, **image_options
        How images become features: an `Options` object and/or its fields as keywords.

    Returns
    -------
    ISResult
        Mean and population std of the split scores, with provenance (weights, N, splits, order),
        diagnostics and warnings (also emitted as InceptionScoreWarning).

    Notes
    -----
    To match published numbers use the reference weights (the default), 50,000 images and
    splits=10. Per-image features are cached by content. Inside an initialised torch.distributed
    process group (or with distributed=True under torchrun) each rank scores a shard and every
    rank gets the result.
    """
    request = engine.Request(frozenset({"is"}), splits=splits, order=order, seed=seed, bootstrap=bootstrap)
    result = engine.evaluate(source, request, Options.of(options, **image_options)).inception_score
    assert result is not None
    return result


def evaluate(
    source: Any,
    *,
    reference: Any = None,
    metrics: tuple[str, ...] | str | None = None,
    fid_reference: Any = None,
    kid_reference: Any = None,
    reference_for: dict[str, Any] | None = None,
    splits: int = 10,
    order: Order = "shuffled",
    seed: int = 2020,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    kid_seed: int = 2020,
    bootstrap: int = 0,
    protocol: str = "default",
    extractors: dict[str, str] | None = None,
    options: Options | None = None,
    **image_options: Any,
) -> Evaluation:
    """IS of `source` and its FID, sFID, KID, precision/recall, density/coverage and IS/FID-infinity
    against `reference`, from one forward pass per image.

    Parameters
    ----------
    source
        Images (any source, also an ADM batch .npz), or a statistics .npz file for the distances alone.
    reference
        The other side of the distances: images, an ADM batch .npz (`arr_0` images, maybe `mu`, `sigma`,
        `mu_s`, `sigma_s`) or a statistics file (KID, precision/recall and density/coverage need one
        written with features; sFID one with spatial statistics). `fid_reference` / `kid_reference`
        override it for FID / KID.
    reference_for
        A reference for one metric, over `reference`: {"fd_dinov2": "ref_dinov2.npz"} compares the
        DINOv2 features with statistics written in that space while FID uses `reference`.
    metrics
        A choice of "is", "fid", "sfid", "kid", "pr" (precision, recall, F-score), "dc" (density,
        coverage), "inf" (IS-infinity, and FID-infinity with a reference), "cmmd" (CMMD: on the
        classifier's features when one is given, else CLIP ViT-L/14@336px's), "fd_dinov2", "fd_clip"
        (the Fréchet distance on DINOv2 ViT-L/14 / CLIP ViT-B/32 features). An extractor other than
        the classifier runs in the same pass (each image decoded once). Default: those of "is",
        "fid", "kid" the inputs can serve (IS of images, FID against a reference, KID against one
        with features; what is left out is said in a warning); "all": every metric they can serve.
    splits, order, seed, bootstrap
        The Inception Score's options (see `inception_score`).
    kid_subsets, kid_subset_size, kid_seed
        KID's random subsets (published protocol: 100 of 1000, seed 2020).
    protocol
        "default" (ours: see splits and order) or "adm": the ADM evaluator's conventions (IS over
        consecutive chunks of 5,000 images in the given order, their mean the headline; an ADM reference
        batch's own mu/sigma and mu_s/sigma_s used for FID and sFID when it has them).
    extractors
        Another registry extractor for "fd_dinov2", "fd_clip" or "cmmd", e.g. {"fd_dinov2": "dinov2-vitg14"}.
    options, **image_options
        How images become features (`Options`), for every image side. num_samples applies to
        `source`. `weights` is the classifier's (or, when only one other extractor runs, its).

    Returns
    -------
    Evaluation
        The results asked for (the others are None); `Evaluation.metrics_dict()` gives torch-fidelity's
        flat key names.
    """
    references = {metric: reference for metric in engine.REFERENCED}
    references.update(
        fid=fid_reference if fid_reference is not None else reference,
        kid=kid_reference if kid_reference is not None else reference,
    )
    for metric, value in (reference_for or {}).items():
        if metric not in engine.REFERENCED:
            raise InceptionScoreError(
                f"reference_for (--ref-for) names a metric with a reference ({', '.join(engine.REFERENCED)}); "
                f"got {metric!r}"
            )
        references[metric] = value
    wanted = engine.check_metrics(metrics if metrics is not None else _servable_metrics(source, references))
    if reference is not None and not set(engine.REFERENCED) & wanted:
        raise InceptionScoreError(f"a reference was given but none of {', '.join(engine.REFERENCED)} is in metrics")
    request = engine.Request(
        wanted,
        {m: references[m] for m in engine.REFERENCED if m in wanted and references[m] is not None},
        splits=splits,
        order=order,
        seed=seed,
        bootstrap=bootstrap,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        kid_seed=kid_seed,
        protocol=engine.check_protocol(protocol),
        automatic=metrics == "all",
        extractors=dict(extractors or {}),
    )
    return engine.evaluate(source, request, Options.of(options, **image_options))


def _servable_metrics(source: Any, references: dict[str, Any]) -> tuple[str, ...]:
    """The default metrics: all three, less those the inputs cannot serve, each left out with a warning."""
    left_out = {}
    if is_statistics_path(source):
        left_out["is"] = "the source is a statistics file, not images"
    for metric in ("fid", "kid"):
        if references[metric] is None:
            left_out[metric] = "no reference was given"
    kid_reference = references["kid"]
    if "kid" not in left_out and is_statistics_path(kid_reference) and not read_statistics(kid_reference).has_features:
        left_out["kid"] = f"{kid_reference} holds mu and sigma but no features (write it with --with-features)"
    served = tuple(metric for metric in engine.DEFAULT_METRICS if metric not in left_out)
    if served and left_out and any(references.values()):
        details = "; ".join(f"{metric.upper()}: {why}" for metric, why in left_out.items())
        warnings.warn(f"computing {', '.join(m.upper() for m in served)} only ({details})", InceptionScoreWarning, 3)
    return served or engine.DEFAULT_METRICS


def fid(a: Any, b: Any, *, options: Options | None = None, **image_options: Any) -> FIDResult:
    """FID between two sides (image sources or statistics .npz files), float64.

    Parameters
    ----------
    a, b
        Image sources or statistics files.
    options, **image_options
        How images become features (`Options`); with a custom classifier, its features.

    Returns
    -------
    FIDResult

    Notes
    -----
    Published FIDs compare 50,000 generated images with the statistics of the training set;
    FID is biased upwards for fewer images, so compare only numbers with the same N.
    """
    result = evaluate(a, reference=b, metrics=("fid",), options=options, **image_options).fid
    assert result is not None
    return result


def kid(
    a: Any,
    b: Any,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
    options: Options | None = None,
    **image_options: Any,
) -> KIDResult:
    """KID between two sides (image sources or statistics files written with features).

    Parameters
    ----------
    a, b
        Image sources or statistics files with features.
    subsets, subset_size, seed
        Random subsets (torch-fidelity's and the usual published protocol: 100 of 1000, seed 2020).
    options, **image_options
        How images become features (`Options`).

    Returns
    -------
    KIDResult
    """
    result = evaluate(
        a,
        reference=b,
        metrics=("kid",),
        kid_subsets=subsets,
        kid_subset_size=subset_size,
        kid_seed=seed,
        options=options,
        **image_options,
    ).kid
    assert result is not None
    return result


def save_statistics(
    source: Any,
    path: str | Path,
    *,
    with_features: bool = False,
    max_features: int | None = None,
    spatial: bool | None = None,
    also: Mapping[str, str | Path] | None = None,
    options: Options | None = None,
    **image_options: Any,
) -> Statistics:
    """Write the feature mean and covariance of `source` to a pytorch-fid-compatible .npz file.

    Parameters
    ----------
    source
        Images (any source).
    path
        The .npz file to write (atomically).
    with_features
        Also store every image's features (N x 2048 float32 for pool3), which KID, precision/recall and
        density/coverage need.
    max_features
        Store the features of at most this many images (a seeded random choice of rows, recorded in the
        file as `feature_rows`, when there are more); implies features.
    spatial
        Also write sFID's spatial statistics under ADM's key names `mu_s`, `sigma_s` (default: when the
        extractor gives them, as the 2015 network does).
    also
        The same statistics in other feature spaces, from the same pass over the images: registry
        extractor -> file, e.g. {"dinov2-vitl14": "ref_dinov2.npz"} (for FD_DINOv2 against it;
        `evaluate(..., reference_for={"fd_dinov2": "ref_dinov2.npz"})`). Their weights come from their
        environment variables, the cache or a download (`weights` is the main extractor's).
    options, **image_options
        How images become features (`Options`).

    Returns
    -------
    Statistics
        What was written to `path`, as read back; files skipped with on_error="skip" are in `skipped_names`.
    """
    if max_features is not None and (
        isinstance(max_features, bool) or not isinstance(max_features, int) or max_features < 2
    ):
        raise InceptionScoreError(f"max_features must be an integer >= 2, got {max_features!r}")
    return engine.summarise(
        source,
        path,
        with_features=with_features,
        max_features=max_features,
        spatial=spatial,
        also=also,
        options=Options.of(options, **image_options),
    )
