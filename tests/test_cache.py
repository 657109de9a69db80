"""The feature cache: re-runs do no forward pass, changes recompute exactly what changed, damage is caught."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from PIL import Image

from inception_score import inception_score, inception_score_from_logits
from inception_score.errors import InceptionScoreError
from inception_score.pipeline.cache import FeatureCache, features_dir, parse_size, sample_key
from inception_score.pipeline.extractors import load_classifier
from inception_score.pipeline.sources import Sample

COUNT = 8


@pytest.fixture
def images(data, tmp_path) -> Path:
    """A private copy of the first COUNT images of set a (tests change files in it)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for path in sorted((data / "images" / "a").glob("*.png"))[:COUNT]:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def first_run(data, weights_path, tmp_path_factory):
    """The first, uncached run over the COUNT images: its result, forward batch sizes and cache folder."""
    folder = tmp_path_factory.mktemp("warm")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INCEPTION_SCORE_CACHE", str(folder))
        model = load_classifier(weights=weights_path, progress=False).module
        sizes: list[int] = []
        handle = model.register_forward_hook(lambda module, inputs, outputs: sizes.append(inputs[0].shape[0]))
        try:
            result = score(sorted((data / "images" / "a").glob("*.png"))[:COUNT], weights_path)
        finally:
            handle.remove()
    return result, sizes, folder


@pytest.fixture
def warm(first_run, private_cache):
    """This test's cache, holding the first run's entries; returns the first run's result."""
    result, _, folder = first_run
    shutil.copytree(folder / "features", private_cache / "features")
    return result


@pytest.fixture
def forward_sizes(weights_path):
    """Batch sizes of every forward call of the real network the API uses, via a forward hook."""
    model = load_classifier(weights=weights_path, progress=False).module
    sizes: list[int] = []
    handle = model.register_forward_hook(lambda module, inputs, outputs: sizes.append(inputs[0].shape[0]))
    yield sizes
    handle.remove()


def score(folder, weights_path, **options):
    return inception_score(folder, splits=2, weights=weights_path, progress=False, batch_size=3, **options)


def entry_files() -> list[Path]:
    return sorted(p for p in features_dir().rglob("*.npy") if not p.name.startswith(".tmp-"))


def test_cached_rerun_makes_no_forward_calls_and_gives_identical_numbers(
    first_run, warm, images, weights_path, forward_sizes, data
):
    first, first_sizes, _ = first_run
    assert sum(first_sizes) == COUNT and first.cached == 0
    assert len(entry_files()) == COUNT
    second = score(images, weights_path)
    assert forward_sizes == []
    assert second.cached == COUNT
    assert {**second.to_dict(), "cached": 0} == first.to_dict()
    expected = inception_score_from_logits(np.load(data / "reference_a_logits.npy")[:COUNT], splits=2)
    assert second.mean == pytest.approx(expected.mean, rel=1e-5)


def test_one_changed_image_is_the_only_one_recomputed(warm, images, weights_path, forward_sizes):
    changed = images / "00003.png"
    pixels = np.asarray(Image.open(changed).convert("RGB")).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(changed)
    result = score(images, weights_path)
    assert forward_sizes == [1]
    assert result.cached == COUNT - 1
    assert len(entry_files()) == COUNT + 1  # the old entry stays until evicted; it is never wrong


def test_no_cache_neither_reads_nor_writes(warm, images, weights_path, forward_sizes):
    before = {path: path.stat().st_mtime_ns for path in entry_files()}
    result = score(images, weights_path, cache=False)
    assert sum(forward_sizes) == COUNT and result.cached == 0
    assert {path: path.stat().st_mtime_ns for path in entry_files()} == before


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "garbage"])
def test_damaged_entry_is_detected_and_recomputed(warm, images, weights_path, forward_sizes, damage):
    first = warm
    victim = entry_files()[2]
    content = bytearray(victim.read_bytes())
    if damage == "flip a byte":
        content[-100] ^= 0x01  # inside the stored features, past the .npy header
    elif damage == "truncate":
        content = content[: len(content) // 2]
    else:
        content = bytearray(b"\x93NUMPY not really")
    victim.write_bytes(bytes(content))
    second = score(images, weights_path)
    assert forward_sizes == [1]
    assert any("1 damaged feature cache entries" in warning for warning in second.warnings)
    assert second.mean == pytest.approx(first.mean, rel=1e-6)
    np.testing.assert_allclose(second.split_scores, first.split_scores, rtol=1e-6)
    forward_sizes.clear()
    assert score(images, weights_path).cached == COUNT and forward_sizes == []  # repaired


def test_interrupted_run_resumes_where_it_stopped(data, tmp_path, weights_path, forward_sizes):
    total = 16
    folder = tmp_path / "many"
    folder.mkdir()
    for path in sorted((data / "images" / "a").glob("*.png"))[:total]:
        shutil.copy(path, folder / path.name)
    command = [
        sys.executable,
        "-m",
        "inception_score",
        "score",
        str(folder),
        "--weights",
        str(weights_path),
        "--batch-size",
        "2",
        "--workers",
        "1",
        "--splits",
        "2",
        "--quiet",
    ]
    process = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while len(entry_files()) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    done = len(entry_files())
    assert 4 <= done < total, f"the run was not interrupted mid-way ({done} of {total} cached)"
    forward_sizes.clear()
    result = inception_score(folder, splits=2, weights=weights_path, progress=False, batch_size=2)
    assert sum(forward_sizes) == total - done
    assert result.cached == done
    expected = inception_score_from_logits(np.load(data / "reference_a_logits.npy")[:total], splits=2)
    assert result.mean == pytest.approx(expected.mean, rel=1e-5)


def test_keys_depend_on_weights_pipeline_and_array_layout():
    pixels = np.arange(2 * 6 * 3, dtype=np.uint8).reshape(2, 6, 3)
    base = sample_key(Sample("x", pixels), "weights-1\0pipeline-1")
    assert sample_key(Sample("another name", pixels.copy()), "weights-1\0pipeline-1") == base
    assert sample_key(Sample("x", pixels), "weights-2\0pipeline-1") != base
    assert sample_key(Sample("x", pixels), "weights-1\0pipeline-2") != base
    assert sample_key(Sample("x", pixels.reshape(6, 2, 3)), "weights-1\0pipeline-1") != base
    assert sample_key(Sample("x", pixels.view(np.int8)), "weights-1\0pipeline-1") != base
    assert sample_key(Sample("x", pixels.tobytes()), "weights-1\0pipeline-1") != base


def test_least_recently_used_entries_go_first(tmp_path):
    cache = FeatureCache(tmp_path / "features", size_limit=10**9)
    rng = np.random.RandomState(0)
    keys = [f"{i:064x}" for i in range(6)]
    for age, key in enumerate(keys):
        cache.put(key, rng.rand(1008).astype(np.float32), rng.rand(2048).astype(np.float32))
        os.utime(cache._path(key), (1000 + age, 1000 + age))
    assert cache.get(keys[0]) is not None  # a hit makes the oldest entry the newest
    entry_size = cache._path(keys[1]).stat().st_size
    cache.size_limit = 3 * entry_size
    assert cache.trim() == 3
    kept = [key for key in keys if cache._path(key).exists()]
    assert kept == [keys[0], keys[4], keys[5]]
    assert cache.info().entries == 3 and cache.info().bytes == 3 * entry_size


def test_entries_hold_any_feature_length_and_round_trip_exactly(tmp_path):
    cache = FeatureCache(tmp_path / "features")
    logits, pool3 = np.float32([1.5, -2.25, 3e-8]), np.float32([0.0, 7.0])
    cache.put("ab" * 32, logits, pool3)
    got_logits, got_pool3 = cache.get("ab" * 32)
    assert got_logits.tobytes() == logits.tobytes() and got_pool3.tobytes() == pool3.tobytes()
    assert cache.get("cd" * 32) is None and cache.corrupt == 0


WRITER = """
import sys
import numpy as np
from inception_score.pipeline.cache import FeatureCache
cache = FeatureCache(sys.argv[1], size_limit=int(sys.argv[2]))
for round in range(3):
    for i in range(60):
        key = f"{i:064x}"
        value = np.full(1008, i, np.float32)
        got = cache.get(key)
        assert got is None or (got[0] == value).all(), key
        cache.put(key, value, np.full(2048, -i, np.float32))
    cache.trim()
assert cache.corrupt == 0, cache.corrupt
"""


@pytest.mark.process
def test_two_processes_share_one_cache(tmp_path):
    folder = tmp_path / "features"
    entry_size = 13_000
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), str(40 * entry_size)],
            env=dict(os.environ),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for writer in writers:
        assert writer.wait(timeout=120) == 0, writer.communicate()[1]
    cache = FeatureCache(folder)
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith(".tmp-")]
    for path in files:
        logits, pool3 = cache.get(path.stem)
        assert logits[0] == -pool3[0]
    assert cache.corrupt == 0 and 0 < len(files) <= 60


def test_cache_info_and_clear_from_the_command_line(warm, private_cache):
    weights_copy = private_cache / "pretend-weights.pth"
    weights_copy.write_bytes(b"left alone")

    def run(*args):
        return run_cli("cache", *args)

    info = run("info")
    assert info.returncode == 0 and f"{COUNT} cached images" in info.stdout and str(features_dir()) in info.stdout
    cleared = run("clear")
    assert cleared.returncode == 0 and f"removed {COUNT} cached images" in cleared.stdout
    assert entry_files() == [] and weights_copy.read_bytes() == b"left alone"
    assert "0 cached images" in run("info").stdout


def test_sizes_parse_with_units():
    assert parse_size("1234") == 1234
    assert parse_size("500M") == 500 * 1024**2
    assert parse_size("1.5G") == int(1.5 * 1024**3)
    assert parse_size("2GiB") == 2 * 1024**3
    with pytest.raises(InceptionScoreError, match="10 apples"):
        parse_size("10 apples")
