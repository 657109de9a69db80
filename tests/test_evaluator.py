"""Evaluator, the accumulating engine: batches of any size and type give evaluate's numbers; the reference as a
folder, a statistics file, a catalog name or update(real=True) batches; reset(); floats with a declared range."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli
from PIL import Image

from inception_score import Evaluator, InceptionScore, InceptionScoreError, evaluate, inception_score, save_statistics
from inception_score.pipeline.extractors import load_classifier

COUNT = 20
METRICS = ("is", "fid", "kid", "vendi", "mind")
OPTIONS = dict(splits=2, kid_subsets=4, kid_subset_size=10, mind_num_projections=50, batch_size=8, progress=False)


@pytest.fixture(scope="module")
def small(data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("evaluator")
    for name in "ab":
        (folder / name).mkdir()
        for path in sorted((data / "images" / name).glob("*.png"))[:COUNT]:
            shutil.copy(path, folder / name / path.name)
    return folder


def pixels(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in sorted(folder.glob("*.png"))])


@pytest.fixture(scope="module")
def expected(small, weights_path):
    """evaluate(a, reference=b) on the small folders: what every Evaluator below must give."""
    return evaluate(small / "a", reference=small / "b", metrics=METRICS, weights=weights_path, cache=False, **OPTIONS)


def uneven(images: np.ndarray) -> list:
    """The images in batches of 3, 7, 1, 9: numpy NHWC, torch NCHW, torch NHWC, numpy NCHW."""
    cuts = np.cumsum([0, 3, 7, 1, 9])
    kinds = [
        lambda x: x,
        lambda x: torch.from_numpy(x).permute(0, 3, 1, 2),
        lambda x: torch.from_numpy(x.copy()),
        lambda x: np.ascontiguousarray(x.transpose(0, 3, 1, 2)),
    ]
    return [kind(images[start:stop]) for kind, start, stop in zip(kinds, cuts[:-1], cuts[1:])]


def assert_same(found, expected) -> None:
    got, want = found.metrics_dict(), expected.metrics_dict()
    for key in ("inception_score_mean", "frechet_inception_distance", "kernel_inception_distance_mean"):
        assert got[key] == pytest.approx(want[key], rel=1e-12), key
    for key in ("inception_score_std", "kernel_inception_distance_std", "vendi_score", "monge_inception_distance"):
        assert got[key] == pytest.approx(want[key], rel=1e-12), key


def test_batches_of_any_size_and_type_equal_evaluate(small, weights_path, expected):
    evaluator = Evaluator(METRICS, small / "b", weights=weights_path, cache=False, **OPTIONS)
    for batch in uneven(pixels(small / "a")):
        evaluator.update(batch)
    found = evaluator.compute()
    assert_same(found, expected)
    assert found.inception_score.n == COUNT and found.fid.b == expected.fid.b
    assert found.kid.weights_sha256 == expected.kid.weights_sha256 and found.mind.n == COUNT


def test_reference_as_a_statistics_file_or_as_real_batches(small, weights_path, expected, tmp_path):
    statistics = save_statistics(
        small / "b", tmp_path / "b.npz", with_features=True, weights=weights_path, progress=False
    )
    from_file = Evaluator(METRICS, statistics.path, weights=weights_path, cache=False, **OPTIONS)
    from_batches = Evaluator(METRICS, weights=weights_path, cache=False, **OPTIONS)
    for batch in uneven(pixels(small / "b")):
        from_batches.update(batch, real=True)
    for evaluator in (from_file, from_batches):
        evaluator.update(pixels(small / "a"))
        assert_same(evaluator.compute(), expected)
    assert "update(real=True)" in from_batches.compute().fid.b


def test_reference_by_catalog_name(small, weights_path, tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(tmp_path / "cache"))
    batch = tmp_path / "VIRTUAL_lsun_cat256.npz"
    np.savez(batch, arr_0=pixels(small / "b"))  # an ADM reference batch of images, no statistics
    installed = run_cli("refs", "install", "VIRTUAL_lsun_cat256", batch)
    assert installed.returncode == 0, installed.stderr
    named = Evaluator(("fid",), "VIRTUAL_lsun_cat256", weights=weights_path, cache=False, **OPTIONS)
    named.update(pixels(small / "a"))
    found = named.compute().fid
    direct = evaluate(
        pixels(small / "a"), reference=batch, metrics=("fid",), weights=weights_path, cache=False, **OPTIONS
    )
    assert (
        found.fid == pytest.approx(direct.fid.fid, rel=1e-12)
        and found.reference["catalog_name"] == "VIRTUAL_lsun_cat256"
    )


def test_reset_forgets_the_samples_and_keeps_the_extracted_reference(small, weights_path, expected):
    model = load_classifier(weights=weights_path, progress=False).module
    seen = [0]
    hook = model.register_forward_hook(lambda module, inputs, output: seen.__setitem__(0, seen[0] + len(inputs[0])))
    try:
        evaluator = Evaluator(METRICS, small / "b", weights=weights_path, cache=False, **OPTIONS)
        assert seen[0] == COUNT  # the reference, once, when the Evaluator is made
        evaluator.update(pixels(small / "b"))
        evaluator.compute()
        evaluator.reset()
        evaluator.update(pixels(small / "a"))
        found = evaluator.compute()
        assert seen[0] == 3 * COUNT  # the reference was not read again
    finally:
        hook.remove()
    assert_same(found, expected)


def test_float_tensors_in_a_declared_range_give_the_uint8_numbers(small, weights_path, expected):
    images = torch.from_numpy(pixels(small / "a")).permute(0, 3, 1, 2).float() / 255 * 2 - 1
    evaluator = Evaluator(METRICS, small / "b", weights=weights_path, cache=False, value_range=(-1, 1), **OPTIONS)
    evaluator.update(images[:11])
    evaluator.update(images[11:].double())
    assert_same(evaluator.compute(), expected)
    with pytest.raises(InceptionScoreError, match=r"update\(\) images index 22: values span .* outside value_range"):
        evaluator.update(torch.cat([images[:2], images[2:3] * 3]))


def test_the_device_path_is_the_same_code_on_any_device(small, weights_path):
    """A tensor on the network's device is not copied to the CPU first; on CUDA machines this runs on the GPU."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    images = torch.from_numpy(pixels(small / "a")).to(device)
    evaluator = InceptionScore(weights=weights_path, device=device, splits=2, batch_size=8)
    evaluator.update(images)
    found = evaluator.compute()
    on_cpu = inception_score(
        pixels(small / "a"), splits=2, weights=weights_path, device="cpu", cache=False, progress=False, batch_size=8
    )
    assert found.mean == pytest.approx(on_cpu.mean, rel=1e-5 if device == "cuda" else 1e-12)


def test_inception_score_object_equals_the_api_whatever_the_update_sizes(small, weights_path):
    images = pixels(small / "a")
    metric = InceptionScore(weights=weights_path, splits=2, batch_size=8, device="cpu")
    for batch in uneven(images):
        metric.update(batch)
    api = inception_score(
        images, splits=2, weights=weights_path, batch_size=8, device="cpu", cache=False, progress=False
    )
    assert metric.compute().to_dict() == api.to_dict()


def test_misuse_is_one_clear_error(small, weights_path):
    with pytest.raises(InceptionScoreError, match="before any update"):
        InceptionScore(weights=weights_path).compute()
    evaluator = Evaluator(("is", "fid"), small / "b", weights=weights_path, progress=False)
    with pytest.raises(InceptionScoreError, match="has its own reference"):
        evaluator.update(pixels(small / "a"), real=True)
    with pytest.raises(InceptionScoreError, match="unknown option kid_subsetz"):
        Evaluator(("kid",), small / "b", weights=weights_path, kid_subsetz=3)
    with pytest.raises(InceptionScoreError, match="FID needs at least 2 images"):
        lone = Evaluator(("fid",), small / "b", weights=weights_path, progress=False)
        lone.update(pixels(small / "a")[:1])
        lone.compute()
