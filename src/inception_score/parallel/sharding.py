"""Sharding work over ranks: which rows each rank reads, seeded draws, failures shared by every rank."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch

from ..errors import InceptionScoreError
from .group import Group

Result = TypeVar("Result")


def everywhere(group: Group | None, work: Callable[[], Result], *, main_first: bool = False) -> Result:
    """work() on every rank with failures shared (one rank's error is every rank's error).

    main_first: rank 0 runs it before the others (so one rank downloads what they all need).
    """
    if group is None:
        return work()
    if main_first:
        group.run(lambda: work() if group.rank == 0 else None)
    return group.run(work)


def on_main(group: Group | None, compute: Callable[[], Result]) -> Result:
    """compute() in this process, or on rank 0 with its result (or error) given to every rank."""
    return compute() if group is None else group.on_main(compute)


def open_everywhere(group: Group | None, open_source: Callable[[], Any]) -> Any:
    """The source every rank opens, checked to have the same length and description on all ranks."""
    source = everywhere(group, open_source)
    check_same_inputs(group, [(source.total, source.description)])
    return source


def check_same_inputs(group: Group | None, inputs: list[tuple[int | None, str]]) -> None:
    """Raise on every rank unless all ranks see the same (count, description) inputs."""
    if group is None:
        return
    seen = group.all_gather_object(inputs)
    if any(item != seen[0] for item in seen):

        def listed(items: list[tuple[int | None, str]]) -> str:
            return ", ".join(
                f"{'?' if count is None else count} images in {description}" for count, description in items
            )

        raise InceptionScoreError(
            "the ranks see different inputs: "
            + "; ".join(f"rank {rank}: {listed(items)}" for rank, items in enumerate(seen))
            + " (every rank must see the same files)"
        )


def shard_bounds(count: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rows [start, stop) of a contiguous shard; shards in rank order cover 0..count exactly once."""
    return rank * count // world_size, (rank + 1) * count // world_size


def shard_of(group: Group | None, source: Any, *, sample_seed: int | None = None) -> tuple[Iterator[Any], int | None]:
    """This process's samples of `source` and how many (None for a stream of unknown length).

    Stored inputs: the contiguous rows `shard_bounds` gives (all of them in one process). A
    callable (`source.kind == "sampler"`): this rank draws its `draw_bounds` count, with the global
    generators seeded with `draw_seed(...) + rank` when there is a seed.
    """
    rank, world_size = (group.rank, group.world_size) if group is not None else (0, 1)
    if getattr(source, "kind", "sequence") == "sampler":
        start, stop = draw_bounds(len(source), rank, world_size)
        seed = draw_seed(group, sample_seed)
        samples = source.iterate(start, stop)
        return (samples if seed is None else drawn_with_seed(samples, seed + rank)), stop - start
    if group is None:
        return source.iterate(), source.total
    start, stop = shard_bounds(len(source), rank, world_size)
    return source.iterate(start, stop), stop - start


def draw_seed(group: Group | None, sample_seed: int | None) -> int | None:
    """The base seed of a callable's draws (rank r draws with base + r): sample_seed if given; else 0
    under torch.distributed, where the ranks must not draw the same images, and None (the global
    generators left as they are) in one process."""
    if sample_seed is not None:
        return sample_seed
    return 0 if group is not None else None


def draw_bounds(count: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rows [start, stop) a rank draws from a callable: count // K each, the remainder to the first ranks."""
    base, extra = divmod(count, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def drawn_with_seed(samples: Iterator[Any], seed: int) -> Iterator[Any]:
    """`samples`, drawn with torch's (CPU and, once CUDA is in use, the current device's), numpy's
    and Python's global generators seeded with `seed`.

    The generators' previous states are restored when the samples end (the caller's training
    loop keeps its own random sequence). Other CUDA devices are left alone (no context is made).
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    cuda = torch.cuda.is_initialized()
    try:
        with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
            torch.random.default_generator.manual_seed(seed)
            if cuda:
                torch.cuda.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            yield from samples
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
