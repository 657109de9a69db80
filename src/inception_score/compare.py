"""FID and KID between two sides, IS + FID + KID from one forward pass, and statistics files.

A side is any image source (see sources.open_source) or a path to a statistics .npz file.
Each distinct side goes through the network once, whatever metrics need it.
"""
from __future__ import annotations

import dataclasses
import os
import warnings as python_warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .api import (SMALL_N, check_on_error, load_model, open_input, result_from_logits, skipped_warnings,
                  weights_warnings)
from .cache import DEFAULT_SIZE_LIMIT, FeatureCache
from .distributed import Group, check_same_inputs, draw_seed, everywhere, join, on_main, shard_of
from .errors import InceptionScoreError, InceptionScoreWarning
from .features import PIPELINE_VERSION, default_device, extract_features, precision_name
from .metrics import (FIDResult, ISResult, KIDResult, MomentAccumulator, Moments, Order, check_kid_options,
                      fid_from_moments, kernel_inception_distance)
from .sources import DEFAULT_MAX_PIXELS, Layout, OnError, Source
from .stats import (Statistics, check_output_path, is_statistics_path, moments_of_statistics,
                    provenance_warnings, read_features, read_statistics, require_features, write_statistics)
from .weights import REFERENCE_SHA256

METRICS = ("is", "fid", "kid")


@dataclass(frozen=True)
class Evaluation:
    """The metrics computed together by `evaluate`; those not asked for are None."""

    inception_score: ISResult | None = None
    fid: FIDResult | None = None
    kid: KIDResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """IS fields at the top level (as `inception-score score --json`), FID and KID under "fid" and "kid"."""
        out = self.inception_score.to_dict() if self.inception_score else {}
        for name, result in (("fid", self.fid), ("kid", self.kid)):
            if result is not None:
                out[name] = result.to_dict()
        return out

    @property
    def warnings(self) -> list[str]:
        """Every warning of every result, once."""
        results = (self.inception_score, self.fid, self.kid)
        return list(dict.fromkeys(w for result in results if result is not None for w in result.warnings))

    def summary(self) -> str:
        return "\n".join(result.summary() for result in (self.inception_score, self.fid, self.kid) if result)

    def save_report(self, path: str | Path, *, source: Any = None, **options: Any) -> Path:
        """The HTML report of the Inception Score with FID and KID in it (see ISResult.save_report)."""
        if self.inception_score is None:
            raise InceptionScoreError("the report explains an Inception Score: include 'is' in metrics")
        from .report import save_report
        return save_report(self.inception_score, path, source=source, fid=self.fid, kid=self.kid, **options)


@dataclass(frozen=True)
class _Run:
    """How images go through the network (the same options as `inception_score`)."""

    weights: str | Path | None
    batch_size: int | None
    device: str | torch.device | None
    progress: bool
    max_pixels: int
    fast: bool
    cache: bool
    cache_size: int
    workers: int | None
    npz_key: str | None = None
    value_range: tuple[float, float] | None = None
    layout: Layout | None = None
    on_error: OnError = "stop"
    sample_seed: int | None = None  # a callable's draws: seeded with sample_seed + rank (distributed.shard_of)

    def check(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise InceptionScoreError(f"batch_size must be at least 1, got {self.batch_size}")
        check_on_error(self.on_error)

    def open(self, value: Any, num_samples: int | None, distributed: bool) -> Source:
        """An image side opened with the run's input options."""
        return open_input(value, distributed=distributed, npz_key=self.npz_key, value_range=self.value_range,
                          layout=self.layout, num_samples=num_samples, batch_size=self.batch_size)

    @property
    def pipeline(self) -> str:
        """The pipeline version, with the precision when it is not exact float32 (fast mode)."""
        precision = precision_name(torch.device(self.device) if self.device else default_device(), self.fast)
        return PIPELINE_VERSION if precision == "float32" else f"{PIPELINE_VERSION}; {precision}"


@dataclass
class _Side:
    """One distinct input, what the metrics need from it, and what was computed."""

    value: Any
    description: str
    source: Source | None = None
    statistics: Statistics | None = None
    needs: set[str] = field(default_factory=set)  # "logits", "moments", "features"
    logits: np.ndarray | None = None
    moments: Moments | None = None
    accumulator: MomentAccumulator | None = None
    features: np.ndarray | None = None
    cached: int = 0
    precision: str | None = None
    corrupt_cache_entries: int = 0
    names: list[str] | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def count(self) -> int | None:
        """Number of images (for a statistics file: its stored n, or its number of stored features);
        None for a stream not read yet."""
        if self.source is not None:
            return len(self.names) if self.names is not None else self.source.total
        if "features" in self.needs and self.statistics.has_features:
            return self.statistics.features_shape[0]
        return self.statistics.n


def evaluate(source: Any, *, reference: Any = None, metrics: tuple[str, ...] = METRICS,
             fid_reference: Any = None, kid_reference: Any = None, splits: int = 10,
             order: Order = "shuffled", seed: int = 2020, kid_subsets: int = 100, kid_subset_size: int = 1000,
             kid_seed: int = 2020, weights: str | Path | None = None, batch_size: int | None = None,
             device: str | torch.device | None = None, progress: bool = True,
             max_pixels: int = DEFAULT_MAX_PIXELS, fast: bool = False, cache: bool = True,
             cache_size: int = DEFAULT_SIZE_LIMIT, workers: int | None = None, bootstrap: int = 0,
             distributed: bool | None = None, npz_key: str | None = None,
             value_range: tuple[float, float] | None = None, layout: Layout | None = None,
             num_samples: int | None = None, on_error: OnError = "stop",
             sample_seed: int | None = None) -> Evaluation:
    """IS of `source` and its FID and KID against `reference`, from one forward pass per image.

    `source` and the references may be image sources or statistics .npz files (IS needs images;
    KID needs a file written with features). `fid_reference` / `kid_reference` override `reference`
    for one metric. The network options are those of `inception_score` (feature cache included).
    Notes: the published protocols are IS with 10 splits on 50,000 images, FID of 50,000
    images against the training set's statistics, KID with 100 subsets of 1000. bootstrap=1000
    adds the IS's bootstrap interval; `.save_report(path, source=...)` writes the HTML report.
    Inside an initialised torch.distributed process group (or with distributed=True under
    torchrun) each rank extracts a shard of every image side and every rank gets the result;
    distributed=False computes in this process alone. Input options (npz_key, value_range, layout,
    on_error) apply to every image side, num_samples to `source` (a callable or iterable), and
    sample_seed to a callable's draws (see `inception_score`).
    """
    run = _Run(weights, batch_size, device, progress, max_pixels, fast, cache, cache_size, workers,
               npz_key, value_range, layout, on_error, sample_seed)
    wanted = _check_metrics(metrics)
    references = {"fid": fid_reference if fid_reference is not None else reference,
                  "kid": kid_reference if kid_reference is not None else reference}
    for metric in ("fid", "kid"):
        if metric in wanted and references[metric] is None:
            raise InceptionScoreError(f"{metric.upper()} needs a reference: pass reference=... (CLI: --{metric} REF), "
                                      f"or leave {metric!r} out of metrics")
    if reference is not None and not {"fid", "kid"} & wanted:
        raise InceptionScoreError("a reference was given but neither 'fid' nor 'kid' is in metrics")
    run.check()
    group = join(distributed)

    def open_sides() -> tuple[dict[Any, _Side], _Side, _Side | None, _Side | None]:
        sides: dict[Any, _Side] = {}
        inputs = dict(run=run, distributed=group is not None)
        main = _side(sides, source, {"logits"} if "is" in wanted else set(), num_samples=num_samples, **inputs)
        for metric, need in (("fid", "moments"), ("kid", "features")):
            if metric in wanted:
                main.needs.add(need)
                _side(sides, references[metric], {need}, **inputs)
        fid_side = sides[_key(references["fid"])] if "fid" in wanted else None
        kid_side = sides[_key(references["kid"])] if "kid" in wanted else None
        _check_before_pass(main, kid_side, wanted, splits=splits, kid_subsets=kid_subsets,
                           kid_subset_size=kid_subset_size)
        return sides, main, fid_side, kid_side

    sides, main, fid_side, kid_side = everywhere(group, open_sides)
    check_same_inputs(group, [(side.count, side.description) for side in sides.values()])
    sha256 = _compute(list(sides.values()), run, group)
    world_size = group.world_size if group is not None else 1
    drawn = main.source is not None and main.source.kind == "sampler"
    sampling = dict(world_size=world_size, sample_seed=draw_seed(group, sample_seed) if drawn else None)
    return on_main(group, lambda: _evaluation(
        list(sides.values()), main, fid_side, kid_side, sha256, run, wanted, sampling, splits=splits, order=order,
        seed=seed, bootstrap=bootstrap, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, kid_seed=kid_seed))


def _evaluation(sides: list[_Side], main: _Side, fid_side: _Side | None, kid_side: _Side | None,
                sha256: str | None, run: _Run, wanted: set[str], sampling: dict[str, Any], *, splits: int, order: Order,
                seed: int, bootstrap: int, kid_subsets: int, kid_subset_size: int, kid_seed: int) -> Evaluation:
    """The results from what `_compute` filled in (on rank 0 under torch.distributed).

    `sampling`: world_size and sample_seed, recorded in every result.
    """
    _fill_moments(sides)
    sha256, pipeline, file_warnings = _provenance(sides, sha256, run.pipeline)
    file_warnings = _run_warnings(sides, run) + file_warnings
    evaluation = Evaluation()
    if "is" in wanted:
        result = result_from_logits(main.logits, sha256, splits=splits, order=order, seed=seed,
                                    warnings=_run_warnings([main], run), bootstrap=bootstrap, names=main.names,
                                    world_size=sampling["world_size"])
        evaluation = dataclasses.replace(evaluation, inception_score=dataclasses.replace(
            result, precision=main.precision, cached=main.cached, skipped=len(main.skipped),
            skipped_names=list(main.skipped), sample_seed=sampling["sample_seed"]))
    context = dict(a=main.description, weights_sha256=sha256, pipeline_version=pipeline, **sampling,
                   reference_weights=None if sha256 is None else sha256 == REFERENCE_SHA256)
    if fid_side is not None:
        result = fid_from_moments(main.moments, fid_side.moments)
        notes = _fid_warnings(result.n_a, result.n_b)
        evaluation = dataclasses.replace(evaluation, fid=dataclasses.replace(
            result, b=fid_side.description, warnings=_warnings(sha256, file_warnings, notes), **context))
    if kid_side is not None:
        result = kernel_inception_distance(main.features, kid_side.features, subsets=kid_subsets,
                                           subset_size=kid_subset_size, seed=kid_seed)
        notes = _kid_warnings(kid_subsets, kid_subset_size)
        evaluation = dataclasses.replace(evaluation, kid=dataclasses.replace(
            result, b=kid_side.description, warnings=_warnings(sha256, file_warnings, notes), **context))
    return evaluation


def fid(a: Any, b: Any, *, weights: str | Path | None = None, batch_size: int | None = None,
        device: str | torch.device | None = None, progress: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS,
        fast: bool = False, cache: bool = True, cache_size: int = DEFAULT_SIZE_LIMIT,
        workers: int | None = None, distributed: bool | None = None, npz_key: str | None = None, value_range: tuple[float, float] | None = None,
        layout: Layout | None = None, num_samples: int | None = None, on_error: OnError = "stop",
        sample_seed: int | None = None) -> FIDResult:
    """FID between two sides (image sources or statistics .npz files), pool3 features, float64.

    Notes: published FIDs compare 50,000 generated images with the statistics of the training
    set; FID is biased upwards for fewer images, so compare only numbers with the same N.
    The network options (and `distributed`) are those of `inception_score`.
    """
    return evaluate(a, reference=b, metrics=("fid",), weights=weights, batch_size=batch_size, device=device,
                    progress=progress, max_pixels=max_pixels, fast=fast, cache=cache, cache_size=cache_size,
                    workers=workers, distributed=distributed, npz_key=npz_key, value_range=value_range, layout=layout,
                    num_samples=num_samples, on_error=on_error, sample_seed=sample_seed).fid


def kid(a: Any, b: Any, *, subsets: int = 100, subset_size: int = 1000, seed: int = 2020,
        weights: str | Path | None = None, batch_size: int | None = None, device: str | torch.device | None = None,
        progress: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS, fast: bool = False, cache: bool = True,
        cache_size: int = DEFAULT_SIZE_LIMIT, workers: int | None = None,
        distributed: bool | None = None, npz_key: str | None = None, value_range: tuple[float, float] | None = None,
        layout: Layout | None = None, num_samples: int | None = None, on_error: OnError = "stop",
        sample_seed: int | None = None) -> KIDResult:
    """KID between two sides (image sources or statistics files written with features).

    Notes: torch-fidelity's (and the usual published) protocol is 100 subsets of 1000, seed 2020.
    The network options (and `distributed`) are those of `inception_score`.
    """
    return evaluate(a, reference=b, metrics=("kid",), kid_subsets=subsets, kid_subset_size=subset_size,
                    kid_seed=seed, weights=weights, batch_size=batch_size, device=device, progress=progress,
                    max_pixels=max_pixels, fast=fast, cache=cache, cache_size=cache_size, workers=workers,
                    distributed=distributed, npz_key=npz_key, value_range=value_range, layout=layout,
                    num_samples=num_samples, on_error=on_error, sample_seed=sample_seed).kid


def save_statistics(source: Any, path: str | Path, *, with_features: bool = False,
                    weights: str | Path | None = None, batch_size: int | None = None,
                    device: str | torch.device | None = None, progress: bool = True,
                    max_pixels: int = DEFAULT_MAX_PIXELS, fast: bool = False, cache: bool = True,
                    cache_size: int = DEFAULT_SIZE_LIMIT, workers: int | None = None,
                    distributed: bool | None = None, npz_key: str | None = None, value_range: tuple[float, float] | None = None,
                    layout: Layout | None = None, num_samples: int | None = None, on_error: OnError = "stop",
                    sample_seed: int | None = None) -> Statistics:
    """Write the pool3 mean and covariance of `source` to a pytorch-fid-compatible .npz file.

    with_features=True also stores every image's features (N x 2048 float32), which KID needs.
    Under torch.distributed (see `evaluate`) the ranks share the extraction, rank 0 alone
    writes the file and every rank gets what was written. The input options are those of `evaluate`;
    files skipped with on_error="skip" are in the returned `skipped_names`.
    """
    run = _Run(weights, batch_size, device, progress, max_pixels, fast, cache, cache_size, workers,
               npz_key, value_range, layout, on_error, sample_seed)
    run.check()
    group = join(distributed)
    writes = group is None or group.rank == 0
    output = everywhere(group, lambda: check_output_path(path) if writes else Path(path))

    def open_side() -> _Side:
        side = _side({}, source, {"moments", "features"} if with_features else {"moments"}, run=run,
                     num_samples=num_samples, distributed=group is not None)
        if side.statistics is not None:
            raise InceptionScoreError(f"{side.description} is already a statistics file; give images to summarise")
        return side

    side = everywhere(group, open_side)
    check_same_inputs(group, [(side.count, side.description)])
    sha256 = _compute([side], run, group)

    def write() -> Statistics:
        _fill_moments([side])
        write_statistics(output, side.moments, weights_sha256=sha256, pipeline_version=run.pipeline,
                         features=side.features if with_features else None)
        return dataclasses.replace(read_statistics(output), skipped_names=tuple(side.skipped))
    return on_main(group, write)


def _check_metrics(metrics: tuple[str, ...]) -> set[str]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InceptionScoreError(f"metrics must be a non-empty choice of {', '.join(METRICS)}; got {metrics!r}")
    return set(metrics)


def _key(value: Any) -> Any:
    """Equal keys for the same input given twice (same path, or the same object)."""
    if isinstance(value, (str, os.PathLike)):
        return ("path", str(Path(value).resolve()))
    return ("object", id(value))


def _side(sides: dict[Any, _Side], value: Any, needs: set[str], *, run: _Run, distributed: bool,
          num_samples: int | None = None) -> _Side:
    key = _key(value)
    if key not in sides:
        if is_statistics_path(value):
            statistics = read_statistics(value)
            sides[key] = _Side(value, f"statistics {statistics.path}", statistics=statistics)
        else:
            source = run.open(value, num_samples, distributed)
            sides[key] = _Side(value, source.description, source=source)
    side = sides[key]
    side.needs |= needs
    if side.statistics is not None and "logits" in side.needs:
        raise InceptionScoreError(f"{side.description} holds statistics, not images: it gives FID and KID but not IS")
    return side


def _check_before_pass(main: _Side, kid_side: _Side | None, wanted: set[str], *, splits: int,
                       kid_subsets: int, kid_subset_size: int) -> None:
    """Errors that need no features are raised before the (long) forward pass."""
    count = main.source.total if main.source is not None else None
    if "is" in wanted and isinstance(splits, int) and count is not None and count < splits:
        raise InceptionScoreError(
            f"{main.description}: {count} images cannot be cut into {splits} splits; "
            f"use --splits {count} or fewer, or score more images (50,000 is the convention)")
    if kid_side is not None:
        for side in (main, kid_side):
            if side.statistics is not None:
                require_features(side.statistics)
        if None in (main.count, kid_side.count):
            return  # a stream: checked by the KID computation once read
        check_kid_options(main.count, kid_side.count, subsets=kid_subsets, subset_size=kid_subset_size)


def _compute(sides: list[_Side], run: _Run, group: Group | None = None) -> str | None:
    """Fill in what each side needs: one forward pass per image source; returns the weights' sha256 if used.

    Under torch.distributed every rank extracts a contiguous shard of each image source; logits
    and features are gathered to rank 0 in input order and the pool3 moments summed there, so
    only rank 0's sides are filled in. Statistics files are read on rank 0 alone.
    """
    def read_files() -> None:
        for side in sides:
            if side.statistics is not None and "moments" in side.needs:
                side.moments = moments_of_statistics(side.statistics)
            if side.statistics is not None and "features" in side.needs:
                side.features = read_features(side.statistics)
    everywhere(group, lambda: read_files() if group is None or group.rank == 0 else None)
    images = [side for side in sides if side.source is not None]
    if not images:
        return None
    model, sha256 = everywhere(group, lambda: load_model(run.weights, progress=run.progress), main_first=True)
    for side in images:
        accumulator = MomentAccumulator() if "moments" in side.needs else None

        def extract(samples: Iterator[Any], total: int | None, show_progress: bool):
            return extract_features(
                samples if group is None else group.watch(samples), model, batch_size=run.batch_size,
                device=run.device or default_device(), progress=run.progress and show_progress, total=total,
                max_pixels=run.max_pixels, workers=run.workers, fast=run.fast,
                cache=FeatureCache(size_limit=run.cache_size) if run.cache else None, model_id=sha256,
                keep_pool3="features" in side.needs, pool3_moments=accumulator, on_error=run.on_error)
        samples, count = shard_of(group, side.source, sample_seed=run.sample_seed)
        if group is None:
            features = extract(samples, count, True)
        else:
            features = group.run(lambda: extract(samples, count, group.rank == 0))
            features = group.gather_dataclass(features, skip=() if "logits" in side.needs else ("logits",))
            accumulator = group.reduce_moments(accumulator) if accumulator is not None else None
        if features is None:  # not rank 0: the gathered results live there
            continue
        side.logits, side.features = features.logits, features.pool3
        side.cached, side.precision = len(features.names) - features.computed, features.precision
        side.corrupt_cache_entries = features.corrupt_cache_entries
        side.names = features.names
        side.skipped = features.skipped
        side.accumulator = accumulator
    return sha256


def _fill_moments(sides: list[_Side]) -> None:
    """Mean and covariance of the image sides whose pool3 moments were accumulated."""
    for side in sides:
        if side.moments is None and side.accumulator is not None:
            side.moments = side.accumulator.moments()


def _provenance(sides: list[_Side], sha256: str | None,
                run_pipeline: str) -> tuple[str | None, str | None, list[str]]:
    """The weights and pipeline of this comparison, and warnings for files made otherwise."""
    files = [side.statistics for side in sides if side.statistics is not None]
    pipeline = run_pipeline if sha256 is not None else None
    if sha256 is None:
        described = [s for s in files if s.weights_sha256 is not None and s.pipeline_version is not None]
        if described:
            sha256, pipeline = described[0].weights_sha256, described[0].pipeline_version
    messages = [message for statistics in files for message in provenance_warnings(statistics, sha256, pipeline)]
    for message in messages:
        python_warnings.warn(message, InceptionScoreWarning, stacklevel=7)
    return sha256, pipeline, messages


def _run_warnings(sides: list[_Side], run: _Run) -> list[str]:
    """What `inception_score` also says about the run: fast mode off CUDA, damaged cache entries."""
    warnings = []
    device = torch.device(run.device) if run.device else default_device()
    if run.fast and device.type != "cuda" and any(side.source is not None for side in sides):
        warnings.append("fast has no effect on this device: the network ran in exact float32")
    corrupt = sum(side.corrupt_cache_entries for side in sides)
    if corrupt:
        warnings.append(f"{corrupt} damaged feature cache entries were removed and recomputed")
    return warnings + skipped_warnings([name for side in sides for name in side.skipped])


def _warnings(sha256: str | None, file_warnings: list[str], notes: list[str]) -> list[str]:
    return (weights_warnings(sha256) if sha256 else []) + file_warnings + notes


def _fid_warnings(n_a: int | None, n_b: int | None) -> list[str]:
    sizes = [n for n in (n_a, n_b) if n is not None]
    if sizes and min(sizes) < SMALL_N:
        return [f"FID from {n_a if n_a is not None else '?'} vs {n_b if n_b is not None else '?'} images: FID is "
                "biased upwards for small sets; compare only numbers computed with the same numbers of images "
                "(50,000 is the convention)"]
    return []


def _kid_warnings(subsets: int, subset_size: int) -> list[str]:
    if (subsets, subset_size) == (100, 1000):
        return []
    return [f"KID with {subsets} subsets of {subset_size}: published KIDs use 100 subsets of 1000"]
