"""Command line: a thin layer that parses arguments, calls the library and prints.

Each command (or family of commands) is a module of this package with a `register(commands)`
that adds its parser and sets its handler (`set_defaults(handler=...)`); adding a command is
one new module and one line in `COMMANDS`. The options every image-reading command shares
are in `common` (as argparse option groups).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings

from .._version import __version__
from ..errors import InceptionScoreError, InceptionScoreWarning
from ..parallel import launch as distributed
from . import adm, cache, distances, evaluate, fidelity, refs, score, stats, weights
from .common import HelpFormatter

COMMANDS = (score, evaluate, distances, stats, adm, fidelity, weights, refs, cache)  # in the order --help lists them


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every module of COMMANDS registers its commands."""
    parser = argparse.ArgumentParser(
        prog="inception-score", description="Inception Score, the paper's protocol.", formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"inception-score {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line on `argv` (default: sys.argv); returns the exit code (0, 2 or 130)."""
    args = build_parser().parse_args(_attach_value_range(sys.argv[1:] if argv is None else list(argv)))
    code = _run(args)
    distributed.finish_cli(code)
    return code


def _attach_value_range(argv: list[str]) -> list[str]:
    """Let `--value-range -1,1` through: argparse would read the range as an option, so join the two."""
    joined: list[str] = []
    for word in argv:
        if joined and joined[-1] == "--value-range" and word.startswith("-"):
            joined[-1] = f"--value-range={word}"
        else:
            joined.append(word)
    return joined


def _run(args: argparse.Namespace) -> int:
    try:
        _join_torchrun(args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InceptionScoreWarning)  # results carry them; printed once
            return args.handler(args)
    except InceptionScoreError as error:
        print(f"inception-score: error: {error}", file=sys.stderr)
        distributed.exit_with_on_terminate(2)
        return 2
    except KeyboardInterrupt:
        print("inception-score: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `refs list | head`: the reader left; exit quietly, as SIGPIPE would
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _join_torchrun(args: argparse.Namespace) -> None:
    """Under torchrun, join the process group; rank 0 says so and alone shows progress and output."""
    if not args.joins_torchrun or not distributed.launched_by_torchrun():
        return
    distributed.init_from_env(getattr(args, "device", None))
    group = distributed.join(True)
    if group is not None and group.rank == 0:
        print(f"inception-score: distributed: {group.describe()}", file=sys.stderr)
