"""Helpers shared by the test modules (imported as `from helpers import ...`)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(
    *args,
    prefix: tuple = (),
    command: tuple | None = None,
    cwd: str | Path | None = None,
    process: bool = False,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run the command line with ARGS and return its exit code, stdout and stderr.

    By default `inception_score.cli.main` runs in this process (the same code, without the
    second or two a new interpreter spends importing torch), so that the fast tier can check
    every error message. process=True, or any of prefix (words before the interpreter, e.g. a
    `ulimit` wrapper), command (e.g. the console script) or cwd, starts a real process instead.
    """
    words = [str(arg) for arg in args]
    if process or prefix or command or cwd is not None:
        return _in_a_process(words, prefix, command, cwd, timeout)
    from inception_score.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(words)
        except SystemExit as exit_:  # argparse's usage errors and --version
            code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(words, code, stdout.getvalue(), stderr.getvalue())


def _in_a_process(words, prefix, command, cwd, timeout) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if cwd is not None:  # keep the tested code first on the path when running elsewhere
        paths = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(cwd)])
    full = [*prefix, *(command or (sys.executable, "-m", "inception_score")), *words]
    return subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def without_root_powers() -> tuple[str, ...]:
    """Words before the interpreter that make a root process obey file permissions (none needed otherwise):
    setpriv drops the capabilities that let root read and write past them. Skips the test without setpriv."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: root writes into read-only folders")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search")
