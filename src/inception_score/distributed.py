"""Scale out with torch.distributed: each rank scores a contiguous shard, rank 0 computes the metric.

Launched by `torchrun`, every rank opens the same source, takes rows
[rank * N // K, (rank + 1) * N // K) of it, extracts features, and gathers them to rank 0 in rank
order, which is the input order; rank 0 computes the result and broadcasts it, so every rank
returns the same object. A rank that fails posts its message in the process group's key-value
store; the others see it before their next image and every rank raises the same error. Waiting
for the slowest rank is bounded by a timeout (INCEPTION_SCORE_DIST_TIMEOUT seconds, default 1800).
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist

from .errors import InceptionScoreError
from .metrics import MomentAccumulator

TIMEOUT_ENV = "INCEPTION_SCORE_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0
_POLL_S = 0.2  # how often a rank looks for a failure posted by another rank
_EXIT_WAIT_S = 10.0
_calls = 0  # distributed calls made by this process; every rank makes them in the same order

Result = TypeVar("Result")


class PeerFailed(Exception):
    """Another rank posted a failure; raised inside this rank's extraction to stop it early."""


def launched_by_torchrun() -> bool:
    """True when the environment describes a process group (torchrun sets these variables)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def timeout_seconds() -> float:
    """The collective timeout: $INCEPTION_SCORE_DIST_TIMEOUT seconds, default 1800."""
    text = os.environ.get(TIMEOUT_ENV)
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InceptionScoreError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {text!r}")
    return value


def init_from_env(device: str | torch.device | None = None) -> None:
    """Join the process group torchrun describes: nccl for CUDA tensors, gloo for CPU ones.

    On CUDA each rank uses the GPU numbered by LOCAL_RANK (unless `device` names one).
    """
    if dist.is_initialized():
        return
    wants_cuda = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    if wants_cuda:
        index = torch.device(device).index if device is not None else None
        torch.cuda.set_device(index if index is not None else int(os.environ.get("LOCAL_RANK", "0")))
    backend = "cpu:gloo,cuda:nccl" if wants_cuda else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_seconds()))


def join(distributed: bool | None) -> Group | None:
    """The process group to score in: the initialised one, or torchrun's when distributed=True.

    distributed=None uses a process group only if one is already initialised; False never does.
    """
    if distributed is False or not dist.is_available():
        return None
    if not dist.is_initialized():
        if not distributed:
            return None
        if not launched_by_torchrun():
            raise InceptionScoreError(
                "distributed=True needs a process group: launch with torchrun, or call "
                "torch.distributed.init_process_group() first")
        init_from_env()
    return Group()


def is_main_process() -> bool:
    """True on rank 0 of an initialised process group, and in a single process."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def score_sharded(group: Group | None, source: Any, extract: Callable[[Iterable[Any], int, bool], Any],
                  finish: Callable[[Any], Result], *, skip: tuple[str, ...] = (),
                  sample_seed: int | None = None) -> Result:
    """finish(extract(samples, total, show_progress)), with the extraction split over the ranks.

    `source` is a Source; in one process it is read whole (its total may be unknown: a stream).
    Under a process group its length must be known; each rank extracts its shard (see `shard_of`),
    the features (a dataclass of rows) are gathered to rank 0 in rank order, rank 0 runs `finish`
    and every rank returns its result. `skip` names feature arrays finish does not need (not sent).
    """
    samples, count = shard_of(group, source, sample_seed=sample_seed)
    if group is None:
        return finish(extract(samples, count, True))
    features = group.run(lambda: extract(group.watch(samples), count, group.rank == 0))
    gathered = group.gather_dataclass(features, skip=skip)
    return group.on_main(lambda: finish(gathered))


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
            return ", ".join(f"{'?' if count is None else count} images in {description}"
                             for count, description in items)
        raise InceptionScoreError(
            "the ranks see different inputs: " + "; ".join(f"rank {rank}: {listed(items)}"
                                                           for rank, items in enumerate(seen))
            + " (every rank must see the same files)")


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


class Group:
    """The default process group seen by one rank, with the helpers one scoring call needs."""

    def __init__(self) -> None:
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.timeout_s = timeout_seconds()
        self.backend = dist.get_backend()
        config = dist.get_backend_config()
        self.device = torch.device("cpu") if "gloo" in config else torch.device("cuda", torch.cuda.current_device())
        global _calls
        _calls += 1
        try:
            store = dist.distributed_c10d._get_default_store()
            self.store: dist.Store | None = dist.PrefixStore(f"inception_score/{_calls}/", store)
        except (AttributeError, RuntimeError, ValueError):  # no store to post failures in: rely on collectives
            self.store = None
        self._runs = 0
        self._failed_key = "failed"

    def describe(self) -> str:
        return f"{self.world_size} ranks ({self.backend}), collective timeout {self.timeout_s:g} s ({TIMEOUT_ENV})"

    def run(self, work: Callable[[], Result]) -> Result:
        """`work()` on every rank; if any rank fails, every rank raises the first failure's message."""
        self._runs += 1
        self._failed_key = f"run{self._runs}/failed"
        try:
            value, error = work(), None
        except PeerFailed:
            value, error = None, None
        except Exception as raised:  # shared with the other ranks, then raised here unchanged
            value, error = None, raised
            self._post_failure(raised)
        self._wait_for_all(f"run{self._runs}/done")
        failures = self.all_gather_object(None if error is None else _describe(error, self.rank))
        posted = self._posted_failure()
        first = next((failure for failure in failures if failure is not None), posted)
        if first is None:
            return value
        if error is not None and not isinstance(error, InceptionScoreError):
            raise error
        if first[0] == "user":
            raise InceptionScoreError(first[1])
        raise RuntimeError(first[1])

    def watch(self, samples: Iterable[Any]) -> Iterator[Any]:
        """`samples`, stopping with PeerFailed soon after another rank posts a failure."""
        checked = time.monotonic()
        for sample in samples:
            if self.store is not None and time.monotonic() - checked > _POLL_S:
                checked = time.monotonic()
                if self.store.check([self._failed_key]):
                    raise PeerFailed()
            yield sample

    def gather_dataclass(self, value: Any, *, skip: tuple[str, ...] = ()) -> Any:
        """A dataclass of per-row arrays and lists, gathered to rank 0 in rank order (None elsewhere).

        Arrays and lists are concatenated, ints summed, anything else taken from rank 0; fields
        in `skip` are sent as zero rows.
        """
        gathered = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if isinstance(item, np.ndarray):
                gathered[field.name] = self.gather_rows(item[:0] if field.name in skip else item)
            elif isinstance(item, list):
                parts = self.gather_object(item)
                gathered[field.name] = None if parts is None else [x for part in parts for x in part]
            elif isinstance(item, int) and not isinstance(item, bool):
                parts = self.gather_object(item)
                gathered[field.name] = None if parts is None else sum(parts)
            else:
                gathered[field.name] = item
        return dataclasses.replace(value, **gathered) if self.rank == 0 else None

    def gather_rows(self, rows: np.ndarray) -> np.ndarray | None:
        """N_r x ... arrays from every rank, concatenated in rank order on rank 0 (None elsewhere)."""
        local = torch.from_numpy(np.ascontiguousarray(rows)).to(self.device)
        counts = self.all_gather_object(int(local.shape[0]))
        padded = torch.zeros((max(counts), *local.shape[1:]), dtype=local.dtype, device=self.device)
        padded[:local.shape[0]] = local
        buffers = [torch.empty_like(padded) for _ in counts] if self.rank == 0 else None
        dist.gather(padded, buffers, dst=0)
        if buffers is None:
            return None
        return torch.cat([buffer[:count] for buffer, count in zip(buffers, counts)]).cpu().numpy()

    def reduce_sum(self, values: np.ndarray) -> np.ndarray | None:
        """The element-wise sum of `values` over all ranks, on rank 0 (None elsewhere); dtype kept."""
        local = torch.from_numpy(np.ascontiguousarray(values)).to(self.device)
        dist.reduce(local, dst=0, op=dist.ReduceOp.SUM)
        return local.cpu().numpy() if self.rank == 0 else None

    def reduce_moments(self, accumulator: MomentAccumulator) -> MomentAccumulator | None:
        """Every rank's streaming feature moments added up on rank 0 (None elsewhere).

        Sums are moved to a common shift (the first non-empty rank's, i.e. the first batch of the
        input) and reduced in float64: d + d^2 numbers per rank, whatever N. While the total is at
        most d the rows themselves are gathered too, for the exact low-rank factor.
        """
        seen = self.all_gather_object((accumulator.n, accumulator.shift))
        counts = [count for count, _ in seen]
        shifts = [shift for count, shift in seen if count]
        if not shifts:
            return accumulator if self.rank == 0 else None
        accumulator.recentre(shifts[0])
        total, outer, rows = accumulator.sums()
        total, outer = self.reduce_sum(total), self.reduce_sum(outer)
        keep_rows = sum(counts) <= len(shifts[0])
        rows = self.gather_rows(rows) if keep_rows else None
        if self.rank != 0:
            return None
        return MomentAccumulator.from_sums(sum(counts), shifts[0], total, outer, rows)

    def gather_object(self, value: Any) -> list[Any] | None:
        parts = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(value, parts, dst=0)
        return parts

    def all_gather_object(self, value: Any) -> list[Any]:
        parts: list[Any] = [None] * self.world_size
        dist.all_gather_object(parts, value)
        return parts

    def on_main(self, compute: Callable[[], Result]) -> Result:
        """`compute()` on rank 0, its result (or its error) broadcast to every rank."""
        outcome: list[Any] = [None]
        if self.rank == 0:
            try:
                outcome = [("ok", compute())]
            except Exception as error:
                outcome = [("error", _describe(error, self.rank))]
                if not isinstance(error, InceptionScoreError):
                    dist.broadcast_object_list(outcome, src=0)
                    raise
        dist.broadcast_object_list(outcome, src=0)
        kind, value = outcome[0]
        if kind == "ok":
            return value
        raise InceptionScoreError(value[1]) if value[0] == "user" else RuntimeError(value[1])

    def _post_failure(self, error: Exception) -> None:
        if self.store is not None:
            kind, message = _describe(error, self.rank)
            self.store.compare_set(self._failed_key, "", f"{kind}\n{message}")

    def _posted_failure(self) -> tuple[str, str] | None:
        if self.store is None or not self.store.check([self._failed_key]):
            return None
        kind, _, message = self.store.get(self._failed_key).decode().partition("\n")
        return kind, message

    def _wait_for_all(self, stage: str) -> None:
        """Wait (polling the store, bounded by the timeout) until every rank has reached `stage`."""
        if self.store is None:
            return
        self.store.set(f"{stage}/{self.rank}", "1")
        keys = [f"{stage}/{rank}" for rank in range(self.world_size)]
        deadline = time.monotonic() + self.timeout_s
        while not self.store.check(keys):
            if time.monotonic() > deadline:
                missing = [rank for rank, key in enumerate(keys) if not self.store.check([key])]
                raise InceptionScoreError(
                    f"rank {self.rank} waited {self.timeout_s:g} s for rank(s) {missing} to finish their shard; "
                    f"they may have crashed or be much slower (raise {TIMEOUT_ENV} for very uneven shards)")
            time.sleep(0.005)


def _describe(error: Exception, rank: int) -> tuple[str, str]:
    """("user", message) for our own errors, ("internal", ...) for anything else, naming the rank."""
    if isinstance(error, InceptionScoreError):
        return "user", str(error)
    return "internal", f"rank {rank} failed: {type(error).__name__}: {error}"


def exit_with_on_terminate(code: int) -> None:
    """Under torchrun, make a SIGTERM from the agent (sent once a peer has exited) end with `code`.

    A rank that has printed its error must exit with it even if a faster rank exits first.
    """
    if not launched_by_torchrun():
        return

    def leave(signum: int, frame: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    signal.signal(signal.SIGTERM, leave)


def finish_cli(code: int) -> None:
    """At the end of a torchrun'ed command: let every rank print, then leave the process group.

    A failing rank exits here with `code` (skipping interpreter teardown, during which a SIGTERM
    from the agent would turn the exit status into -15).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    group = Group()
    group.timeout_s = _EXIT_WAIT_S
    try:
        group._wait_for_all("exit")
    except InceptionScoreError:
        pass  # a rank that is gone already cannot be waited for
    if code != 0:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    dist.destroy_process_group()
