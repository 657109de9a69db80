"""IS + FID + KID through the real network: torch-fidelity's numbers, one forward pass per image, files, CLI."""

import json
import os
import shutil
from contextlib import contextmanager

import numpy as np
import pytest
from helpers import run_cli

from inception_score import (
    InceptionScoreError,
    evaluate,
    fid,
    kid,
    read_statistics,
    save_statistics,
)
from inception_score.pipeline.extract import PIPELINE_VERSION
from inception_score.pipeline.extractors import load_classifier
from inception_score.pipeline.weights import sha256_file


@contextmanager
def counting_forward_images(weights_path):
    """Count the images that go through the real model's forward pass (a hook on the loaded network)."""
    model = load_classifier(weights=weights_path, progress=False).module
    counted = [0]
    handle = model.register_forward_hook(
        lambda module, inputs, output: counted.__setitem__(0, counted[0] + inputs[0].shape[0])
    )
    try:
        yield counted
    finally:
        handle.remove()


@pytest.fixture(scope="module")
def full(weights_path, data, folder_features, session_cache):
    """evaluate(a, reference=b) on the two 120-image fixture folders, from the session's cached features."""
    folder_features("a"), folder_features("b")
    saved = os.environ.get("INCEPTION_SCORE_CACHE")
    os.environ["INCEPTION_SCORE_CACHE"] = str(session_cache)
    try:
        with counting_forward_images(weights_path) as counted:
            result = evaluate(
                data / "images" / "a",
                reference=data / "images" / "b",
                kid_subsets=10,
                kid_subset_size=50,
                weights=weights_path,
                batch_size=40,
                progress=False,
            )
    finally:
        os.environ.pop("INCEPTION_SCORE_CACHE") if saved is None else os.environ.update(INCEPTION_SCORE_CACHE=saved)
    return result, counted[0]


@pytest.mark.reference
def test_is_fid_kid_match_torch_fidelity(full, data, weights_path):
    result, forwarded = full
    assert forwarded == 0 and result.inception_score.cached == 120  # per-image features from the session's run
    reference = json.loads((data / "reference_ab.json").read_text())
    expected_mean, expected_std = reference["sets"]["a"]["is_splits10_shuffled2020"]
    assert result.inception_score.mean == pytest.approx(expected_mean, rel=1e-5)
    assert result.inception_score.std == pytest.approx(expected_std, abs=1e-4)
    assert result.fid.fid == pytest.approx(reference["fid"], rel=1e-4)
    kid_mean, kid_std = reference["kid_subsets10_size50_seed2020_float64"]
    assert (result.kid.mean, result.kid.std) == pytest.approx((kid_mean, kid_std), rel=1e-4)
    sha = sha256_file(weights_path)
    for metric in (result.inception_score, result.fid, result.kid):
        assert metric.weights_sha256 == sha and metric.reference_weights is False
    assert (result.fid.n_a, result.fid.n_b, result.kid.n_a, result.kid.n_b) == (120, 120, 120, 120)
    assert result.fid.pipeline_version == PIPELINE_VERSION and "images/b" in result.fid.b
    document = result.to_dict()
    assert document["mean"] == result.inception_score.mean and document["fid"]["fid"] == result.fid.fid
    assert document["kid"]["mean"] == result.kid.mean


@pytest.fixture(scope="module")
def small(data, tmp_path_factory):
    """Two 6-image folders, so that the remaining network tests stay cheap."""
    folder = tmp_path_factory.mktemp("small")
    for name in "ab":
        (folder / name).mkdir()
        for path in sorted((data / "images" / name).glob("*.png"))[:6]:
            shutil.copy(path, folder / name / path.name)
    return folder


@pytest.fixture(scope="module")
def stats_b(small, weights_path):
    with counting_forward_images(weights_path) as counted:
        statistics = save_statistics(
            small / "b", small / "b.npz", with_features=True, weights=weights_path, progress=False, cache=False
        )
    assert counted[0] == 6
    return statistics


@pytest.fixture(scope="module")
def fid_ab(small, weights_path):
    return fid(small / "a", small / "b", weights=weights_path, progress=False, cache=False)


def test_saved_statistics_record_their_provenance(stats_b, weights_path):
    assert (stats_b.n, stats_b.features_shape) == (6, (6, 2048))
    assert stats_b.weights_sha256 == sha256_file(weights_path) and stats_b.pipeline_version == PIPELINE_VERSION


def test_fid_against_statistics_of_b_equals_fid_against_b_and_uses_the_cache(small, stats_b, fid_ab, weights_path):
    with counting_forward_images(weights_path) as counted:
        result = fid(small / "a", stats_b.path, weights=weights_path, progress=False)
        assert counted[0] == 6  # only a goes through the network
        again = fid(small / "a", stats_b.path, weights=weights_path, progress=False)
        assert counted[0] == 6  # the second time a's features come from the feature cache
    assert result.fid == pytest.approx(fid_ab.fid, rel=1e-9) and again.fid == pytest.approx(result.fid, rel=1e-12)
    assert (result.n_a, result.n_b) == (6, 6) and result.warnings == fid_ab.warnings


def test_all_metrics_against_a_statistics_file_cost_one_pass_of_the_source(small, stats_b, weights_path):
    with counting_forward_images(weights_path) as counted:
        result = evaluate(
            small / "a",
            reference=stats_b.path,
            splits=2,
            kid_subsets=3,
            kid_subset_size=5,
            weights=weights_path,
            progress=False,
            cache=False,
        )
    assert counted[0] == 6
    assert result.inception_score.n == 6 and result.fid.n_b == 6 and result.kid.subset_size == 5


def test_is_fid_and_kid_of_two_image_sets_cost_one_pass_per_image(small, weights_path):
    with counting_forward_images(weights_path) as counted:
        result = evaluate(
            small / "a",
            reference=small / "b",
            splits=2,
            kid_subsets=3,
            kid_subset_size=5,
            weights=weights_path,
            progress=False,
            cache=False,
        )
    assert counted[0] == 12  # 6 + 6 images, each through the network once, for all three metrics
    assert (result.inception_score.n, result.fid.n_a, result.fid.n_b, result.kid.n_b) == (6, 6, 6, 6)


def test_the_same_side_twice_is_computed_once_and_gives_zero(small, weights_path):
    with counting_forward_images(weights_path) as counted:
        result = fid(
            small / "a", small / "a", weights=weights_path, progress=False, cache=False, fast=True, device="cpu"
        )
    assert counted[0] == 6 and 0 <= result.fid < 1e-6
    assert "fast has no effect on this device: the network ran in exact float32" in result.warnings


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s, w: evaluate(s / "a", metrics=("is", "fid"), weights=w), "FID needs a reference"),
        (
            lambda s, w: evaluate(s / "a", reference=s / "b", metrics=("is", "kid"), splits=2, weights=w),
            "KID subsets of 1000 need at least 1000 images on each side, but side a has 6: use subset_size=6",
        ),
        (lambda s, w: evaluate(s / "b.npz", metrics=("is",), weights=w), "holds statistics, not images"),
        (lambda s, w: evaluate(s / "a", reference=s / "b", metrics=("fid", "lpips"), weights=w), "metrics must be"),
        (lambda s, w: save_statistics(s / "a", s / "a.txt", weights=w), "must end in .npz"),
    ],
)
def test_mistakes_fail_before_any_forward_pass(small, stats_b, weights_path, call, message):
    with counting_forward_images(weights_path) as counted:
        with pytest.raises(InceptionScoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call(small, weights_path)
    assert counted[0] == 0


def test_cli_stats_then_score_with_fid_and_kid_against_the_file(small, fid_ab, weights_path):
    done = run_cli(
        "stats", small / "a", "-o", small / "a-cli.npz", "--with-features", "--weights", weights_path, "--quiet"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {small / 'a-cli.npz'}: 6 images") and "features 6 x 2048" in done.stdout
    assert read_statistics(small / "a-cli.npz").has_features
    done = run_cli(
        "score",
        small / "b",
        "--fid",
        small / "a-cli.npz",
        "--kid",
        small / "a-cli.npz",
        "--splits",
        2,
        "--kid-subsets",
        3,
        "--kid-subset-size",
        5,
        "--weights",
        weights_path,
        "--json",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["n"] == 6 and printed["splits"] == 2
    assert printed["fid"]["fid"] == pytest.approx(fid_ab.fid, rel=1e-9)  # FID(b, a) = FID(a, b)
    assert (printed["fid"]["n_a"], printed["fid"]["n_b"]) == (6, 6)
    assert {"mean", "std", "subsets", "subset_size", "seed"} <= printed["kid"].keys()
    assert "warning: FID from 6 vs 6 images" in done.stderr and "Traceback" not in done.stderr


def test_cli_fid_and_kid_between_files(stats_b):
    done = run_cli("fid", stats_b.path, stats_b.path, "--json")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert 0 <= printed["fid"] < 1e-6 and (printed["n_a"], printed["n_b"]) == (6, 6)
    done = run_cli("kid", stats_b.path, stats_b.path, "--subsets", 3, "--subset-size", 5, "--json")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)["kid"]
    expected = kid(stats_b.path, stats_b.path, subsets=3, subset_size=5)
    assert (printed["mean"], printed["std"]) == pytest.approx((expected.mean, expected.std), rel=1e-12)
    done = run_cli("fid", stats_b.path, stats_b.path)
    assert done.returncode == 0 and done.stdout.startswith("FID = 0.0000 (6 vs 6 images)")


@pytest.mark.parametrize(
    "args, message",
    [
        (["fid", "{bad}", "{b}"], "cannot read it as a .npz statistics file"),
        (["kid", "{b}", "{nofeatures}", "--subset-size", "5"], "--with-features"),
        (["kid", "{b}", "{b}"], "use subset_size=6 (--subset-size 6)"),
        (["stats", "{small}/a", "-o", "{small}/out.txt"], "must end in .npz"),
        (["score", "{small}/a", "--kid", "{b}", "--kid-subset-size", "0"], "expected a whole number >= 1"),
    ],
)
def test_cli_mistakes_exit_2_with_one_clear_line(small, stats_b, tmp_path, args, message):
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with np.load(stats_b.path) as npz:
        np.savez(tmp_path / "nofeatures.npz", mu=npz["mu"], sigma=npz["sigma"])
    args = [
        a.format(bad=tmp_path / "bad.npz", b=stats_b.path, nofeatures=tmp_path / "nofeatures.npz", small=small)
        for a in args
    ]
    done = run_cli(*args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.count("error:") == 1
