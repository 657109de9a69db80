"""Smoke runs of benchmarks/extractors.py and benchmarks/one_pass.py: they print their tables (no timing checked)."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "extractors.py"


def _run(script: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=dict(os.environ),
    )


def test_help_answers_without_running():
    done = _run(SCRIPT, "--help", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--smoke" in done.stdout and "img/s" not in done.stdout


def test_smoke_run_prints_every_network():
    done = _run(SCRIPT, "--smoke")
    assert done.returncode == 0, done.stderr
    for label in (
        "Inception 2015 (optimised)",
        "DINOv2 vitl14 (edm2)",
        "CLIP vit-l-14-336 (cmmd)",
        "CLIP vit-b-32 (clean-fid)",
    ):
        assert f"| {label} |" in done.stdout


def test_one_pass_benchmark_prints_both_ways_and_equal_numbers():
    done = _run(SCRIPT.parent / "one_pass.py", "--images", "2", "--size", "32", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    assert "| one pass, each image decoded once" in done.stdout and "| one pass per extractor" in done.stdout
    assert "the same numbers: True" in done.stdout
