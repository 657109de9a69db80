"""torchrun with gloo on CPU gives the single-process numbers; one bad file stops every rank.

Real `torchrun` processes (python -m torch.distributed.run) run the worktree's code. The
network's float32 output depends slightly on how images are batched, so every comparison
uses a batch size that divides each rank's shard and one CPU thread (as torchrun's ranks
have): the batches, and so the logits, are then the same as in the single-process run, and the
scores agree to 1e-6 relative. The feature cache is off on both sides, so every number is computed.
"""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import inception_score as package
from inception_score import InceptionScore, InceptionScoreError, inception_score
from inception_score.distributed import shard_bounds

SRC = Path(package.__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("distributed_worker.py")
TIMEOUT_S = 300  # a hang fails the test instead of blocking the suite


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(nproc: int, *args, log_dir: Path | None = None) -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node nproc ARGS` with this checkout's code and one thread per process."""
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    logs = ["--log-dir", str(log_dir), "--redirects", "3"] if log_dir is not None else []
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
               "--master-port", str(free_port()), *logs, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)


def single_process(source, **options):
    """The API's result in this process, on one CPU thread like each torchrun rank."""
    with one_thread():
        return inception_score(source, device="cpu", progress=False, cache=False, **options)


@contextlib.contextmanager
def one_thread():
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def assert_same_score(got: dict, expected, world_size: int) -> None:
    assert got["n"] == expected.n and got["splits"] == expected.splits and got["order"] == expected.order
    np.testing.assert_allclose(got["split_scores"], expected.split_scores, rtol=1e-6)
    assert got["mean"] == pytest.approx(expected.mean, rel=1e-6)
    assert got["std"] == pytest.approx(expected.std, rel=1e-6, abs=1e-12)
    assert got["marginal_entropy"] == pytest.approx(expected.marginal_entropy, rel=1e-6)
    assert got["world_size"] == world_size and expected.world_size == 1


@pytest.fixture(scope="module")
def subset_a(data, tmp_path_factory) -> Path:
    """The first 12 images of images/a, a folder that 3 ranks split 4 + 4 + 4."""
    folder = tmp_path_factory.mktemp("a12")
    for path in sorted((data / "images" / "a").glob("*.png"))[:12]:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def expected_a20(weights_path, data):
    """The API's result for the first 20 images of images/a in batches of 5, in one process."""
    files = sorted((data / "images" / "a").glob("*.png"))[:20]
    return single_process(files, splits=4, weights=weights_path, batch_size=5)


def test_shards_cover_every_row_once_in_order():
    for count in (0, 1, 2, 7, 28, 50_000):
        for world_size in (1, 2, 3, 8):
            bounds = [shard_bounds(count, rank, world_size) for rank in range(world_size)]
            assert bounds[0][0] == 0 and bounds[-1][1] == count
            assert all(bounds[i][1] == bounds[i + 1][0] for i in range(world_size - 1))


def test_two_ranks_score_the_mixed_folder_like_one_process(weights_path, data):
    folder = data / "images" / "mixed"  # 28 images of odd sizes and modes: 14 per rank, 2 batches of 7
    expected = single_process(folder, splits=4, order="given", weights=weights_path, batch_size=7)
    done = torchrun(2, "-m", "inception_score", "score", folder, "--splits", 4, "--order", "given",
                    "--weights", weights_path, "--batch-size", 7, "--device", "cpu", "--json", "--no-cache")
    assert done.returncode == 0, done.stderr
    assert_same_score(json.loads(done.stdout), expected, world_size=2)  # one JSON document: rank 0 alone prints
    assert "distributed: 2 ranks (gloo), collective timeout 1800 s" in done.stderr
    assert done.stderr.count("warning: only 28 images") == 1 and "Traceback" not in done.stderr


def test_three_ranks_score_like_one_process(weights_path, subset_a):
    expected = single_process(subset_a, splits=3, weights=weights_path, batch_size=4)
    done = torchrun(3, "-m", "inception_score", "score", subset_a, "--splits", 3, "--weights", weights_path,
                    "--batch-size", 4, "--device", "cpu", "--json", "--quiet", "--no-cache")
    assert done.returncode == 0, done.stderr
    assert_same_score(json.loads(done.stdout), expected, world_size=3)


def test_a_bad_file_on_one_rank_stops_every_rank_with_its_message(weights_path, data, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for path in sorted((data / "images" / "a").glob("*.png"))[:9]:
        shutil.copy(path, folder / path.name)
    (folder / "00004x.png").write_text("not an image")  # index 5 of 10: the first image of rank 1's shard
    logs = tmp_path / "logs"
    done = torchrun(2, "-m", "inception_score", "score", folder, "--splits", 2, "--weights", weights_path,
                    "--batch-size", 1, "--device", "cpu", "--quiet", log_dir=logs)
    assert done.returncode != 0 and done.stdout == ""
    message = f"inception-score: error: {folder / '00004x.png'}: cannot decode image"
    rank_logs = sorted(logs.rglob("stderr.log"), key=lambda path: path.parent.name)
    assert [path.parent.name for path in rank_logs] == ["0", "1"]
    for log in rank_logs:
        text = log.read_text()
        assert message in text and "Traceback" not in text
    assert done.stderr.count("exitcode  : 2") == 2  # torchrun's summary: both ranks exited with status 2


def test_metric_object_matches_the_api_in_one_process(weights_path, data, expected_a20):
    files = sorted((data / "images" / "a").glob("*.png"))[:20]
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])
    expected = expected_a20
    metric = InceptionScore(weights=weights_path, splits=4, batch_size=5, device="cpu")
    with one_thread():
        metric.update(images[:3])
        metric.reset()
        with pytest.raises(InceptionScoreError, match="before any update"):
            metric.compute()
        for first in range(0, 20, 5):
            metric.update(images[first:first + 5])
        got = metric.compute()
    assert_same_score(got.to_dict(), expected, world_size=1)
    assert got.weights_sha256 == expected.weights_sha256 and got.warnings == expected.warnings


def test_metric_object_and_api_inside_a_process_group_match_one_process(weights_path, data, tmp_path,
                                                                       expected_a20):
    expected = expected_a20
    done = torchrun(2, WORKER, weights_path, data / "images" / "a", 20, tmp_path)
    assert done.returncode == 0, done.stderr
    for rank in (0, 1):  # every rank receives the result
        results = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert_same_score(results["metric"], expected, world_size=2)
        assert_same_score(results["api"], expected, world_size=2)


def test_a_mistake_on_one_rank_is_raised_on_every_rank(weights_path, data, tmp_path):
    done = torchrun(2, WORKER, "mistakes", weights_path, data / "images" / "a", tmp_path)
    assert done.returncode == 0, done.stderr
    raised = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert raised[0] == raised[1]  # the same message on every rank
    assert "/no/such/folder: no such file or folder" in raised[0]["missing"]
    assert "the ranks see different inputs: rank 0: 4 images" in raised[0]["different"]
    assert "/no/weights.pth" in raised[0]["weights"]
