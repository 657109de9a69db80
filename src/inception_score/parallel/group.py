"""A torch.distributed process group as one scoring call sees it: shared failures, gathers and sums.

The group knows nothing about metrics: it runs work on every rank with one rank's failure made
every rank's, gathers rows and objects to rank 0 in rank order, and sums arrays.

Launched by `torchrun`, every rank opens the same source, takes rows
[rank * N // K, (rank + 1) * N // K) of it, extracts features, and gathers them to rank 0 in rank
order, which is the input order; rank 0 computes the result and broadcasts it, so every rank
returns the same object. A rank that fails posts its message in the process group's key-value
store; the others see it before their next image and every rank raises the same error. Waiting
for the slowest rank is bounded by a timeout (INCEPTION_SCORE_DIST_TIMEOUT seconds, default 1800).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist

from ..errors import InceptionScoreError

TIMEOUT_ENV = "INCEPTION_SCORE_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0
_POLL_S = 0.2  # how often a rank looks for a failure posted by another rank
_calls = 0  # distributed calls made by this process; every rank makes them in the same order

Result = TypeVar("Result")


class PeerFailed(Exception):
    """Another rank posted a failure; raised inside this rank's extraction to stop it early."""


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
            return value  # type: ignore[return-value]  # no failure: work() returned it
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
        gathered: dict[str, Any] = {}
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
        shapes = self.all_gather_object(tuple(rows.shape))
        counts = [shape[0] for shape in shapes]
        trailing = next((shape[1:] for shape in shapes if shape[0]), tuple(rows.shape[1:]))
        if not len(rows):
            rows = np.zeros((0, *trailing), rows.dtype)
        local = torch.from_numpy(np.ascontiguousarray(rows)).to(self.device)
        padded = torch.zeros((max(counts), *local.shape[1:]), dtype=local.dtype, device=self.device)
        padded[: local.shape[0]] = local
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
                    f"they may have crashed or be much slower (raise {TIMEOUT_ENV} for very uneven shards)"
                )
            time.sleep(0.005)


def _describe(error: Exception, rank: int) -> tuple[str, str]:
    """("user", message) for our own errors, ("internal", ...) for anything else, naming the rank."""
    if isinstance(error, InceptionScoreError):
        return "user", str(error)
    return "internal", f"rank {rank} failed: {type(error).__name__}: {error}"
