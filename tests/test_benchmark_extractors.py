"""Smoke runs of benchmarks/extractors.py and benchmarks/one_pass.py: they print their tables (no timing checked)."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "extractors.py"


def test_help_answers_without_running():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert "--smoke" in done.stdout and "img/s" not in done.stdout


def test_smoke_run_prints_every_network():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    for label in (
        "Inception 2015 (optimised)",
        "DINOv2 vitl14 (edm2)",
        "CLIP vit-l-14-336 (cmmd)",
        "CLIP vit-b-32 (clean-fid)",
    ):
        assert f"| {label} |" in done.stdout


def test_one_pass_benchmark_prints_both_ways_and_equal_numbers():
    script = SCRIPT.parent / "one_pass.py"
    done = subprocess.run(
        [sys.executable, str(script), "--images", "2", "--size", "32", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert "| one pass, each image decoded once" in done.stdout and "| one pass per extractor" in done.stdout
    assert "the same numbers: True" in done.stdout
