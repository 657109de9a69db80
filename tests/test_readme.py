"""The README's commands run as written: the sample commands on the bundled images, and CI's test step is
the README's "everything" command."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readmes_everything_command():
    (everything,) = re.findall(r"^(python -m pytest[^#\n]*?)\s+# everything", README, re.MULTILINE)
    (quick,) = re.findall(r"^(python -m pytest[^#\n]*?)\s+# the quick check", README, re.MULTILINE)
    steps = re.findall(r'echo "== tests"; (.*)$', (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    assert steps == [everything] and '-m "not slow"' in quick and "not slow" not in everything


def sample_commands() -> list[list[str]]:
    """The block the README says runs as written on the bundled sample."""
    block = README.split("These run as written from the repository's root, on the bundled 120-image sample:")[1]
    lines = block.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    return [shlex.split(line.split("  #")[0]) for line in lines if line.strip()]


@pytest.mark.slow
def test_the_readmes_sample_commands_run_as_written(tmp_path, monkeypatch, weights_path):
    """From a folder holding the repository's examples/sample; only the weights file is given (no download)."""
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "sample").symlink_to(ROOT / "examples" / "sample")
    monkeypatch.chdir(tmp_path)
    commands = sample_commands()
    assert len(commands) == 3 and all(words[0] == "inception-score" for words in commands)
    for words in commands:
        done = run_cli(*words[1:], "--weights", weights_path, "--quiet")
        assert done.returncode == 0, (words, done.stderr)
    document = json.loads(done.stdout)
    assert document["fid"]["fid"] == 0.0 and document["kid"]["n_a"] == 120
