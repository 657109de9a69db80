"""Helpers shared by the test modules (imported as `from helpers import ...`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args, prefix: tuple = (), command: tuple | None = None, cwd: str | Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the command line (`python -m inception_score ARGS`, or `command ARGS`) in a real process.

    prefix: words before the interpreter (e.g. a `ulimit` wrapper); cwd: run there, with the
    tested code kept first on the path.
    """
    env = dict(os.environ)
    if cwd is not None:
        paths = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(cwd)])
    words = [*prefix, *(command or (sys.executable, "-m", "inception_score")), *map(str, args)]
    return subprocess.run(words, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
