"""Extract and reduce: one pass over each distinct image input through every extractor that needs it,
in one process or over torch.distributed ranks (rows gathered to rank 0, moments summed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..maths.frechet import MomentAccumulator
from ..options import Options
from ..parallel.group import Group
from ..parallel.sharding import everywhere, shard_of
from ..pipeline.cache import FeatureCache
from ..pipeline.extract import Features, Head, extract_many
from ..pipeline.extractors import Classifier
from ..pipeline.statistics import (
    moments_of_statistics,
    read_features,
    spatial_moments_of_statistics,
)
from .plan import Side, key_of


def extract_sides(passes: list[tuple[list[Side], Classifier | None]], options: Options, group: Group | None) -> None:
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
                inputs.setdefault(key_of(side.value), []).append((side, classifier))
    for pairs in inputs.values():
        samples, count = shard_of(group, pairs[0][0].source, sample_seed=options.sample_seed)
        heads = [_head(side, classifier, options) for side, classifier in pairs]
        run = _InputRun(samples, count, options, group, heads)
        moments = [(head.feature_moments, head.spatial_moments) for head in heads]
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
            side.logits, side.features = features.logits, features.features
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
        keep_features="features" in side.needs,
        feature_moments=MomentAccumulator() if "moments" in side.needs else None,
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


def fill_moments(sides: list[Side]) -> None:
    """Mean and covariance of the image sides whose feature moments were accumulated."""
    for side in sides:
        if side.moments is None and side.accumulator is not None:
            side.moments = side.accumulator.moments()
        if side.spatial_moments is None and side.spatial_accumulator is not None:
            side.spatial_moments = side.spatial_accumulator.moments()
