"""The public calls: thin fronts over the engine, one per job, all taking the same `Options`.

Every front takes the image options as keywords (any field of `Options`: weights, classifier,
batch_size, device, cache, on_error, ...) or as `options=Options(...)`; a misspelt name is an
error. See the docs' API reference for each option.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import engine
from .engine import Evaluator
from .errors import InceptionScoreError
from .metrics import Evaluation, FIDResult, ISResult, KIDResult
from .metrics.inception import Order
from .options import Options
from .pipeline.statistics import Statistics


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
    evaluation = Evaluator(
        ("is",),
        samples=source,
        splits=splits,
        order=order,
        seed=seed,
        bootstrap=bootstrap,
        options=options,
        **image_options,
    ).compute()
    result = evaluation.inception_score
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
    **keywords: Any,
) -> Evaluation:
    """IS of `source` and its FID, sFID, KID, precision/recall, density/coverage, IS/FID-infinity, FD_DINOv2,
    FD_CLIP, CMMD, Vendi and MIND against `reference`, from one forward pass per image and extractor.

    Parameters
    ----------
    source
        Images (any source, also an ADM batch .npz), or a statistics .npz file for the distances alone.
    reference
        The other side of the distances: images, an ADM batch .npz (`arr_0` images, maybe `mu`, `sigma`,
        `mu_s`, `sigma_s`), a statistics file (KID, precision/recall and density/coverage need one
        written with features; sFID one with spatial statistics) or a catalog name.
        `fid_reference` / `kid_reference` override it for FID / KID.
    reference_for
        A reference for one metric, over `reference`: {"fd_dinov2": "ref_dinov2.npz"} compares the
        DINOv2 features with statistics written in that space while FID uses `reference`.
    metrics
        A choice of metric names (a sequence, or one comma-separated string): "is", "fid", "sfid", "kid",
        "pr" (precision, recall, F-score), "dc" (density, coverage), "inf" (IS-infinity, and
        FID-infinity with a reference), "cmmd" (on the classifier's features when one is given, else
        CLIP ViT-L/14@336px's), "fd_dinov2", "fd_clip" (the Fréchet distance on DINOv2 ViT-L/14 / CLIP
        ViT-B/32 features), "vendi" (the Vendi score of the samples), "mind" (the Monge Inception
        Distance); every output key asks for its metric too ("precision", "coverage",
        "frechet_inception_distance", "monge_inception_distance"...), and so does any metric you
        registered (`register_metric`). An extractor other than the classifier runs in the same pass
        (each image decoded once). Default: those of "is", "fid", "kid" the inputs can serve; "all":
        "is" to "inf", those the inputs can serve. What the inputs cannot serve is left out with a
        warning that says why (a metric named here is refused with the reason instead).
    splits, order, seed, bootstrap
        The Inception Score's options (see `inception_score`).
    kid_subsets, kid_subset_size, kid_seed
        KID's random subsets (published protocol: 100 of 1000, seed 2020).
    protocol
        "default" (ours: see splits and order) or "adm": the ADM evaluator's conventions (IS over
        consecutive chunks of 5,000 images in the given order, their mean the headline; an ADM reference
        batch's own mu/sigma and mu_s/sigma_s used for FID and sFID when it has them).
    extractors
        Another registry extractor for a metric, e.g. {"fd_dinov2": "dinov2-vitg14"} or {"vendi":
        "dinov2-vitl14"} (a metric of a feature family keeps to it).
    options, **keywords
        The other metric options by name (infinity_points, infinity_seed, mind_num_projections,
        mind_seed, and your metrics' options), and how images become features (`Options` and its
        fields: weights, classifier, batch_size, device...), for every image side. num_samples applies
        to `source`. `weights` is the classifier's (or, when only one other extractor runs, its).

    Returns
    -------
    Evaluation
        The results by metric key (`.inception_score`, `.fid`, ...; None for those not computed);
        `Evaluation.metrics_dict()` gives torch-fidelity's flat key names.
    """
    return Evaluator(
        metrics,
        reference,
        samples=source,
        reference_for=reference_for,
        fid_reference=fid_reference,
        kid_reference=kid_reference,
        protocol=protocol,
        extractors=extractors,
        splits=splits,
        order=order,
        seed=seed,
        bootstrap=bootstrap,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        kid_seed=kid_seed,
        options=options,
        **keywords,
    ).compute()


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
