"""Smoke run of benchmarks/knn.py: it runs end to end and prints its table (no timing or memory is checked)."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "knn.py"


def test_knn_benchmark_smoke_prints_its_table():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    assert "GEMM on this machine" in done.stdout
    assert "| N real = N fake | ours: time |" in done.stdout
    assert "| 300 |" in done.stdout


def test_knn_benchmark_help_runs_nothing():
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--sizes" in done.stdout and "GEMM" not in done.stdout
