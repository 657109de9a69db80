"""examples/digits end to end: train a digit CNN, score real and degraded digits through the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent / "examples" / "digits" / "run.py"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    pytest.importorskip("sklearn", reason="the digits example needs scikit-learn (pip install scikit-learn)")
    out = tmp_path_factory.mktemp("digits")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)
    env["INCEPTION_SCORE_CACHE"] = str(out / "cache")  # never the user's feature cache
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--out", str(out)], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {row["set"]: row for row in json.loads((out / "results.json").read_text())}, done.stdout


def test_real_digits_score_close_to_ten_and_above_every_degraded_set(table):
    rows, printed = table
    real = rows.pop("real (held-out digits)")
    assert real["n"] == 600 and 8.0 < real["mean"] <= 10.0
    for name, row in rows.items():
        assert row["mean"] < real["mean"] - 3 * real["std"], name
    assert "| real (held-out digits) | 600 |" in printed


def test_mode_collapse_lowers_the_score_step_by_step(table):
    rows, _ = table
    five, two, one = (
        rows[name]["mean"] for name in ("five digits only (0-4)", "two digits only (0, 1)", "one digit only (0)")
    )
    # Misclassified images leak a little probability to other classes, so k digits score near, not at, k.
    assert 4.0 < five < 6.0 and 1.7 < two < 2.5 and one < 1.1 and five > two > one
