"""Smoke runs of the benchmarks: they run end to end and print their figures (no timing or memory is checked)."""

import json
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


def test_device_check_dry_runs_on_the_cpu(weights_path, tmp_path):
    """The GPU check's dry run (docs/speed.md): every section runs and writes its figures to one JSON file."""
    out = tmp_path / "device_check.json"
    script = SCRIPT.parent / "device_check.py"
    command = [sys.executable, str(script), "--device", "cpu", "--images", "16", "--weights", str(weights_path)]
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=900, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["errors"] == {}
    sections = report["sections"]
    assert set(sections) == {
        "environment", "matmul", "inception_network", "end_to_end", "data_path", "numbers_match", "knn", "transformers"
    }  # fmt: skip
    assert sections["numbers_match"]["all_equal_to_1e-5"] is True
    assert sections["knn"]["device_equals_numpy"] is True and sections["knn"]["size"] == 2000
    assert sections["end_to_end"]["images"] == 16 and "batch_2_images_per_s" in sections["inception_network"]
    assert {"dinov2_vits14_images_per_s", "clip_vit-b-32_images_per_s"} <= set(sections["transformers"])


def test_data_path_benchmark_prints_its_table():
    script = SCRIPT.parent / "data_path.py"
    options = ["--images", "12", "--formats", "png,jpeg", "--sizes", "32", "--repeats", "1"]
    command = [sys.executable, str(script), *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "| images | floor: PIL alone | ours, native |" in done.stdout
    assert "| PNG 32 x 32 |" in done.stdout and "| JPEG 32 x 32 |" in done.stdout


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
