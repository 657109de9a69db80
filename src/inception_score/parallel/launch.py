"""Joining torchrun's process group and leaving it at the end of a command."""

from __future__ import annotations

import datetime
import os
import signal
import sys
from typing import Any

import torch
import torch.distributed as dist

from ..errors import InceptionScoreError
from .group import Group, timeout_seconds

_EXIT_WAIT_S = 10.0


def launched_by_torchrun() -> bool:
    """True when the environment describes a process group (torchrun sets these variables)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


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
                "torch.distributed.init_process_group() first"
            )
        init_from_env()
    return Group()


def is_main_process() -> bool:
    """True on rank 0 of an initialised process group, and in a single process."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


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
