"""Smoke runs of the benchmarks: they run end to end and print their figures (no timing or memory is checked)."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "throughput.py"


def test_throughput_benchmark_prints_its_table(weights_path):
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--images",
            "2",
            "--splits",
            "2",
            "--sizes",
            "32",
            "--batch-size",
            "2",
            "--matmul-size",
            "256",
            "--weights",
            str(weights_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert "GFLOP/s" in done.stdout and "of the matmul bound" in done.stdout
    assert "| size | optimised API | plain API | API ratio | CLI | CLI --plain | CLI ratio |" in done.stdout
    assert "| 32 x 32 |" in done.stdout


def test_stream_memory_benchmark_prints_both_modes():
    script = SCRIPT.parent / "stream_memory.py"
    done = subprocess.run(
        [sys.executable, str(script), "--images", "40", "--size", "16"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert "callable: peak RSS" in done.stdout and "array   : peak RSS" in done.stdout


def test_evaluator_benchmark_prints_both_tables(weights_path):
    script = SCRIPT.parent / "evaluator.py"
    common = dict(capture_output=True, text=True, timeout=600, env=dict(os.environ))
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            "--images",
            "4",
            "--batch-size",
            "2",
            "--repeats",
            "1",
            "--weights",
            str(weights_path),
        ],
        **common,
    )
    assert done.returncode == 0, done.stderr
    assert "| 299 x 299 |" in done.stdout and "| 256 x 256 |" in done.stdout
    done = subprocess.run([sys.executable, str(script), "--memory", "600"], **common)
    assert done.returncode == 0, done.stderr
    assert "| 600 |" in done.stdout
