"""docs/extending.md's Python blocks run as written, in a folder holding samples/ and ref/ (as CI runs them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parent.parent / "docs" / "extending.md"

pytestmark = pytest.mark.process


def test_the_extending_page_runs_as_written(data, weights_path, tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2 and DOC.read_text(encoding="utf-8").index("```python") < 1200  # the page starts with one
    for name, folder in (("samples", "a"), ("ref", "b")):
        (tmp_path / name).mkdir()
        for image in sorted((data / "images" / folder).glob("*.png"))[:12]:
            shutil.copy(image, tmp_path / name / image.name)
    (tmp_path / "example.py").write_text("\n".join(blocks), encoding="utf-8")
    environment = {"INCEPTION_SCORE_WEIGHTS": str(weights_path), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **environment},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("centroid distance = ") and "(12 vs 12 images)" in lines[0]
    assert float(lines[1].split()[0]) > 0 and lines[2].startswith("Vendi score = ")
