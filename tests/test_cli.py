"""The CLI, `python -m inception_score` and the API give the same numbers; user mistakes exit 2."""

import json
import re
import shutil

import numpy as np
import pytest
from helpers import run_cli

from inception_score import inception_score


@pytest.fixture(scope="module")
def api_result(weights_path, data):
    return inception_score(data / "images" / "mixed", splits=4, order="given", weights=weights_path, progress=False)


def test_json_output_is_exactly_to_dict(api_result, weights_path, data):
    done = run_cli(
        "score",
        data / "images" / "mixed",
        "--splits",
        4,
        "--order",
        "given",
        "--weights",
        weights_path,
        "--json",
        "--batch-size",
        5,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed.keys() == api_result.to_dict().keys()
    np.testing.assert_allclose(printed["split_scores"], api_result.split_scores, rtol=1e-6)
    assert printed["mean"] == pytest.approx(api_result.mean, rel=1e-6)
    assert "warning: weights" in done.stderr and "Traceback" not in done.stderr


def test_console_script_prints_the_summary_line_and_the_explanation(api_result, weights_path, data):
    script = shutil.which("inception-score")
    if script is None:
        pytest.skip("the inception-score console script is not installed (pip install -e .)")
    done = run_cli(
        "score",
        data / "images" / "mixed",
        "--splits",
        4,
        "--order",
        "given",
        "--weights",
        weights_path,
        "--quiet",
        command=(script,),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{api_result.summary()}\n{api_result.explain()}"
    assert done.stdout.startswith(f"IS = {api_result.mean:.4f} ± {api_result.std:.4f} (28 images, 4 splits, given")


@pytest.mark.reference
def test_plain_flag_runs_the_reference_approach_with_the_same_numbers(api_result, weights_path, data):
    done = run_cli(
        "score",
        data / "images" / "mixed",
        "--splits",
        4,
        "--order",
        "given",
        "--weights",
        weights_path,
        "--json",
        "--quiet",
        "--no-cache",
        "--plain",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["n"] == 28 and printed["cached"] == 0
    assert printed["mean"] == pytest.approx(api_result.mean, rel=1e-5)
    np.testing.assert_allclose(printed["split_scores"], api_result.split_scores, rtol=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", "/no/such/folder"], "/no/such/folder: no such file or folder"),
        (["score", "{mixed}", "--splits", "50", "--weights", "{weights}"], "28 images cannot be cut into 50 splits"),
        (["score", "{mixed}", "--weights", "/no/weights.pth"], "weights file /no/weights.pth"),
        (["score", "{mixed}", "--splits", "0"], "expected a whole number >= 1"),
        (["score", "{mixed}", "--order", "sorted"], "invalid choice"),
        (["score", "{mixed}", "--no-such-flag"], "unrecognized arguments"),
        (
            ["score", "{mixed}", "--plain", "--classifier", "no_such_module:build"],
            "applies to the registry's networks (inception-2015, torchvision) only",
        ),
    ],
)
def test_user_mistakes_exit_2_with_one_clear_line(weights_path, data, args, message):
    args = [a.format(mixed=data / "images" / "mixed", weights=weights_path) for a in args]
    done = run_cli(*args)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


HELP_PAGES = [
    [],
    *([command] for command in ("score", "evaluate", "fid", "kid", "stats", "weights", "refs", "cache")),
    ["weights", "install"],
    ["weights", "path"],
    *(["refs", command] for command in ("list", "info", "fetch", "install", "build")),
    ["cache", "info"],
    ["cache", "clear"],
]


@pytest.mark.parametrize("words", HELP_PAGES, ids=lambda words: " ".join(words) or "top")
def test_every_help_page_fits_100_columns_even_on_a_wide_terminal(monkeypatch, words):
    monkeypatch.setenv("COLUMNS", "300")
    done = run_cli(*words, "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: inception-score")
    assert max(len(line) for line in done.stdout.splitlines()) <= 100


@pytest.mark.parametrize("command", ["score", "evaluate", "fid", "kid", "stats", "refs build"])
def test_the_image_options_are_grouped(command):
    page = run_cli(*command.split(), "--help").stdout
    sections = dict(re.findall(r"\n\n(\S[^\n]*):\n(.*?)(?=\n\n\S|$)", page, re.DOTALL))
    assert "\n  --weights PATH" in sections["classifier"] and "\n  --resize METHOD" in sections["classifier"]
    assert "\n  --batch-size N" in sections["run"] and "\n  --no-cache" in sections["run"]
    assert "\n  --skip-bad" in sections["image input"] and "\n  --max-pixels N" in sections["image input"]


def test_refs_list_has_a_header_row():
    lines = run_cli("refs", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PROTOCOL", "METRICS", "HERE", "DATASET"]
    assert lines[1].split()[0] == "fid_stats_cifar10_train" and len(lines) > 10
