"""Writing ADM evaluator batches (export.save_adm_batch): read back as guided-diffusion's evaluator reads them,
and by our own `evaluate(..., protocol="adm")`, which must give the same numbers as against the folder."""

from __future__ import annotations

import os
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from PIL import Image

from inception_score import evaluate, save_statistics
from inception_score.errors import InceptionScoreError, InceptionScoreWarning
from inception_score.export import save_adm_batch
from inception_score.pipeline.adm_batch import adm_center_crop, write_adm_images


def decoded(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in sorted(folder.iterdir())])


def read_as_the_evaluator_does(path: Path) -> tuple[dict, tuple]:
    """What guided-diffusion's evaluations/evaluator.py takes from a batch: np.load's arrays (read_statistics:
    mu/sigma and mu_s/sigma_s when "mu" is a key), and arr_0 streamed from its zip member after the .npy
    header (version 1.0 or 2.0, C order, no objects: its StreamingNpzArrayReader)."""
    arrays = np.load(path)
    with zipfile.ZipFile(path) as archive, archive.open("arr_0.npy") as member:
        version = np.lib.format.read_magic(member)
        assert version in ((1, 0), (2, 0))
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(member)
        assert not fortran and not dtype.hasobject
        first = np.frombuffer(member.read(int(np.prod(shape[1:])) * dtype.itemsize), dtype).reshape(shape[1:])
    return {key: arrays[key] for key in arrays.files}, (shape, dtype, first)


def test_sample_batch_is_the_decoded_images_in_order(data, tmp_path):
    path = tmp_path / "samples_120x32x32x3.npz"
    info = save_adm_batch(data / "images" / "a", path, statistics=False, progress=False)
    arrays, (shape, dtype, first) = read_as_the_evaluator_does(path)
    assert list(arrays) == ["arr_0"] and shape == (120, 32, 32, 3) and dtype == np.uint8
    np.testing.assert_array_equal(arrays["arr_0"], decoded(data / "images" / "a"))
    np.testing.assert_array_equal(first, arrays["arr_0"][0])
    assert (info.count, info.height, info.width, info.compressed, info.statistics) == (120, 32, 32, False, ())
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_labels_become_arr_1(data, tmp_path):
    path = tmp_path / "samples.npz"
    save_adm_batch(data / "images" / "a", path, statistics=False, labels=np.arange(120) % 10, progress=False)
    arrays, _ = read_as_the_evaluator_does(path)
    assert list(arrays) == ["arr_0", "arr_1"]
    assert arrays["arr_1"].dtype == np.int64 and list(arrays["arr_1"][:12]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    with pytest.raises(InceptionScoreError, match="labels must be 120 class indices"):
        save_adm_batch(data / "images" / "a", tmp_path / "other.npz", statistics=False, labels=[1, 2], progress=False)


def test_images_of_several_sizes_need_a_resolution(data, tmp_path):
    target = tmp_path / "mixed.npz"
    target.write_bytes(b"the user's file")
    with pytest.raises(InceptionScoreError, match=r"image 4 is 17 x 23 but the first is 64 x 48.*--resolution"):
        save_adm_batch(data / "images" / "mixed", target, statistics=False, progress=False)
    assert target.read_bytes() == b"the user's file", "a failed run leaves the old file as it was"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.npz"], "and no temporary file"
    info = save_adm_batch(data / "images" / "mixed", target, statistics=False, resolution=16, progress=False)
    assert (info.count, info.height, info.width) == (28, 16, 16)
    stored = np.load(target)["arr_0"]
    for row, path in zip(stored, sorted((data / "images" / "mixed").iterdir())):
        np.testing.assert_array_equal(row, adm_center_crop(Image.open(path).convert("RGB"), 16))


@pytest.mark.parametrize(
    ("width", "height", "size", "halved", "resized", "offsets"),
    [
        (300, 200, 64, (150, 100), (96, 64), (0, 16)),  # one halving (200 >= 128), then 100 -> 64
        (300, 200, 50, (75, 50), (75, 50), (0, 12)),  # halved twice (200, 100 >= 100), bicubic keeps 75 x 50
        (5, 1, 4, (5, 1), (20, 4), (0, 8)),  # upscaled: round(5 * 4) = 20
        (33, 17, 8, (16, 8), (16, 8), (0, 4)),  # 17 -> 8 (integer halving), 33 -> 16
        (7, 9, 5, (7, 9), (5, 6), (0, 0)),  # no halving; 7 -> 5, round(9 * 5 / 7 = 6.43) = 6
    ],
)
def test_centre_crop_is_guided_diffusions(width, height, size, halved, resized, offsets):
    """Hand-computed sizes of center_crop_arr's steps: box halvings, the bicubic resize, the crop offsets."""
    pixels = np.random.default_rng(width + height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    while min(image.size) >= 2 * size:
        image = image.resize((image.size[0] // 2, image.size[1] // 2), Image.Resampling.BOX)
    assert image.size == halved
    image = image.resize(resized, Image.Resampling.BICUBIC)
    top, left = offsets
    expected = np.asarray(image)[top : top + size, left : left + size]
    np.testing.assert_array_equal(adm_center_crop(Image.fromarray(pixels), size), expected)


def test_member_is_stored_in_zip64_form(tmp_path):
    """A 50,000 x 256 x 256 x 3 batch is 9.8 GB: the member is written with ZIP64 sizes from the start (its local
    header carries the ZIP64 extra field), stored uncompressed as np.savez does."""
    path = tmp_path / "batch.npz"
    blocks = (np.full((2, 4, 5, 3), value, np.uint8) for value in range(3))
    assert write_adm_images(path, blocks, 6, 4, 5) == 6 * 4 * 5 * 3
    with zipfile.ZipFile(path) as archive:
        entry = archive.getinfo("arr_0.npy")
    assert entry.compress_type == zipfile.ZIP_STORED
    with open(path, "rb") as file:
        file.seek(entry.header_offset)
        local = file.read(30)
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        file.seek(name_length, 1)
        extra = file.read(extra_length)
    assert struct.unpack("<H", extra[:2])[0] == 0x0001, "ZIP64 extended information"
    np.testing.assert_array_equal(np.load(path)["arr_0"][4], np.full((4, 5, 3), 2, np.uint8))


def test_writer_checks_the_blocks(tmp_path):
    with pytest.raises(InceptionScoreError, match=r"must be b x 4 x 5 x 3 uint8, got float32"):
        write_adm_images(tmp_path / "a.npz", [np.zeros((1, 4, 5, 3), np.float32)], 1, 4, 5)
    with pytest.raises(InceptionScoreError, match="1 images written to arr_0, 2 announced"):
        write_adm_images(tmp_path / "b.npz", [np.zeros((1, 4, 5, 3), np.uint8)], 2, 4, 5)
    with pytest.raises(InceptionScoreError, match="more than the 1 images announced"):
        write_adm_images(tmp_path / "c.npz", [np.zeros((2, 4, 5, 3), np.uint8)], 1, 4, 5)


@pytest.mark.parametrize(
    ("target", "kwargs", "message"),
    [
        ("folder", {}, "is a folder"),
        ("missing/batch.npz", {}, "does not exist"),
        ("batch.zip", {}, "name ending in .npz"),
        ("batch.npz", {"resolution": 0}, "resolution .* must be a whole number"),
        ("batch.npz", {"on_error": "skip"}, "cannot be skipped"),
        ("batch.npz", {"classifier": "torchvision"}, "2015 Inception network's"),
    ],
)
def test_bad_requests_are_refused_before_any_work(data, tmp_path, target, kwargs, message):
    (tmp_path / "folder").mkdir()
    with pytest.raises(InceptionScoreError, match=message):
        save_adm_batch(data / "images" / "a", tmp_path / target, progress=False, **kwargs)


def test_the_output_cannot_be_the_input(tmp_path):
    batch = tmp_path / "batch.npz"
    np.savez(batch, np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(InceptionScoreError, match="is also an input"):
        save_adm_batch(batch, batch, statistics=False, progress=False)


@pytest.mark.reference
def test_reference_batch_round_trip(data, tmp_path, weights_path, folder_features, session_cache, monkeypatch):
    """The statistics come from the file's own images: evaluate(..., protocol="adm") against the batch gives the
    numbers it gives against the folder; and the evaluator finds every array with the right name, shape, dtype."""
    folder_features("a"), folder_features("b")
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(session_cache))  # the folders' features, computed once
    path = tmp_path / "ref_batch.npz"
    options = dict(weights=weights_path, progress=False, batch_size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InceptionScoreWarning)
        info = save_adm_batch(data / "images" / "a", path, **options)
        arrays, (shape, dtype, _) = read_as_the_evaluator_does(path)
        assert list(arrays) == ["arr_0", "mu", "sigma", "mu_s", "sigma_s"]
        assert info.statistics == ("mu", "sigma", "mu_s", "sigma_s")
        assert (shape, dtype) == ((120, 32, 32, 3), np.uint8)
        shapes = {key: (value.shape, value.dtype) for key, value in arrays.items() if key != "arr_0"}
        assert shapes == {
            "mu": ((2048,), np.float64),
            "sigma": ((2048, 2048), np.float64),
            "mu_s": ((2023,), np.float64),
            "sigma_s": ((2023, 2023), np.float64),
        }
        # Without the cache: cached features arrive as one block, and float64 sums grouped otherwise may differ
        # in the last digit; fresh, both files' features come in the same batches of 40.
        folder = save_statistics(data / "images" / "a", tmp_path / "a.npz", spatial=True, cache=False, **options)
        for key in ("mu", "sigma", "mu_s", "sigma_s"):
            np.testing.assert_array_equal(arrays[key], getattr(folder, key), err_msg=key)
        wanted = dict(metrics=("fid", "sfid", "pr"), protocol="adm", **options)
        against_batch = evaluate(data / "images" / "b", reference=path, **wanted)
        against_folder = evaluate(data / "images" / "b", reference=data / "images" / "a", **wanted)
    assert against_batch.fid.fid == pytest.approx(against_folder.fid.fid, rel=1e-12)
    assert against_batch.sfid.sfid == pytest.approx(against_folder.sfid.sfid, rel=1e-12)
    pr_batch, pr_folder = against_batch.manifold, against_folder.manifold
    assert (pr_batch.precision, pr_batch.recall) == (pr_folder.precision, pr_folder.recall)
    assert against_batch.fid.b.endswith("(mu, sigma from the file)"), "the file's own statistics were used"
    assert against_batch.sfid.b.endswith("(mu_s, sigma_s from the file)")


def test_stats_format_adm_writes_a_sample_batch(data, tmp_path):
    labels = tmp_path / "labels.npy"
    np.save(labels, np.arange(120) % 7)
    path = tmp_path / "samples_120x32x32x3.npz"
    done = run_cli("stats", data / "images" / "a", "-o", path, "--format", "adm", "--images-only", "--labels", labels)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {path}: an ADM sample batch, arr_0 120 x 32 x 32 x 3 uint8, arr_1 labels\n"
    arrays, _ = read_as_the_evaluator_does(path)
    np.testing.assert_array_equal(arrays["arr_0"], decoded(data / "images" / "a"))
    np.testing.assert_array_equal(arrays["arr_1"], np.arange(120) % 7)


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--resolution", "16"], "--resolution: not for --format npz"),
        (["--format", "adm", "--with-features"], "--with-features: not for --format adm"),
        (["--format", "adm", "--images-only", "--skip-bad"], "cannot be skipped"),
        (["--format", "adm", "--images-only", "--labels", "missing.npy"], "missing.npy: no such file"),
        (["--format", "adm", "--images-only", "-o", "samples.zip"], "name ending in .npz"),
    ],
)
def test_stats_format_adm_mistakes_are_one_line(data, tmp_path, monkeypatch, words, message):
    monkeypatch.chdir(tmp_path)
    output = [] if "-o" in words else ["-o", "out.npz"]
    done = run_cli("stats", data / "images" / "a", *output, *words)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("inception-score: error: ") and message in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []
