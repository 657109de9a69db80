"""Bad input through the real CLI: one clear line naming the item, exit 2, no traceback, no output, no changes."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli, without_root_powers
from PIL import Image


def snapshot(folder: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def assert_user_error(done, *messages):
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("inception-score: error: ")]
    assert len(errors) == 1, done.stderr
    for message in messages:
        assert message in errors[0], errors[0]


def good_images(folder: Path, data: Path, count: int = 2) -> None:
    folder.mkdir(exist_ok=True)
    for path in sorted((data / "images" / "a").glob("*.png"))[:count]:
        shutil.copy(path, folder / path.name)


def png(data: Path) -> bytes:
    return (data / "images" / "a" / "00000.png").read_bytes()


def corrupt_png(data: Path) -> bytes:
    raw = bytearray(png(data))
    start = raw.index(b"IDAT") + 8
    raw[start : start + 40] = bytes(40)  # zeroed compressed data: the decoder fails, the chunk CRC too
    return bytes(raw)


def _case_files(tmp: Path, data: Path, case: str) -> tuple[list, list[str]]:
    """The CLI arguments for one bad input and the texts its error line must contain."""
    images = tmp / "images"
    if case == "missing path":
        return [tmp / "nothing"], [f"{tmp / 'nothing'}: no such file or folder"]
    if case == "empty folder":
        images.mkdir()
        return [images], [f"{images}: the folder is empty"]
    if case == "folder without images":
        images.mkdir()
        (images / "notes.txt").write_text("x")
        (images / "labels.csv").write_text("x")
        return [images], [f"{images}: no image files in the folder, only 2 other files", ".png"]
    if case == "empty archive":
        zipfile.ZipFile(tmp / "empty.zip", "w").close()
        return [tmp / "empty.zip"], [f"{tmp / 'empty.zip'}: the archive is empty"]
    if case == "damaged archive":
        (tmp / "cut.tar.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(20))
        return [tmp / "cut.tar.gz"], [f"{tmp / 'cut.tar.gz'}: cannot read the archive"]
    if case in ("truncated image", "corrupt image", "text file named .png"):
        good_images(images, data)
        content = {
            "truncated image": png(data)[:70],
            "corrupt image": corrupt_png(data),
            "text file named .png": b"this is not an image\n",
        }[case]
        (images / "zz-bad.png").write_bytes(content)
        return [images, "--splits", 3], [f"{images / 'zz-bad.png'}: cannot decode image", "--skip-bad"]
    if case == "image over max_pixels":
        good_images(images, data)
        return [images, "--splits", 2, "--max-pixels", 1000], [
            f"{images / '00000.png'}: 32 x 32 = 1024 pixels is over the limit of 1000",
            "--max-pixels",
        ]
    arrays = {
        "N < splits": (np.zeros((3, 8, 8, 3), np.uint8), "3 images cannot be cut into 10 splits"),
        "NaN": (np.stack([np.zeros((8, 8, 3)), np.full((8, 8, 3), np.nan)]), "[arr_0] index 1: NaN"),
        "out-of-range floats": (
            np.linspace(-1, 1, 2 * 8 * 8 * 3).reshape(2, 8, 8, 3),
            "values span [-1, 1], outside value_range (0, 1); pass value_range=(-1, 1) (CLI: --value-range -1,1)",
        ),
        "wrong rank": (np.zeros((8, 8), np.uint8), "got 2 dimensions (8, 8)"),
        "wrong channel count": (
            np.zeros((2, 8, 8, 4), np.uint8),
            "channels on axis 3 (NHWC) or axis 1 (NCHW), got shape (2, 8, 8, 4)",
        ),
        "ambiguous layout": (np.zeros((2, 3, 8, 3), np.uint8), "pass layout='NHWC' or layout='NCHW' (CLI: --layout)"),
    }
    array, message = arrays[case]
    np.savez(tmp / "samples.npz", array)
    return [tmp / "samples.npz", "--splits", 10 if case == "N < splits" else 2], [str(tmp / "samples.npz"), message]


CASES = [
    "missing path",
    "empty folder",
    "folder without images",
    "empty archive",
    "damaged archive",
    "truncated image",
    "corrupt image",
    "text file named .png",
    "image over max_pixels",
    "N < splits",
    "NaN",
    "out-of-range floats",
    "wrong rank",
    "wrong channel count",
    "ambiguous layout",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line_naming_the_item(case, tmp_path, data, weights_path):
    args, messages = _case_files(tmp_path, data, case)
    before = snapshot(tmp_path)
    done = run_cli("score", *args, "--weights", weights_path, "--quiet", "--workers", 0)
    assert_user_error(done, *messages)
    assert snapshot(tmp_path) == before


def test_unreadable_file_is_named(tmp_path, data, weights_path):
    """Permissions: root reads everything, so as root the CLI runs without the capabilities that allow it."""
    images = tmp_path / "images"
    good_images(images, data)
    (images / "locked.png").write_bytes(png(data))
    os.chmod(images / "locked.png", 0)
    prefix = without_root_powers()
    try:
        done = run_cli(
            "score", images, "--splits", 2, "--weights", weights_path, "--quiet", "--workers", 0, prefix=prefix
        )
    finally:
        os.chmod(images / "locked.png", 0o644)
    assert_user_error(done, f"{images / 'locked.png'}: cannot read the file (Permission denied)", "--skip-bad")


def test_bad_value_range_option_is_refused(tmp_path):
    np.savez(tmp_path / "x.npz", np.zeros((2, 8, 8, 3), np.float32))
    assert_user_error(run_cli("score", tmp_path / "x.npz", "--value-range=0,2"), "value_range must be one of")
    done = run_cli("score", tmp_path / "x.npz", "--value-range", "zero")
    assert done.returncode == 2 and "expected LOW,HIGH" in done.stderr and "Traceback" not in done.stderr


def test_skip_bad_scores_the_rest_and_lists_what_it_skipped(tmp_path, data, weights_path):
    images = tmp_path / "images"
    good_images(images, data, count=3)
    (images / "broken.png").write_bytes(png(data)[:70])
    done = run_cli("score", images, "--splits", 3, "--weights", weights_path, "--json", "--skip-bad", "--quiet")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 3 and result["skipped"] == 1 and result["skipped_names"] == [str(images / "broken.png")]
    assert f"inception-score: skipped: {images / 'broken.png'}" in done.stderr
    assert "1 undecodable file was skipped" in done.stderr


def test_archive_member_that_escapes_is_skipped_not_extracted(tmp_path, data, weights_path):
    archive = tmp_path / "inside" / "images.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as writer:
        for path in sorted((data / "images" / "a").glob("*.png"))[:3]:
            writer.write(path, path.name)
        writer.writestr("../escaped.png", png(data))
        writer.writestr("/abs/escaped.png", png(data))
    done = run_cli("score", archive, "--splits", 3, "--weights", weights_path, "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n"] == 3
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["images.zip", "inside"]


def test_stats_and_fid_take_arrays_and_archives(tmp_path, data, weights_path):
    """stats of a float .npz (declared range), FID of the same images as a zip against it: about 0."""
    files = sorted((data / "images" / "a").glob("*.png"))[:4]
    pixels = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])
    np.savez(tmp_path / "samples.npz", images=pixels.astype(np.float32) / 127.5 - 1)
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as writer:
        for path in files:
            writer.write(path, path.name)
    done = run_cli(
        "stats",
        tmp_path / "samples.npz",
        "-o",
        tmp_path / "stats.npz",
        "--npz-key",
        "images",
        "--value-range",
        "-1,1",
        "--weights",
        weights_path,
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert "4 images" in done.stdout
    done = run_cli(
        "fid", tmp_path / "images.zip", tmp_path / "stats.npz", "--weights", weights_path, "--json", "--quiet"
    )
    assert done.returncode == 0, done.stderr
    assert abs(json.loads(done.stdout)["fid"]) < 1e-3
