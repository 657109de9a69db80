"""Hostile input that used to give a wrong number with exit 0: now an error, or the right number.

Real archives made by `tar -r` and zip appends, real weights files, real TIFFs, real statistics files.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import warnings
import zipfile

import numpy as np
import pytest
import torch
from helpers import run_cli
from PIL import Image

from inception_score import InceptionScoreError, inception_score
from inception_score.pipeline.extractors import InputContract
from inception_score.pipeline.sources import Sample, decode, open_source


def assert_one_error_line(done, *messages):
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("inception-score: error: ")]
    assert len(errors) == 1, done.stderr
    for message in messages:
        assert message in errors[0], errors[0]


# Archives whose members share a name: refused (the members cannot be told apart by name).


def two_pngs(data):
    first, second = sorted((data / "images" / "a").glob("*.png"))[:2]
    return first.read_bytes(), second.read_bytes()


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs the tar program")
def test_tar_appended_with_a_member_of_the_same_name_is_refused(tmp_path, data):
    first, second = two_pngs(data)
    (tmp_path / "x.png").write_bytes(first)
    (tmp_path / "y.png").write_bytes(first)
    subprocess.run(["tar", "-cf", "set.tar", "x.png", "y.png"], cwd=tmp_path, check=True)
    (tmp_path / "x.png").write_bytes(second)
    subprocess.run(["tar", "-rf", "set.tar", "x.png"], cwd=tmp_path, check=True)  # a second member x.png
    with tarfile.open(tmp_path / "set.tar") as archive:
        assert archive.getnames() == ["x.png", "y.png", "x.png"]
    done = run_cli("score", tmp_path / "set.tar", "--splits", 1, "--no-cache")
    assert_one_error_line(done, "set.tar: 1 member name used more than once (x.png; 1 extra copy)", "unique names")


def test_zip_appended_with_a_member_of_the_same_name_is_refused(tmp_path, data):
    first, second = two_pngs(data)
    path = tmp_path / "set.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.png", first)
        archive.writestr("y.png", first)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as archive:
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name" warning: the point of the test
        archive.writestr("x.png", second)
        archive.writestr("y.png", second)
    with pytest.raises(InceptionScoreError, match="2 member names used more than once .x.png, y.png; 2 extra copies"):
        open_source(path)


def test_archive_member_names_are_escaped_in_messages(tmp_path, data):
    first, _ = two_pngs(data)
    path = tmp_path / "set.tar"
    with tarfile.open(path, "w") as archive:
        for _ in range(2):
            info = tarfile.TarInfo("evil\ninception-score: error: forged.png")
            info.size = len(first)
            archive.addfile(info, io.BytesIO(first))
    done = run_cli("score", path, "--splits", 1, "--no-cache")
    assert_one_error_line(done, "evil\\ninception-score: error: forged.png")


# Decompression bombs: a member over MAX_MEMBER_BYTES (1 GiB) is refused before it is read.


class _Zeros(io.RawIOBase):
    """`count` zero bytes, streamed (a 1 GiB member without 1 GiB of memory)."""

    def __init__(self, count: int) -> None:
        self.left = count

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_a_tar_member_over_one_gib_is_refused_and_skippable(tmp_path, data, weights_path):
    from inception_score.pipeline.sources import MAX_MEMBER_BYTES

    first, second = two_pngs(data)
    path = tmp_path / "bomb.tar.gz"  # 1 GiB + 1 of zeros: 4.7 MB compressed
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for name, body in (("a.png", first), ("b.png", second)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
        big = tarfile.TarInfo("big.png")
        big.size = MAX_MEMBER_BYTES + 1
        archive.addfile(big, io.BufferedReader(_Zeros(big.size), 1 << 20))
    done = run_cli("score", path, "--splits", 1, "--no-cache", "--weights", weights_path)
    assert_one_error_line(done, "bomb.tar.gz:big.png: the member expands to 1,073,741,825 bytes", "--skip-bad")
    skipped = run_cli("score", path, "--splits", 1, "--no-cache", "--weights", weights_path, "--skip-bad", "--json")
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["n"] == 2 and "big.png" in skipped.stderr


def test_a_zip_member_whose_header_claims_over_one_gib_is_refused_unread(tmp_path, data):
    first, _ = two_pngs(data)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("big.png", first)
    raw = bytearray(path.read_bytes())
    central = raw.index(b"PK\x01\x02")  # the central directory entry: uncompressed size at offset 24
    raw[central + 24 : central + 28] = (3 << 30).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    (sample,) = open_source(path)
    assert sample.error is not None and "expands to 3,221,225,472 bytes" in sample.error and sample.data == b""


# Non-finite weights and outputs: an error on the optimised path and on --plain alike.


def tiny_images(count=3, size=48):
    return np.random.RandomState(0).randint(0, 256, (count, size, size, 3), dtype=np.uint8)


def saved_state(weights_path, tmp_path, change):
    state = torch.load(weights_path, weights_only=True)
    change(state)
    path = tmp_path / "changed.pth"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("plain", [False, True])
def test_weights_with_nan_are_refused_on_both_paths(weights_path, tmp_path, plain):
    path = saved_state(
        weights_path, tmp_path, lambda state: state["Mixed_6a.branch3x3.conv.weight"].view(-1)[7:9].fill_(float("nan"))
    )
    with pytest.raises(InceptionScoreError, match="NaN or infinite values: Mixed_6a.branch3x3.conv.weight"):
        inception_score(tiny_images(), splits=1, weights=path, plain=plain, cache=False, progress=False, device="cpu")


@pytest.mark.parametrize("plain", [False, True])
def test_outputs_that_overflow_are_an_error_on_both_paths(weights_path, tmp_path, plain):
    path = saved_state(weights_path, tmp_path, lambda state: state["fc.weight"].fill_(3e38))  # finite, logits overflow
    with pytest.raises(InceptionScoreError, match="index 0 and 2 other images: the network gave NaN or infinite"):
        inception_score(tiny_images(), splits=1, weights=path, plain=plain, cache=False, progress=False, device="cpu")


def test_non_finite_normalisation_is_refused():
    for normalize in ("nan,0.5", "0.5,inf", "0.5,-1", "-inf,1"):
        with pytest.raises(InceptionScoreError, match="STD a finite number above 0"):
            InputContract(size=32, normalize=normalize)


# Integer image modes: PIL's own conversion, except 16-bit samples (scaled by 1/257 on purpose).


def tiff(array, mode=None):
    buffer = io.BytesIO()
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(buffer, format="TIFF")
    return buffer.getvalue()


def test_32bit_integer_tiff_decodes_like_pil_convert_rgb():
    values = np.array([[-70000, -5, 0, 100], [255, 300, 65535, 2**31 - 1]], np.int32)
    data = tiff(values, "I")
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert (decode(Sample("x.tif", data)) == expected).all()
    assert expected[..., 0].tolist() == [[0, 0, 0, 100], [255, 255, 255, 255]]


def test_16bit_tiff_is_still_scaled_by_257():
    values = np.array([[0, 257, 1000, 65535]], np.uint16)
    decoded = decode(Sample("x.tif", tiff(values)))
    assert decoded[..., 0].tolist() == [[0, 1, 4, 255]]


def test_float_tiff_decodes_like_pil_convert_rgb():
    data = tiff(np.array([[-1.5, 0.4, 100.6, 1e9]], np.float32), "F")
    assert (decode(Sample("x.tif", data)) == np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))).all()


# Statistics that make FID or KID overflow: an error, and --json is always valid JSON.


def statistics_file(path, mean, *, features=None):
    arrays = dict(mu=np.full(8, mean), sigma=np.eye(8))
    if features is not None:
        arrays.update(features=features.astype(np.float32), n=np.array(len(features)))
    np.savez(path, **arrays)
    return path


def test_fid_of_extreme_statistics_is_an_error_not_infinity(tmp_path):
    a = statistics_file(tmp_path / "a.npz", 1e200)
    b = statistics_file(tmp_path / "b.npz", -1e200)
    done = run_cli("fid", a, b, "--json")
    assert_one_error_line(done, "the FID overflows float64 (the means reach 1e+200)")


def test_kid_of_extreme_features_is_an_error_not_nan(tmp_path):
    rng = np.random.RandomState(1)
    a = statistics_file(tmp_path / "a.npz", 0.0, features=rng.rand(10, 8) * 3e38)
    b = statistics_file(tmp_path / "b.npz", 0.0, features=rng.rand(10, 8))
    done = run_cli("kid", a, b, "--subsets", 2, "--subset-size", 5, "--json")
    assert_one_error_line(done, "the KID overflows float64")


def test_json_of_finite_statistics_is_strict_json(tmp_path):
    a = statistics_file(tmp_path / "a.npz", 1.0)
    b = statistics_file(tmp_path / "b.npz", 2.0)
    done = run_cli("fid", a, b, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert document["fid"] == pytest.approx(8.0)
