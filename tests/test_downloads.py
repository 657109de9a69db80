"""Downloads from a real, misbehaving HTTP server on 127.0.0.1: wrong lengths, truncation, HTML error
pages, stalls, refused ranges, failing mirrors, and several real processes fetching one reference."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import MisbehavingServer, run_cli

from inception_score import InceptionScoreError
from inception_score.pipeline import download, references
from inception_score.pipeline.download import lock_path, partial_path

NAME = "fid_stats_cifar10_train"
FILE = f"{NAME}.npz"


def ttur_bytes(folder: Path, seed: int = 1) -> bytes:
    """A statistics file as TTUR publishes them (mu and sigma only), of 40 random 2048-d features."""
    features = np.random.RandomState(seed).standard_normal((40, 2048))
    path = folder / f"ttur-{seed}.npz"
    np.savez(path, mu=features.mean(0), sigma=np.cov(features, rowvar=False))
    return path.read_bytes()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(references.ENV_REFERENCE_URL, raising=False)
    monkeypatch.setenv(download.ENV_TIMEOUT, "2")
    return tmp_path


@pytest.fixture
def server(isolated):
    with MisbehavingServer(stall_s=8) as running:
        running.bodies[FILE] = ttur_bytes(isolated)
        yield running


def fetch(server, *kinds: str):
    return references.fetch(
        references.entry_named(NAME), progress=False, urls=tuple(f"{server.url}/{kind}/{FILE}" for kind in kinds)
    )


def installed() -> Path:
    return references.installed_path(references.entry_named(NAME))


def nothing_pinned_or_installed() -> bool:
    return not installed().exists() and NAME not in references.read_pins()


@pytest.mark.parametrize("kind", ["html", "short", "nolength"])
def test_a_body_that_is_not_the_file_is_refused_before_it_is_pinned(server, kind):
    """An HTML error page with status 200, or a body cut short under a Content-Length (or without one)
    that says it is complete: the format check refuses it, and nothing is kept to resume."""
    with pytest.raises(InceptionScoreError, match=r"not a statistics-npz file \(.*\.npz|refs install") as error:
        fetch(server, kind)
    assert "not a statistics-npz file" in str(error.value) and "\n" in str(error.value)  # tried ..., then help
    assert nothing_pinned_or_installed() and not partial_path(installed()).exists()


def test_a_truncated_body_is_kept_and_resumed_and_a_failing_mirror_keeps_it(server):
    body = server.bodies[FILE]
    with pytest.raises(InceptionScoreError, match=r"truncated: got \d+ of \d+ bytes \(kept to resume\)"):
        fetch(server, "truncated")
    partial = partial_path(installed())
    assert partial.read_bytes() == body[: len(body) // 2]
    with pytest.raises(InceptionScoreError, match="HTTP Error 404"):
        references.fetch(
            references.entry_named(NAME), progress=False, urls=(f"{server.url}/files/missing.npz",)
        )  # a mirror that fails before sending a byte
    assert partial.read_bytes() == body[: len(body) // 2]  # still kept, as the first message said
    assert fetch(server, "files").read_bytes() == body and not partial.exists()
    assert server.ranges[-1] == f"bytes={len(body) // 2}-"
    assert references.read_pins()[NAME].sha256 == hashlib.sha256(body).hexdigest()


def test_a_stalled_server_times_out_and_the_next_attempt_resumes(server):
    body = server.bodies[FILE]
    with pytest.raises(InceptionScoreError, match="timed out"):
        fetch(server, "stall")
    assert partial_path(installed()).read_bytes() == body[: len(body) // 2]
    assert fetch(server, "files").read_bytes() == body
    assert server.ranges == [f"bytes={len(body) // 2}-"]


def test_a_refused_range_removes_the_partial_file_and_the_next_url_fetches_it_whole(server):
    body = server.bodies[FILE]
    partial = partial_path(installed())
    partial.parent.mkdir(parents=True)
    partial.write_bytes(body[:100])
    path = fetch(server, "refuse-range", "files")
    assert path.read_bytes() == body and not partial.exists()
    assert server.gets[f"refuse-range/{FILE}"] == 1 and server.gets[f"files/{FILE}"] == 1


def test_mirror_fallback_through_a_redirect(server):
    assert fetch(server, "html", "redirect").read_bytes() == server.bodies[FILE]


def test_the_timeout_variable_is_checked(server, monkeypatch):
    monkeypatch.setenv(download.ENV_TIMEOUT, "soon")
    with pytest.raises(InceptionScoreError, match="INCEPTION_SCORE_DOWNLOAD_TIMEOUT must be a number of seconds"):
        fetch(server, "files")


def test_a_lock_or_a_references_folder_of_the_wrong_kind_is_one_line(server, isolated):
    lock = lock_path(installed())
    lock.mkdir(parents=True)
    done = run_cli("refs", "fetch", NAME, "--quiet")
    assert done.returncode == 2 and "a folder is where this lock file belongs; remove it" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    lock.rmdir()
    lock.parent.rmdir()
    lock.parent.write_text("not a folder")
    for words in (("refs", "fetch", NAME, "--quiet"), ("refs", "install", NAME, isolated / "x.npz")):
        (isolated / "x.npz").write_bytes(server.bodies[FILE])
        done = run_cli(*words)
        assert done.returncode == 2 and "should be the folder of catalog references but is a file" in done.stderr
        assert "Traceback" not in done.stderr


def _processes(count: int, words: list[str], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    """`count` real processes of the command line, started together."""
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "inception_score", *words],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    done = []
    for process in started:
        stdout, stderr = process.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


@pytest.mark.process
def test_three_processes_fetching_one_reference_download_it_once(server, isolated):
    env = dict(os.environ, INCEPTION_SCORE_REFERENCE_URL=f"{server.url}/slow")
    done = _processes(3, ["refs", "fetch", NAME, "--quiet"], env)
    digest = hashlib.sha256(server.bodies[FILE]).hexdigest()
    assert [process.returncode for process in done] == [0, 0, 0], [process.stderr for process in done]
    assert all(digest in process.stdout for process in done)
    assert server.gets == {f"slow/{FILE}": 1}  # one downloaded, two waited and used it
    assert references.read_pins()[NAME].sha256 == digest
    leftovers = sorted(path.name for path in installed().parent.iterdir())
    assert leftovers == sorted([".pins.lock", "pins.json", FILE, lock_path(installed()).name])


@pytest.mark.process
def test_processes_using_a_reference_while_it_downloads_wait_and_agree(server, isolated):
    from inception_score.maths.frechet import Moments
    from inception_score.pipeline.extract import PIPELINE_VERSION
    from inception_score.pipeline.statistics import write_statistics
    from inception_score.pipeline.weights import REFERENCE_SHA256

    features = np.random.RandomState(3).standard_normal((40, 2048))
    ours = write_statistics(
        isolated / "ours.npz",
        Moments(features.mean(0), np.cov(features, rowvar=False), 40),
        weights_sha256=REFERENCE_SHA256,
        pipeline_version=PIPELINE_VERSION,
    )
    env = dict(os.environ, INCEPTION_SCORE_REFERENCE_URL=f"{server.url}/slow")
    done = _processes(2, ["fid", str(ours), NAME, "--json", "--quiet"], env)
    assert [process.returncode for process in done] == [0, 0], [process.stderr for process in done]
    values = [json.loads(process.stdout)["fid"] for process in done]
    assert values[0] == values[1] and server.gets == {f"slow/{FILE}": 1}


def test_the_waiting_process_gives_up_on_a_download_that_does_not_move(server, isolated, monkeypatch):
    """A lock held by a process whose download has stalled for good (here: this test holds it) is not
    waited on forever."""
    from inception_score.pipeline.files import locked

    monkeypatch.setenv(download.ENV_TIMEOUT, "0.5")
    installed().parent.mkdir(parents=True)
    code = (
        "import sys, time\n"
        "from inception_score.pipeline.files import locked\n"
        "with locked(sys.argv[1]):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock_path(installed()))], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        with pytest.raises(InceptionScoreError, match="has not moved for 6 s"):
            fetch(server, "files")
    finally:
        holder.kill()
        holder.wait()
    with locked(lock_path(installed())):  # released with its process
        pass
    assert fetch(server, "files").read_bytes() == server.bodies[FILE]


def test_an_adm_batch_without_statistics_is_fetched_as_images(isolated):
    """The checks look inside the partial file (.NAME.partial), whatever its name says."""
    batch = isolated / "batch.npz"
    np.savez(batch, np.random.RandomState(0).randint(0, 256, (4, 64, 64, 3)).astype(np.uint8))
    entry = references.entry_named("VIRTUAL_imagenet64_labeled")
    with MisbehavingServer() as running:
        running.bodies[entry.filename] = batch.read_bytes()
        path = references.fetch(entry, progress=False, urls=(f"{running.url}/files/{entry.filename}",))
        assert path.read_bytes() == batch.read_bytes()
        np.savez(batch, np.zeros((4, 32, 32, 3), np.uint8))
        running.bodies["small.npz"] = batch.read_bytes()
        other = references.entry_named("VIRTUAL_imagenet128_labeled")
        with pytest.raises(InceptionScoreError, match="its images are 32x32; VIRTUAL_imagenet128_labeled is 128x128"):
            references.fetch(other, progress=False, urls=(f"{running.url}/files/small.npz",))
