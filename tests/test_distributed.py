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
import random
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
from inception_score import InceptionScore, InceptionScoreError, evaluate, inception_score, save_statistics
from inception_score.parallel.sharding import draw_bounds, drawn_with_seed, shard_bounds
from inception_score.pipeline.statistics import read_features, read_statistics

SRC = Path(package.__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("distributed_worker.py")
TIMEOUT_S = 300  # a hang fails the test instead of blocking the suite


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(nproc: int, *args, log_dir: Path | None = None) -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node nproc ARGS` with this checkout's code and one thread per process."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    )
    logs = ["--log-dir", str(log_dir), "--redirects", "3"] if log_dir is not None else []
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        str(nproc),
        "--master-port",
        str(free_port()),
        *logs,
        *map(str, args),
    ]
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


def first_twelve(data: Path, name: str, tmp_path_factory) -> Path:
    """A folder of the first 12 images of images/NAME, which 3 ranks split 4 + 4 + 4."""
    folder = tmp_path_factory.mktemp(f"{name}12")
    for path in sorted((data / "images" / name).glob("*.png"))[:12]:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def subset_a(data, tmp_path_factory) -> Path:
    return first_twelve(data, "a", tmp_path_factory)


@pytest.fixture(scope="module")
def subset_b(data, tmp_path_factory) -> Path:
    return first_twelve(data, "b", tmp_path_factory)


@pytest.fixture(scope="module")
def expected_pair(weights_path, subset_a, subset_b, tmp_path_factory):
    """One process, batches of 2 (which divide the 6 + 6 and 4 + 4 + 4 shards): IS, FID and KID of
    12 images of a against 12 of b, and the statistics file of a with features."""
    options = dict(weights=weights_path, batch_size=2, device="cpu", progress=False, cache=False)
    path = tmp_path_factory.mktemp("single") / "a.npz"
    with one_thread():
        evaluation = evaluate(subset_a, reference=subset_b, splits=3, kid_subsets=5, kid_subset_size=6, **options)
        statistics = save_statistics(subset_a, path, with_features=True, **options)
    return evaluation, statistics


def assert_same_distances(got: dict, expected, world_size: int) -> None:
    """FID (got["fid"]) and KID (got["kid"]) dicts against one process's results."""
    assert got["fid"]["fid"] == pytest.approx(expected.fid.fid, rel=1e-6)
    assert (got["fid"]["n_a"], got["fid"]["n_b"]) == (expected.fid.n_a, expected.fid.n_b) == (12, 12)
    assert got["kid"]["mean"] == pytest.approx(expected.kid.mean, rel=1e-6)
    assert got["kid"]["std"] == pytest.approx(expected.kid.std, rel=1e-6)
    assert (got["kid"]["n_a"], got["kid"]["n_b"]) == (12, 12)
    assert got["fid"]["world_size"] == got["kid"]["world_size"] == world_size
    assert expected.fid.world_size == expected.kid.world_size == 1


def assert_same_statistics(path: Path, expected, *, features: bool) -> None:
    written = read_statistics(path)
    assert written.n == expected.n == 12 and written.has_features == features
    np.testing.assert_allclose(written.mu, expected.mu, rtol=1e-6)
    assert np.max(np.abs(written.sigma - expected.sigma)) <= 1e-6 * np.max(np.abs(expected.sigma))
    assert written.weights_sha256 == expected.weights_sha256
    assert written.pipeline_version == expected.pipeline_version
    if features:
        np.testing.assert_allclose(read_features(written), read_features(expected), rtol=1e-6)
    if expected.mu_s is not None:  # sFID's spatial moments, reduced over the ranks like pool3's
        np.testing.assert_allclose(written.mu_s, expected.mu_s, rtol=1e-6)
        assert np.max(np.abs(written.sigma_s - expected.sigma_s)) <= 1e-6 * np.max(np.abs(expected.sigma_s))


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


def test_callable_draws_split_with_the_remainder_to_the_first_ranks():
    assert [draw_bounds(10, rank, 3) for rank in range(3)] == [(0, 4), (4, 7), (7, 10)]
    for count in (1, 2, 7, 28, 50_000):
        for world_size in (1, 2, 3, 8):
            bounds = [draw_bounds(count, rank, world_size) for rank in range(world_size)]
            assert bounds[0][0] == 0 and bounds[-1][1] == count
            assert all(bounds[i][1] == bounds[i + 1][0] for i in range(world_size - 1))
            sizes = [stop - start for start, stop in bounds]
            assert sizes == sorted(sizes, reverse=True) and max(sizes) - min(sizes) <= 1


def test_seeded_draws_repeat_and_leave_the_callers_random_state_alone():
    def draws():
        for _ in range(3):
            yield torch.rand(1).item(), float(np.random.rand()), random.random()

    def reseed():
        torch.manual_seed(123)
        np.random.seed(5)
        random.seed(7)

    reseed()
    untouched = next(draws())
    reseed()
    first, again, other = (list(drawn_with_seed(draws(), seed)) for seed in (11, 11, 12))
    assert first == again and first != other and len(first) == 3
    assert next(draws()) == untouched  # the caller's generators continue as if nothing was drawn


def test_two_ranks_score_the_mixed_folder_like_one_process(weights_path, data):
    folder = data / "images" / "mixed"  # 28 images of odd sizes and modes: 14 per rank, 2 batches of 7
    expected = single_process(folder, splits=4, order="given", weights=weights_path, batch_size=7)
    done = torchrun(
        2,
        "-m",
        "inception_score",
        "score",
        folder,
        "--splits",
        4,
        "--order",
        "given",
        "--weights",
        weights_path,
        "--batch-size",
        7,
        "--device",
        "cpu",
        "--json",
        "--no-cache",
    )
    assert done.returncode == 0, done.stderr
    assert_same_score(json.loads(done.stdout), expected, world_size=2)  # one JSON document: rank 0 alone prints
    assert "distributed: 2 ranks (gloo), collective timeout 1800 s" in done.stderr
    assert done.stderr.count("warning: only 28 images") == 1 and "Traceback" not in done.stderr


def test_three_ranks_score_like_one_process(weights_path, subset_a):
    expected = single_process(subset_a, splits=3, weights=weights_path, batch_size=4)
    done = torchrun(
        3,
        "-m",
        "inception_score",
        "score",
        subset_a,
        "--splits",
        3,
        "--weights",
        weights_path,
        "--batch-size",
        4,
        "--device",
        "cpu",
        "--json",
        "--quiet",
        "--no-cache",
    )
    assert done.returncode == 0, done.stderr
    assert_same_score(json.loads(done.stdout), expected, world_size=3)


@pytest.mark.parametrize("command", [["score", "--splits", 2], ["fid", "{b}", "--no-cache"]])
def test_a_bad_file_on_one_rank_stops_every_rank_with_its_message(command, weights_path, data, subset_b, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for path in sorted((data / "images" / "a").glob("*.png"))[:9]:
        shutil.copy(path, folder / path.name)
    (folder / "00004x.png").write_text("not an image")  # index 5 of 10: the first image of rank 1's shard
    logs = tmp_path / "logs"
    arguments = [subset_b if word == "{b}" else word for word in command[1:]]
    done = torchrun(
        2,
        "-m",
        "inception_score",
        command[0],
        folder,
        *arguments,
        "--weights",
        weights_path,
        "--batch-size",
        1,
        "--device",
        "cpu",
        "--quiet",
        log_dir=logs,
    )
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
            metric.update(images[first : first + 5])
        got = metric.compute()
    assert_same_score(got.to_dict(), expected, world_size=1)
    assert got.weights_sha256 == expected.weights_sha256 and got.warnings == expected.warnings


def test_metric_object_and_api_inside_a_process_group_match_one_process(weights_path, data, tmp_path, expected_a20):
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
    assert "a generator or iterable cannot be split over torch.distributed ranks" in raised[0]["stream"]


@pytest.mark.parametrize("nproc", [2, 3])
def test_fid_kid_and_statistics_inside_a_process_group_match_one_process(
    nproc, weights_path, subset_a, subset_b, expected_pair, tmp_path
):
    evaluation, statistics = expected_pair
    for rank in range(nproc):
        (tmp_path / f"rank{rank}").mkdir()
    (tmp_path / "rank0" / "stats").mkdir()  # the output folder exists for rank 0 only
    done = torchrun(nproc, WORKER, "compare", weights_path, subset_a, subset_b, tmp_path)
    assert done.returncode == 0, done.stderr
    results = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(nproc)]
    for got in results:  # every rank receives the results
        assert_same_distances(got, evaluation, world_size=nproc)
        assert_same_distances(got["evaluate"], evaluation, world_size=nproc)
        assert_same_score(got["evaluate"], evaluation.inception_score, world_size=nproc)
        assert got["stats"] == {"path": "stats/a.npz", "n": 12, "features_shape": [12, 2048]}
        # FID is symmetric: b against a's file is a against b
        assert got["fid_against_file"]["fid"] == pytest.approx(evaluation.fid.fid, rel=1e-6)
    assert_same_statistics(tmp_path / "rank0" / "stats" / "a.npz", statistics, features=True)
    assert [path.name for path in (tmp_path / "rank0" / "stats").iterdir()] == ["a.npz"]
    assert not any(any((tmp_path / f"rank{rank}").iterdir()) for rank in range(1, nproc))  # rank 0 alone wrote
    expected = drawn_like_the_ranks(nproc, weights_path, subset_b)
    for rank, got in enumerate(results):  # the callable: rank r drew its share seeded with 100 + r
        assert_same_score(got["sampler"], expected.inception_score, world_size=nproc)
        assert got["sampler"]["fid"]["fid"] == pytest.approx(expected.fid.fid, rel=1e-6)
        assert got["sampler"]["fid"]["n_a"] == 10 and got["sampler"]["fid"]["world_size"] == nproc
        assert got["sampler"]["sample_seed"] == got["sampler"]["fid"]["sample_seed"] == 100
        torch.manual_seed(1000 + rank)
        assert got["after_sampler"] == torch.rand(1).item()  # the rank's own random sequence is untouched
    moments = results[0]["moments"]  # sums of uneven shards (rank 0's empty) around a common shift
    assert moments["n"] == 40 and moments["mean"] < 1e-12 and moments["covariance"] < 1e-9


def drawn_like_the_ranks(nproc: int, weights_path: Path, reference: Path):
    """IS and FID in one process of the images the ranks draw from distributed_worker.draw:
    rank r's draw_bounds(10, r, nproc) share, one image per call, seeded with 100 + r."""
    from distributed_worker import draw

    images = []
    for rank in range(nproc):
        start, stop = draw_bounds(10, rank, nproc)
        torch.manual_seed(100 + rank)
        images += [draw(1) for _ in range(stop - start)]
    with one_thread():
        return evaluate(
            torch.cat(images),
            reference=reference,
            metrics=("is", "fid"),
            splits=2,
            weights=weights_path,
            batch_size=1,
            device="cpu",
            progress=False,
            cache=False,
        )


def test_score_with_fid_and_kid_under_torchrun_matches_one_process(weights_path, subset_a, subset_b, expected_pair):
    evaluation, _ = expected_pair
    done = torchrun(
        3,
        "-m",
        "inception_score",
        "score",
        subset_a,
        "--fid",
        subset_b,
        "--kid",
        subset_b,
        "--splits",
        3,
        "--kid-subsets",
        5,
        "--kid-subset-size",
        6,
        "--weights",
        weights_path,
        "--batch-size",
        2,
        "--device",
        "cpu",
        "--json",
        "--quiet",
        "--no-cache",
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)  # one JSON document: rank 0 alone prints
    assert_same_score(got, evaluation.inception_score, world_size=3)
    assert_same_distances(got, evaluation, world_size=3)
    assert done.stderr.count("warning: FID from 12 vs 12 images") == 1 and "Traceback" not in done.stderr


def test_stats_under_torchrun_writes_the_single_process_file(weights_path, subset_a, expected_pair, tmp_path):
    _, statistics = expected_pair
    output = tmp_path / "a.npz"
    done = torchrun(
        2,
        "-m",
        "inception_score",
        "stats",
        subset_a,
        "-o",
        output,
        "--weights",
        weights_path,
        "--batch-size",
        2,
        "--device",
        "cpu",
        "--quiet",
        "--no-cache",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"wrote {output}: 12 images, mu 2048, sigma 2048 x 2048, mu_s 2023"]
    assert_same_statistics(output, statistics, features=False)
    assert [path.name for path in tmp_path.iterdir()] == ["a.npz"]


def test_paper_table_metrics_under_torchrun_match_one_process(weights_path, subset_a, subset_b):
    metrics = ("is", "fid", "sfid", "pr", "dc", "inf")
    options = dict(weights=weights_path, batch_size=2, device="cpu", progress=False, cache=False, splits=3)
    with one_thread():
        expected = evaluate(subset_a, reference=subset_b, metrics=metrics, **options).metrics_dict()
    command = ("evaluate", subset_a, "--ref", subset_b, "--metrics", ",".join(metrics), "--splits", 3)
    options_given = ("--weights", weights_path, "--batch-size", 2, "--device", "cpu", "--json", "--quiet", "--no-cache")
    done = torchrun(2, "-m", "inception_score", *command, *options_given)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)  # one JSON document: rank 0 alone prints
    for key in ("precision", "recall", "f_score", "density", "coverage"):  # k-NN counts over the gathered rows
        assert got[key] == expected[key], key
    same = ("inception_score_mean", "frechet_inception_distance", "spatial_frechet_inception_distance")
    for key in (*same, "inception_score_infinity", "frechet_inception_distance_infinity"):
        assert got[key] == pytest.approx(expected[key], rel=1e-6), key
    realism = got["details"]["manifold"]["realism"]
    assert realism == pytest.approx(expected["details"]["manifold"]["realism"], rel=1e-6)
    assert got["details"]["manifold"]["world_size"] == 2


def test_an_evaluator_fed_on_two_ranks_equals_one_process(weights_path, subset_a, subset_b, tmp_path):
    """Each rank updates with its own shard in uneven batches (re-batched to 3, which divides both shards);
    compute() on both ranks gives one process's
    IS, FID, KID, precision/recall, density/coverage, Vendi and MIND (rows gathered in rank order)."""
    done = torchrun(2, WORKER, "evaluator", weights_path, subset_a, subset_b, tmp_path)
    assert done.returncode == 0, done.stderr
    metrics = ("is", "fid", "kid", "pr", "dc", "vendi", "mind")
    options = dict(splits=2, kid_subsets=4, kid_subset_size=8, mind_num_projections=64, batch_size=3)
    with one_thread():
        expected = evaluate(
            subset_a,
            reference=subset_b,
            metrics=metrics,
            weights=weights_path,
            device="cpu",
            progress=False,
            cache=False,
            **options,
        ).metrics_dict()
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0] == ranks[1]
    for key, value in expected.items():
        if isinstance(value, float):
            assert ranks[0][key] == pytest.approx(value, rel=1e-5), key
