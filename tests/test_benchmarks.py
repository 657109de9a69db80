"""Smoke run of benchmarks/throughput.py: it runs end to end and prints its table (no timing is checked)."""
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "throughput.py"


def test_throughput_benchmark_prints_its_table(weights_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--images", "2", "--splits", "2", "--sizes", "32",
                           "--batch-size", "2", "--matmul-size", "256", "--weights", str(weights_path)],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "GFLOP/s" in done.stdout and "of the matmul bound" in done.stdout
    assert "| size | optimised API | plain API | API ratio | CLI | CLI --plain | CLI ratio |" in done.stdout
    assert "| 32 x 32 |" in done.stdout
