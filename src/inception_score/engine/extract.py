"""Extract: images into the states of every extractor that needs them, from a source (one pass over each
distinct input, every image decoded once) or from in-memory batches (`Evaluator.update`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..options import Options
from ..parallel.group import Group
from ..parallel.sharding import shard_of
from ..pipeline.batches import run_batch
from ..pipeline.cache import FeatureCache
from ..pipeline.extract import Head, extract_many, precision_name
from ..pipeline.extractors import Classifier
from .sides import Side
from .states import SideState


@dataclass(frozen=True)
class Job:
    """One extractor's part of a pass over one side's images, into that side's state."""

    side: Side
    classifier: Classifier
    state: SideState


def extract_sources(jobs: list[Job], options: Options, group: Group | None, *, cache: bool = True) -> None:
    """Every job's side read once for all the extractors that need it (`extract_many`).

    Under torch.distributed every rank reads a contiguous shard of each source into its own states
    (which `SideState.totals` gathers in rank order, i.e. input order).
    """
    inputs: dict[Any, list[Job]] = {}
    for job in jobs:
        inputs.setdefault(job.side.key, []).append(job)
    for same in inputs.values():
        source = same[0].side.source
        samples, count = shard_of(group, source, sample_seed=options.sample_seed)
        heads = [_head(job, options, cache) for job in same]

        def extract(show_progress: bool) -> list:
            return extract_many(
                samples if group is None else group.watch(samples),  # noqa: B023 (run now, in this iteration)
                heads,  # noqa: B023
                batch_size=options.batch_size,
                device=options.torch_device,
                progress=options.progress and show_progress,
                total=count,  # noqa: B023
                max_pixels=options.max_pixels,
                workers=0 if options.plain else options.workers,
                fast=options.fast,
                on_error=options.on_error,
            )

        found = extract(True) if group is None else group.run(lambda: extract(group.rank == 0))
        for job, features in zip(same, found):
            job.state.add_pass(features)


def _head(job: Job, options: Options, cache: bool) -> Head:
    """The extractor's part of a pass over the side's images: what the side needs of it, streamed into its state."""
    classifier, state = job.classifier, job.state
    use_cache = cache and options.cache and classifier.cache_key
    return Head(
        classifier.module,
        classifier.contract,
        FeatureCache(size_limit=options.cache_size) if use_cache else None,
        classifier.cache_key or "",
        keep_logits="logits" in state.needs,
        keep_features="features" in state.needs,
        feature_moments=state.moments,
        spatial_moments=state.spatial_moments,
    )


def extract_batch(
    chunks: list[torch.Tensor], runs: list[tuple[Classifier, SideState]], options: Options, first: int
) -> None:
    """One batch of in-memory images (chunks of N x H x W x 3 uint8 on any device) through every extractor,
    into its states; `first`: the position of its first image among those given so far."""
    device = options.torch_device
    heads = [
        Head(classifier.module, classifier.contract, keep_spatial="spatial_moments" in state.needs)
        for classifier, state in runs
    ]
    found = run_batch(chunks, heads, device, fast=options.fast, what="update() images", first_index=first)
    for (_, state), outputs in zip(runs, found):
        state.add(outputs, precision_name(device, options.fast))
