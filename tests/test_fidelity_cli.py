"""`inception-score fidelity`: torch-fidelity 0.4's command line, compared with what its own `fidelity` command
printed for the same flags on the fixture images (tests/data/reference_compat.json, "commands")."""

from __future__ import annotations

import argparse
import json
import re
import warnings

import pytest
from helpers import run_cli
from recipe import DATA

from inception_score.cli import build_parser

REFERENCE = json.loads((DATA / "reference_compat.json").read_text())
LINE = re.compile(r"^([a-z_]+): (\S+)$")


def fidelity_parser() -> argparse.ArgumentParser:
    commands = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return commands.choices["fidelity"]


def filled(words: list[str], peer_inputs: dict[str, str]) -> list[str]:
    return [peer_inputs[word[1:-1]] if word.startswith("{") and word.endswith("}") else word for word in words]


def test_every_flag_of_its_command_is_accepted():
    lines = re.findall(r"^  (?:(-[a-z]), )?(--[a-z0-9][a-z0-9-]*)", REFERENCE["command_help"], re.MULTILINE)
    flags = {flag for pair in lines for flag in pair if flag}
    ours = set(fidelity_parser()._option_string_actions)
    assert flags - {"-h", "--help"} and flags <= ours, sorted(flags - ours)


def parsed_lines(stdout: str) -> tuple[list[str], dict[str, str]]:
    """The lines that are not `key: value`, and the `key: value` ones in order."""
    others, values = [], {}
    for line in stdout.splitlines():
        match = LINE.match(line)
        if match:
            values[match[1]] = match[2]
        else:
            others.append(line)
    return others, values


def same_numbers(got: dict, expected: dict) -> None:
    assert list(got) == list(expected), "the same keys in torch-fidelity's order"
    for key, value in expected.items():
        tolerance = 1e-4 * float(expected.get("inception_score_mean", 0.0)) if key == "inception_score_std" else 0.0
        assert float(got[key]) == pytest.approx(float(value), rel=1e-4, abs=tolerance or 1e-12), key


def runs_vgg16(argv: list[str]) -> bool:
    return "{vgg16}" in argv or "--prc" in argv or "-r" in argv


def check_command(name: str, peer_inputs: dict[str, str]) -> None:
    """Run the stored command here and compare its stdout with torch-fidelity's: lines, keys, order, numbers."""
    case = REFERENCE["commands"][name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = run_cli("fidelity", *filled(case["argv"], peer_inputs))
    assert done.returncode == 0, done.stderr
    if "--json" in case["argv"]:
        expected, got = json.loads(case["stdout"]), json.loads(done.stdout)
        assert done.stdout == json.dumps(got, indent=4) + "\n"
        same_numbers(got, expected)
    else:
        expected_others, expected = parsed_lines(case["stdout"])
        got_others, got = parsed_lines(done.stdout)
        assert got_others == expected_others  # e.g. its note when KID is below 0
        assert all(text == f"{float(text):.7g}" for text in got.values()), "7 significant digits"
        same_numbers(got, expected)


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(n for n, case in REFERENCE["commands"].items() if not runs_vgg16(case["argv"])))
def test_prints_what_torch_fidelitys_command_prints(name, peer_inputs, peer_cache):
    check_command(name, peer_inputs)


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(n for n, case in REFERENCE["commands"].items() if runs_vgg16(case["argv"])))
def test_prints_what_it_prints_for_precision_recall_on_vgg16(
    name, peer_inputs, vgg16_path, peer_cache, tmp_path, monkeypatch
):
    """As torch-fidelity's own run: the weights by path, or both networks' peer_inputs in torch hub's cache."""
    hub = tmp_path / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "weights-inception-2015-12-05-6726825d.pth").symlink_to(peer_inputs["inception"])
    (hub / "vgg16-397923af.pth").symlink_to(vgg16_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    check_command(name, peer_inputs | {"vgg16": str(vgg16_path)})


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--input1", "x"], "no metrics to compute"),
        (["--isc"], "no inputs are given"),
        (["--isc", "--input1", "x", "--samples-shuffle", "--no-samples-shuffle"], "contradict"),
        (["--isc", "--input1", "x", "--ppl"], "ppl .* is not computed here"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(words, message):
    done = run_cli("fidelity", *words)
    assert done.returncode == 2 and done.stdout == ""
    assert re.fullmatch(rf"inception-score: error: .*{message}.*\n", done.stderr), done.stderr


def test_an_unknown_flag_is_an_error_not_a_notice():
    done = run_cli("fidelity", "--isc", "--input1", "x", "--isc-splitz", "3")
    assert done.returncode == 2 and "unrecognized arguments: --isc-splitz" in done.stderr
