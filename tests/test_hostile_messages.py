"""Hostile input that used to end in a traceback: now one line that says what is wrong and what to do."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli
from test_hostile_numbers import assert_one_error_line, saved_state, tiny_images

import inception_score as api
from inception_score import InceptionScoreError, Options
from inception_score.pipeline.inception2015 import load_inception
from inception_score.pipeline.sources import open_source

# Devices: checked once, in Options, before any work.


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_cuda_without_cuda_is_one_line_before_any_work(tmp_path):
    done = run_cli("score", tmp_path / "missing-folder", "--device", "cuda")
    assert_one_error_line(done, "device cuda asked for, but CUDA is not available here", "--device cpu")


@pytest.mark.parametrize(
    "device, message",
    [
        ("cdua", "device 'cdua' is not a torch device; use cpu, cuda or cuda:N"),
        ("meta", "device meta cannot run the network"),
        ("cuda:99", "device cuda:99 asked for, but"),
    ],
)
def test_devices_that_cannot_run_are_refused_in_options(device, message):
    with pytest.raises(InceptionScoreError, match=message):
        Options(device=device)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="checks a machine without an Apple GPU")
def test_mps_without_an_apple_gpu_is_refused():
    with pytest.raises(InceptionScoreError, match="device mps .Apple GPU. is not available here"):
        Options(device="mps")


# Seeds: numpy's range for every seed option, used or not.


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", "{src}", "--seed", "-1"], "seed (--seed) must be a whole number from 0 to 4294967295, got -1"),
        (["score", "{src}", "--kid-seed", str(2**32)], "kid_seed (--kid-seed) must be a whole number from 0"),
        (["kid", "{src}", "{src}", "--seed", str(2**40)], "kid_seed (--seed) must be a whole number"),
        (["score", "{src}", "--bootstrap", str(10**12)], "bootstrap (--bootstrap) 1000000000000 is over the limit"),
        (["score", "{src}", "--kid", "{src}", "--kid-subsets", str(10**12)], "is over the limit of 10,000"),
        (["kid", "{src}", "{src}", "--subsets", str(10**12)], "kid_subsets (--subsets) 1000000000000 is over"),
    ],
)
def test_seed_and_cost_options_are_refused_up_front(tmp_path, args, message):
    """The source does not even exist: the options are checked first, whether or not they are used."""
    done = run_cli(*[word.format(src=tmp_path / "nothing") for word in args])
    assert_one_error_line(done, message)


def test_api_seeds_out_of_range_raise_our_error():
    for call in (
        lambda: api.inception_score(tiny_images(), seed=2**32),
        lambda: api.kid(tiny_images(), tiny_images(), seed=-5),
        lambda: api.inception_score(lambda n: tiny_images(n), num_samples=4, sample_seed=-1),
    ):
        with pytest.raises(InceptionScoreError, match="from 0 to 4294967295"):
            call()


# Weights files of a wrong but loadable shape, and torch's multi-line messages: one line.


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.__setitem__(7, torch.zeros(3)), "unexpected: 7"),
        (lambda s: s.__setitem__("extra.weight", torch.zeros(3)), "unexpected: extra.weight"),
        (
            lambda s: s.__setitem__("fc.bias", torch.zeros(1008, dtype=torch.int64)),
            "not a dense tensor of the right type: fc.bias",
        ),
        (
            lambda s: s.__setitem__("fc.weight", s["fc.weight"].to_sparse()),
            "not a dense tensor of the right type: fc.weight",
        ),
        (lambda s: s.__setitem__("fc.bias", [0.0] * 1008), "not a dense tensor of the right type: fc.bias"),
    ],
)
def test_weights_of_a_wrong_but_loadable_shape_are_one_line(weights_path, tmp_path, change, message):
    path = saved_state(weights_path, tmp_path, change)
    with pytest.raises(InceptionScoreError, match="does not have the 2015 Inception layout") as error:
        load_inception(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_pickle_that_is_not_a_state_dict_is_one_line_without_weights_only_advice(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)  # a whole module: refused by weights_only
    np.save(tmp_path / "images.npy", tiny_images())
    done = run_cli("score", tmp_path / "images.npy", "--weights", path, "--splits", 1)
    assert_one_error_line(done, "cannot read weights file", "never loaded")
    assert "weights_only" not in done.stderr


# Array files: corrupt headers are one line; big-endian floats are valid and accepted.


def test_npy_with_a_corrupt_header_is_one_line(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, tiny_images())
    data = bytearray(path.read_bytes())
    data[20:27] = b"garbage"
    path.write_bytes(bytes(data))
    done = run_cli("score", path, "--splits", 1)
    assert_one_error_line(done, "images.npy: cannot read the array file", "numpy.save")


def test_big_endian_float_arrays_read_like_little_endian(tmp_path):
    floats = tiny_images().astype(np.float32) / 255
    np.save(tmp_path / "big.npy", floats.astype(">f4"))
    np.save(tmp_path / "little.npy", floats)
    big, little = (list(open_source(tmp_path / name)) for name in ("big.npy", "little.npy"))
    assert all((a.data == b.data).all() for a, b in zip(big, little)) and len(big) == 3


# Custom classifier factories: any failure is one line naming the factory.

FACTORIES = """
import sys
import torch

class Tiny(torch.nn.Module):
    input_contract = {"input_size": 8, "normalize": "0-1"}

    def forward(self, x):
        return x.flatten(1)[:, :10]

def raises():
    raise RuntimeError("no GPU driver\\nsecond line")

def exits():
    sys.exit(3)

def wrong_shape():
    class Flat(Tiny):
        def forward(self, x):
            return x.flatten()
    return Flat()

def huge():
    class Huge(Tiny):
        input_contract = {"input_size": 10**6, "normalize": "0-1"}
    return Huge()
"""


@pytest.mark.parametrize(
    "factory, message",
    [
        ("raises", "classifier factory factories:raises failed: RuntimeError: no GPU driver"),
        ("exits", "classifier factory factories:exits failed: it called sys.exit(3)"),
        ("wrong_shape", "classifier factories:wrong_shape must return logits as N x C"),
        ("huge", "input size 1000000 is over the limit of 4096"),
    ],
)
@pytest.mark.process
def test_factories_that_fail_are_one_line_naming_them(tmp_path, factory, message):
    (tmp_path / "factories.py").write_text(textwrap.dedent(FACTORIES))
    np.save(tmp_path / "images.npy", tiny_images())
    done = run_cli("score", "images.npy", "--classifier", f"factories:{factory}", "--splits", 1, cwd=tmp_path)
    assert_one_error_line(done, message)
    assert "second line" not in done.stderr


# API calls with bad arguments raise InceptionScoreError.


@pytest.mark.parametrize(
    "call",
    [
        lambda: api.evaluate(tiny_images(), metrics=5),
        lambda: api.inception_score(tiny_images(), splits="3"),
        lambda: api.inception_score(tiny_images(), order=5),
        lambda: api.inception_score(tiny_images(), bootstrap=1.5),
        lambda: api.inception_score(tiny_images(), workers="2"),
        lambda: api.inception_score(tiny_images(), max_pixels=0),
        lambda: api.save_statistics(tiny_images(), 5),
    ],
)
def test_api_bad_arguments_raise_our_error(call):
    with pytest.raises(InceptionScoreError):
        call()


# Checks before the work: output paths and companion files, never an input overwritten.


def test_report_path_and_class_names_are_checked_before_scoring(tmp_path):
    np.save(tmp_path / "images.npy", tiny_images())
    done = run_cli("score", tmp_path / "images.npy", "--splits", 1, "--report", tmp_path / "no" / "r.html")
    assert_one_error_line(done, "r.html: the folder", "does not exist")
    done = run_cli("score", tmp_path / "images.npy", "--splits", 1, "--report", tmp_path)
    assert_one_error_line(done, "is a folder; give a file name for the report (--report)")
    done = run_cli("score", tmp_path / "images.npy", "--splits", 1, "--class-names", tmp_path / "none.txt")
    assert_one_error_line(done, "none.txt: cannot read class names")


def test_stats_onto_its_own_input_is_refused(tmp_path):
    path = tmp_path / "images.npz"
    np.savez(path, tiny_images())
    before = path.read_bytes()
    done = run_cli("stats", path, "-o", path)
    assert_one_error_line(done, "images.npz: is also an input; the statistics file would overwrite it")
    assert path.read_bytes() == before


@pytest.mark.reference
def test_files_written_follow_the_umask(tmp_path, weights_path, private_cache):
    path = tmp_path / "stats.npz"
    done = run_cli("stats", tmp_path / "nothing", "-o", path, prefix=("sh", "-c", 'umask 022 && exec "$@"', "sh"))
    assert done.returncode == 2  # no such source: checked after the output path, nothing written
    np.save(tmp_path / "images.npy", tiny_images())
    done = run_cli(
        "stats",
        tmp_path / "images.npy",
        "-o",
        path,
        "--weights",
        weights_path,
        "--quiet",
        prefix=("sh", "-c", 'umask 027 && exec "$@"', "sh"),
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    cached = list(private_cache.rglob("*.npy"))
    assert len(cached) == 3 and all(stat.S_IMODE(p.stat().st_mode) == 0o640 for p in cached)


# A newcomer's first hour.


def test_evaluate_against_a_mu_sigma_file_serves_what_it_can_and_says_what_was_left_out(tmp_path, weights_path):
    reference = tmp_path / "stats.npz"
    np.savez(reference, mu=np.zeros(2048), sigma=np.eye(2048))
    with pytest.warns(
        api.InceptionScoreWarning, match="computing IS, FID only .KID: .*stats.npz has no per-image features"
    ):
        evaluation = api.evaluate(
            tiny_images(), reference=reference, splits=1, weights=weights_path, cache=False, progress=False
        )
    assert evaluation.inception_score is not None and evaluation.fid is not None and evaluation.kid is None


def test_kid_hint_names_the_option_of_the_command_that_ran(tmp_path):
    rng = np.random.RandomState(0)
    for name in ("a", "b"):
        np.savez(tmp_path / f"{name}.npz", mu=np.zeros(4), sigma=np.eye(4), features=rng.rand(5, 4).astype(np.float32))
    done = run_cli("kid", tmp_path / "a.npz", tmp_path / "b.npz")
    assert_one_error_line(done, "use subset_size=5 (--subset-size 5)")
    np.save(tmp_path / "images.npy", tiny_images())
    done = run_cli("score", tmp_path / "images.npy", "--kid", tmp_path / "b.npz", "--splits", 1)
    assert_one_error_line(done, "(--kid-subset-size 3)")


def test_file_names_with_control_characters_are_escaped(tmp_path):
    folder = tmp_path / "odd\ninception-score: error: forged"
    folder.mkdir()
    done = run_cli("score", folder)
    assert_one_error_line(done, "odd\\ninception-score: error: forged")


@pytest.mark.parametrize("script", sorted(p.name for p in (Path(__file__).parent.parent / "benchmarks").glob("*.py")))
@pytest.mark.benchmark
def test_benchmarks_answer_help_without_running(script):
    path = Path(__file__).parent.parent / "benchmarks" / script
    done = subprocess.run([sys.executable, path, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage:"), done.stderr
