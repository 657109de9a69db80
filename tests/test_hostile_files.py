"""Files that lie about their sizes or structure: .npz members (and zip directories) that declare more
than they hold, and EDM2 pickles of every malformed kind. Each is one line, before any allocation."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from inception_score import InceptionScoreError
from inception_score.pipeline import references
from inception_score.pipeline.adm_batch import inspect_adm_batch
from inception_score.pipeline.pickles import MAX_DEPTH, safe_load_pickle
from inception_score.pipeline.sources import open_source
from inception_score.pipeline.statistics import read_statistics

HUGE = (10**9, 2048)  # 16 TB of float64: an attempt to allocate it would fail or swap


def npy_bytes(shape: tuple[int, ...], dtype: str = "<f8", data: bytes = bytes(64)) -> bytes:
    """An .npy member whose header declares `shape` but which holds only `data`."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, dict(descr=dtype, fortran_order=False, shape=shape))
    return header.getvalue() + data


def npz_with(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(f"{name}.npy", content)
    return path


def honest(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_statistics_member_declaring_a_huge_shape_is_refused_before_loading(tmp_path, compression):
    path = npz_with(tmp_path / "s.npz", {"mu": npy_bytes((HUGE[1],)), "sigma": npy_bytes(HUGE)}, compression)
    with pytest.raises(InceptionScoreError, match=r"'mu' declares float64 \(2048,\) \(16384 bytes\) but holds 64"):
        read_statistics(path)
    features = npz_with(
        tmp_path / "f.npz",
        {"mu": honest(np.zeros(4)), "sigma": honest(np.eye(4)), "features": npy_bytes((10**12, 4), "<f4")},
    )
    with pytest.raises(InceptionScoreError, match="'features' declares float32"):
        read_statistics(features)


def test_a_zip_directory_claiming_more_than_deflate_can_hold_is_refused(tmp_path):
    path = npz_with(tmp_path / "z.npz", {"mu": honest(np.zeros(4)), "sigma": honest(np.eye(4))}, zipfile.ZIP_DEFLATED)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("sigma.npy")
    directory = raw.rindex(b"PK\x01\x02")  # sigma's central directory record (the last one)
    assert raw[directory + 46 : directory + 46 + len(info.filename)] == b"sigma.npy"
    raw[directory + 24 : directory + 28] = struct.pack("<I", 0xFFFFFFF0)  # uncompressed size: 4 GB
    path.write_bytes(bytes(raw))
    with pytest.raises(InceptionScoreError, match="claims 4294967280 bytes from .* stored bytes, more than"):
        read_statistics(path)


def test_an_image_array_or_adm_batch_declaring_a_huge_shape_is_refused(tmp_path):
    images = npz_with(tmp_path / "images.npz", {"pixels": npy_bytes((10**8, 64, 64, 3), "|u1")})
    with pytest.raises(InceptionScoreError, match="'pixels' declares uint8"):
        open_source(images)
    batch = npz_with(tmp_path / "batch.npz", {"arr_0": npy_bytes((10**8, 64, 64, 3), "|u1")})
    with pytest.raises(InceptionScoreError, match="'arr_0' declares uint8"):
        inspect_adm_batch(batch)
    done = run_cli("score", batch)
    assert done.returncode == 2 and "declares uint8" in done.stderr and "Traceback" not in done.stderr


def _raw_pickle(body: bytes) -> bytes:
    return b"\x80\x04" + body + b"."


def _deep(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


MU, SIGMA = np.zeros(2048), np.eye(2048)
MALFORMED = {
    "a list, not a dict": ([1, 2, 3], "expected a dict"),
    "fid a string": (dict(fid="mu and sigma"), "expected a dict with 'fid'"),
    "mu a string": (dict(fid=dict(mu="0", sigma=SIGMA)), "fid.mu should be a 1-d numeric array, it is str"),
    "mu a list": (dict(fid=dict(mu=[0.0] * 2048, sigma=SIGMA)), "fid.mu should be a 1-d numeric array, it is list"),
    "mu of text": (
        dict(fid=dict(mu=np.array(["a", "b"]), sigma=SIGMA)),
        "fid.mu should be a 1-d numeric array, it is <U1",
    ),
    "mu of objects": (dict(fid=dict(mu=np.array([object()]), sigma=SIGMA)), "refused builtins.object"),
    "sigma asymmetric": (dict(fid=dict(mu=MU, sigma=np.triu(np.ones((2048, 2048))))), "'fid.sigma' is not symmetric"),
    "a count of text": (dict(num_images="many", fid=dict(mu=MU, sigma=SIGMA)), "num_images should be a count"),
    "a boolean count": (dict(num_images=True, fid=dict(mu=MU, sigma=SIGMA)), "num_images should be a count"),
    "a huge count": (dict(num_images=10**30, fid=dict(mu=MU, sigma=SIGMA)), "num_images should be a count"),
    "keys that are not text": ({(1, 2): 3, None: 4}, "it holds: <NoneType>, <tuple>"),
}


@pytest.mark.parametrize("content, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_edm2_structure_is_one_line(tmp_path, content, message):
    path = tmp_path / "img64.pkl"
    path.write_bytes(pickle.dumps(content))
    done = run_cli("refs", "install", "edm2-img64", path)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


HOSTILE = {
    "nested too deep": (pickle.dumps(_deep(MAX_DEPTH + 5)), f"containers nested more than {MAX_DEPTH} deep"),
    "nested dicts": (pickle.dumps({"fid": _deep(MAX_DEPTH + 5)}), "nested more than"),
    "a huge integer": (pickle.dumps({"num_images": 7**20000}), r"an integer of \d+ bits \(at most 256\)"),
    "a byte count past the end": (_raw_pickle(b"\x8e" + struct.pack("<Q", 2**60) + b"abc"), "not a readable pickle"),
    "a string count past the end": (_raw_pickle(b"\x8d" + struct.pack("<Q", 2**62)), "not a readable pickle"),
    "a persistent id": (_raw_pickle(b"\x8c\x01xQ"), "BINPERSID opcodes are not used"),
    "code to run": (
        _raw_pickle(b"\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R"),
        "refused os.system: only numpy arrays and plain containers are loaded",
    ),
    "a call of nothing": (_raw_pickle(b"N)R"), "not a readable pickle of arrays .TypeError"),
    "truncated": (pickle.dumps({"fid": {"mu": MU}})[:-300], "not a readable pickle"),
    "empty": (b"", "not a readable pickle"),
    "not a pickle": (b"<!DOCTYPE html><html>403</html>", "not a readable pickle"),
}


@pytest.mark.parametrize("data, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_pickle_is_refused_in_one_line_before_it_is_built(tmp_path, data, message):
    path = tmp_path / "hostile.pkl"
    path.write_bytes(data)
    with pytest.raises(InceptionScoreError, match=message) as error:
        safe_load_pickle(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)
    done = run_cli("refs", "install", "edm2-img512", path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_folder_where_a_pickle_should_be(tmp_path):
    with pytest.raises(InceptionScoreError, match="is a folder, not a pickle file"):
        safe_load_pickle(tmp_path)


def test_real_array_pickles_of_every_protocol_load(tmp_path):
    content = dict(num_images=40, fid=dict(mu=MU, sigma=SIGMA), labels=list(range(10_000)), name="img64")
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(content, protocol=protocol))
        loaded = safe_load_pickle(path)
        assert np.array_equal(loaded["fid"]["sigma"], SIGMA) and loaded["labels"][-1] == 9999
    assert references.safe_load_pickle is safe_load_pickle
