"""When the environment fails, the run does not: the cache unusable, huge images, limits that hold either way."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch
from helpers import run_cli, without_root_powers
from PIL import Image
from test_hostile_numbers import assert_one_error_line, tiny_images

from inception_score.pipeline.extract import extract_features
from inception_score.pipeline.sources import open_source


def score(source, weights_path, *extra, prefix=()):
    words = ("score", source, "--weights", weights_path, "--splits", 1, "--quiet", "--json", *extra)
    done = run_cli(*words, timeout=120, prefix=prefix)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["mean"], done.stderr


@pytest.fixture
def images(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, tiny_images())
    return path


def test_a_fifo_in_the_cache_never_hangs_the_run(images, weights_path, private_cache):
    expected, _ = score(images, weights_path)
    entries = sorted(private_cache.rglob("*.npy"))
    assert len(entries) == 3
    entries[0].unlink()
    os.mkfifo(entries[0])  # reading it would block for ever
    again, warnings = score(images, weights_path)
    assert again == pytest.approx(expected, rel=1e-6)  # one image recomputed in a batch of its own
    assert "is not a regular file: left alone and recomputed" in warnings


def test_a_cache_that_is_a_file_is_skipped_with_one_warning(images, weights_path, tmp_path, monkeypatch):
    expected, _ = score(images, weights_path, "--no-cache")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(blocker))
    again, warnings = score(images, weights_path)
    assert again == expected
    lines = [line for line in warnings.splitlines() if "feature cache" in line]
    assert len(lines) == 1 and "cannot be used" in lines[0] and "--no-cache" in lines[0], warnings
    assert blocker.read_text() == "a file where the cache folder should be"


@pytest.mark.process  # as root, a process of its own without the capabilities that ignore permissions
def test_a_read_only_cache_is_skipped_with_one_warning(images, weights_path, private_cache):
    expected, _ = score(images, weights_path, "--no-cache")
    private_cache.chmod(0o555)
    try:
        again, warnings = score(images, weights_path, prefix=without_root_powers())
    finally:
        private_cache.chmod(0o755)
    assert again == expected and warnings.count("cannot be used") == 1, warnings
    assert not any(private_cache.iterdir())  # nothing was written


def test_max_pixels_holds_for_cached_images_too(tmp_path, data, weights_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for path in sorted((data / "images" / "a").glob("*.png"))[:2]:
        shutil.copy(path, folder / path.name)
    score(folder, weights_path)  # now cached
    for extra in ((), ("--no-cache",)):
        done = run_cli("score", folder, "--weights", weights_path, "--splits", 1, "--max-pixels", 100, *extra)
        assert_one_error_line(done, "00000.png", "is over the limit of 100")


class BatchRecorder(torch.nn.Module):
    """A stand-in network that records the batches it is given."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def forward(self, batch):
        self.batches.append(batch.shape[0])
        return torch.zeros(batch.shape[0], 3), torch.zeros(batch.shape[0], 2)


def test_a_batch_holds_at_most_max_pixels_of_decoded_images(tmp_path):
    for index in range(7):
        Image.new("RGB", (20, 20), (index, 0, 0)).save(tmp_path / f"{index}.png")  # 400 pixels each
    recorder = BatchRecorder()
    for workers in (0, 2):
        recorder.batches.clear()
        features = extract_features(
            open_source(tmp_path),
            recorder,
            batch_size=8,
            device="cpu",
            progress=False,
            max_pixels=1000,
            workers=workers,
        )
        assert recorder.batches == [2, 2, 2, 1] and len(features.names) == 7
