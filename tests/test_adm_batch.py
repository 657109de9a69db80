"""ADM batch files (adm_batch): real .npz files made with np.savez / np.savez_compressed."""

import re
import zipfile

import numpy as np
import pytest

from inception_score.errors import InceptionScoreError
from inception_score.pipeline.adm_batch import inspect_adm_batch, is_adm_batch, iter_adm_images, read_adm_statistics
from inception_score.pipeline.statistics import is_statistics_path


def images(count=10, height=5, width=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_streams_every_image_in_order(tmp_path, save):
    path = tmp_path / "samples.npz"
    pixels = images()
    save(path, pixels, np.arange(10))  # arr_0 images, arr_1 labels
    blocks = list(iter_adm_images(path, block=4))
    assert [len(b) for b in blocks] == [4, 4, 2]
    assert all(b.dtype == np.uint8 and b.flags.writeable for b in blocks)
    assert np.array_equal(np.concatenate(blocks), pixels)
    info = inspect_adm_batch(path)
    assert (info.count, info.height, info.width, info.has_labels) == (10, 5, 7, True)
    assert info.compressed == (save is np.savez_compressed)
    assert info.statistics == () and info.other_keys == ()
    assert read_adm_statistics(path) == {}


def test_reference_batch_statistics(tmp_path):
    path = tmp_path / "ref.npz"
    rng = np.random.default_rng(1)
    mu, sigma = rng.normal(size=4).astype(np.float32), np.eye(4, dtype=np.float32)
    mu_s, sigma_s = rng.normal(size=3), 2 * np.eye(3)
    np.savez(path, images(3), mu=mu, sigma=sigma, mu_s=mu_s, sigma_s=sigma_s, extra=np.zeros(2))
    info = inspect_adm_batch(path)
    assert info.statistics == ("mu", "sigma", "mu_s", "sigma_s") and info.other_keys == ("extra",)
    assert not info.has_labels
    stats = read_adm_statistics(path)
    assert set(stats) == {"mu", "sigma", "mu_s", "sigma_s"}
    assert all(value.dtype == np.float64 for value in stats.values())
    assert np.array_equal(stats["mu"], mu.astype(np.float64)) and np.array_equal(stats["sigma_s"], sigma_s)
    assert info.to_dict()["count"] == 3


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_a_channels_first_batch_is_the_same_batch_as_its_channels_last_twin(tmp_path, save):
    """One layout rule: N x 3 x H x W streams the same images, with the same statistics, as N x H x W x 3."""
    pixels = images(count=9, height=5, width=6)
    statistics = dict(mu=np.arange(4.0), sigma=np.eye(4), mu_s=np.zeros(2), sigma_s=np.eye(2))
    last, first = tmp_path / "last.npz", tmp_path / "first.npz"
    save(last, pixels, **statistics)
    save(first, pixels.transpose(0, 3, 1, 2), **statistics)
    assert is_adm_batch(last) and is_adm_batch(first)
    for block in (2, 4, 100):
        assert np.array_equal(np.concatenate(list(iter_adm_images(first, block=block))), pixels)
    assert inspect_adm_batch(first).to_dict() | {"path": "", "layout": ""} == inspect_adm_batch(last).to_dict() | {
        "path": "",
        "layout": "",
    }
    assert (inspect_adm_batch(first).layout, inspect_adm_batch(last).layout) == ("NCHW", "NHWC")
    for key, value in read_adm_statistics(first).items():
        assert np.array_equal(value, read_adm_statistics(last)[key])
    assert not is_statistics_path(first) and not is_statistics_path(last)


def test_a_shape_with_three_on_both_axes_needs_a_layout(tmp_path):
    path = tmp_path / "tiny.npz"
    pixels = images(count=2, height=3, width=3)
    np.savez(path, pixels)
    assert not is_adm_batch(path)
    with pytest.raises(InceptionScoreError, match="ambiguous"):
        inspect_adm_batch(path)
    assert is_adm_batch(path, "NHWC") and is_adm_batch(path, "NCHW")
    assert np.array_equal(next(iter_adm_images(path, layout="NHWC")), pixels)
    assert np.array_equal(next(iter_adm_images(path, layout="NCHW")), pixels.transpose(0, 2, 3, 1))


def test_empty_batch_yields_nothing(tmp_path):
    path = tmp_path / "empty.npz"
    np.savez(path, np.zeros((0, 4, 4, 3), np.uint8))
    assert list(iter_adm_images(path)) == []
    assert inspect_adm_batch(path).count == 0


def test_large_block_holds_everything_at_once(tmp_path):
    path = tmp_path / "one.npz"
    pixels = images(count=3)
    np.savez_compressed(path, pixels)
    (block,) = list(iter_adm_images(path, block=1000))
    assert np.array_equal(block, pixels)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((2, 4, 4, 3), np.float32), "must hold uint8"),
        (np.zeros((2, 4, 4), np.uint8), "N x H x W x 3"),
        (np.zeros((2, 1, 4, 4), np.uint8), "N x 3 x H x W, got"),
        (np.zeros((2, 3, 4, 3), np.uint8), "ambiguous"),
        (np.asfortranarray(np.zeros((2, 4, 4, 3), np.uint8)), "Fortran order"),
    ],
)
def test_wrong_images_are_clear_errors(tmp_path, array, message):
    path = tmp_path / "bad.npz"
    np.savez(path, array)
    with pytest.raises(InceptionScoreError, match=message):
        inspect_adm_batch(path)
    with pytest.raises(InceptionScoreError, match=message):
        next(iter_adm_images(path))


def test_missing_images_and_not_a_zip(tmp_path):
    path = tmp_path / "stats_only.npz"
    np.savez(path, mu=np.zeros(2), sigma=np.eye(2))
    with pytest.raises(InceptionScoreError, match="no arr_0"):
        inspect_adm_batch(path)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(InceptionScoreError, match="not a readable .npz"):
        inspect_adm_batch(text)
    with pytest.raises(InceptionScoreError, match="no such file"):
        inspect_adm_batch(tmp_path / "absent.npz")


def _rewrite_member(path, name, transform):
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: (info, archive.read(info)) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w") as archive:
        for filename, (info, data) in members.items():
            archive.writestr(info, transform(data) if filename == name else data)


def test_corrupt_header_is_a_clear_error(tmp_path):
    path = tmp_path / "header.npz"
    np.savez(path, images())
    _rewrite_member(path, "arr_0.npy", lambda data: data[:8] + b"{'descr': garbage" + data[25:])
    with pytest.raises(InceptionScoreError, match="header of arr_0 is corrupt"):
        inspect_adm_batch(path)
    magic = tmp_path / "magic.npz"
    np.savez(magic, images())
    _rewrite_member(magic, "arr_0.npy", lambda data: b"NOTNUMPY" + data[8:])
    with pytest.raises(InceptionScoreError, match="header of arr_0 is corrupt"):
        next(iter_adm_images(magic))


def test_truncated_images_are_a_clear_error(tmp_path):
    path = tmp_path / "short.npz"
    np.savez(path, images())
    _rewrite_member(path, "arr_0.npy", lambda data: data[:-50])
    with pytest.raises(InceptionScoreError, match="truncated or corrupt"):
        inspect_adm_batch(path)


def test_corrupt_compressed_data_is_a_clear_error(tmp_path):
    path = tmp_path / "flipped.npz"
    np.savez_compressed(path, images(count=40, height=16, width=16))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("arr_0.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    raw[middle : middle + 16] = bytes(16)  # damage the deflate stream, keep the zip directory intact
    path.write_bytes(bytes(raw))
    with pytest.raises(InceptionScoreError, match="corrupt"):
        list(iter_adm_images(path, block=8))


def test_statistics_must_come_in_pairs_of_matching_shape(tmp_path):
    half = tmp_path / "half.npz"
    np.savez(half, images(2), mu=np.zeros(3))
    with pytest.raises(InceptionScoreError, match="has mu but not sigma"):
        read_adm_statistics(half)
    shapes = tmp_path / "shapes.npz"
    np.savez(shapes, images(2), mu=np.zeros(3), sigma=np.eye(4))
    with pytest.raises(InceptionScoreError, match=r"\(d, d\)"):
        read_adm_statistics(shapes)
    nan = tmp_path / "nan.npz"
    np.savez(nan, images(2), mu_s=np.array([np.nan, 0.0]), sigma_s=np.eye(2))
    with pytest.raises(InceptionScoreError, match="NaN"):
        read_adm_statistics(nan)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, images(2), mu=np.array([object()], dtype=object), sigma=np.eye(1))
    with pytest.raises(InceptionScoreError, match="pickled Python objects, which are never loaded"):
        read_adm_statistics(pickled)
    asymmetric = tmp_path / "asymmetric.npz"
    np.savez(asymmetric, images(2), mu_s=np.zeros(2), sigma_s=np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(InceptionScoreError, match=f"{re.escape(str(asymmetric))}: 'sigma_s' is not symmetric"):
        read_adm_statistics(asymmetric)


def test_bad_block_size(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez(path, images(2))
    with pytest.raises(InceptionScoreError, match="positive integer"):
        next(iter_adm_images(path, block=0))
