"""Weights resolution, verified downloads from a real HTTP server on 127.0.0.1, install and errors."""

import hashlib
import http.server
import os
import subprocess
import sys
import threading

import pytest

from inception_score import InceptionScoreError
from inception_score.pipeline.inception2015 import load_inception
from inception_score.pipeline.weights import FILENAME, download_weights, install_weights, resolve_weights, sha256_file


@pytest.fixture(scope="module")
def server(weights_path):
    body = weights_path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/weights.pth":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/truncated.pth":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 3])
                self.close_connection = True
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty cache and torch hub, no weights variable: nothing is found without a download."""
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("INCEPTION_SCORE_WEIGHTS", raising=False)
    monkeypatch.delenv("INCEPTION_SCORE_WEIGHTS_URL", raising=False)
    return tmp_path


def test_download_good_file_is_verified_and_moved_into_place(server, weights_path, isolated):
    target = isolated / "cache" / FILENAME
    path = download_weights(target, urls=(f"{server}/weights.pth",), sha256=sha256_file(weights_path), progress=False)
    assert path == target and path.read_bytes() == weights_path.read_bytes()
    # no temporary file left behind; the lock other processes would have waited on stays (it is reused)
    assert sorted(os.listdir(target.parent)) == sorted([FILENAME, f".{FILENAME}.lock"])
    load_inception(path)


def test_download_falls_back_to_the_next_url(server, weights_path, isolated):
    urls = (f"{server}/missing.pth", f"{server}/weights.pth")
    assert download_weights(isolated / "w.pth", urls=urls, sha256=sha256_file(weights_path), progress=False).is_file()


@pytest.mark.parametrize(
    "route, message",
    [
        ("weights.pth", "does not match the expected"),  # good bytes, but not the reference hash
        ("truncated.pth", "truncated: got"),
        ("missing.pth", "404"),
    ],
)
def test_failed_download_leaves_nothing_and_says_how_to_provide_the_file(server, isolated, route, message):
    target = isolated / "cache" / FILENAME
    with pytest.raises(InceptionScoreError) as error:
        download_weights(target, urls=(f"{server}/{route}",), progress=False)
    text = str(error.value)
    assert message in text and "--weights FILE" in text and "INCEPTION_SCORE_WEIGHTS" in text
    assert "inception-score weights install FILE" in text and "github.com/mseitzer" in text
    assert not target.exists() and not any(target.parent.glob(".download-*"))


@pytest.mark.process
def test_offline_cli_error_names_the_file_and_the_three_ways(isolated, data):
    env = dict(
        os.environ,
        INCEPTION_SCORE_CACHE=str(isolated / "cache"),
        TORCH_HOME=str(isolated / "torch"),
        INCEPTION_SCORE_WEIGHTS_URL="http://127.0.0.1:9/unreachable.pth",
    )
    env.pop("INCEPTION_SCORE_WEIGHTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "inception_score", "score", str(data / "images" / "mixed")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for expected in (FILENAME, "--weights FILE", "INCEPTION_SCORE_WEIGHTS=FILE", "weights install FILE", "127.0.0.1:9"):
        assert expected in done.stderr


def test_resolution_order(weights_path, isolated, monkeypatch):
    hub = isolated / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "weights-inception-2015-12-05-6726825d.pth").write_bytes(b"hub copy")
    assert resolve_weights(download=False).parent == hub  # torch-fidelity's file in the hub cache
    (isolated / "cache").mkdir()
    (isolated / "cache" / FILENAME).write_bytes(b"cache copy")
    assert resolve_weights(download=False) == isolated / "cache" / FILENAME
    monkeypatch.setenv("INCEPTION_SCORE_WEIGHTS", str(weights_path))
    assert resolve_weights(download=False) == weights_path
    assert resolve_weights(isolated / "cache" / FILENAME) == isolated / "cache" / FILENAME  # explicit wins
    monkeypatch.setenv("INCEPTION_SCORE_WEIGHTS", str(isolated / "nope.pth"))
    with pytest.raises(InceptionScoreError, match="INCEPTION_SCORE_WEIGHTS.*does not exist|does not exist.*INCEPTION"):
        resolve_weights()


def test_install_refuses_other_weights_and_keeps_the_cache_clean(weights_path, isolated):
    with pytest.raises(InceptionScoreError, match="not the reference weights"):
        install_weights(weights_path)
    assert not (isolated / "cache" / FILENAME).exists()


@pytest.mark.process
def test_weights_path_command(isolated):
    env = dict(os.environ, INCEPTION_SCORE_CACHE=str(isolated / "cache"), TORCH_HOME=str(isolated / "torch"))
    env.pop("INCEPTION_SCORE_WEIGHTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "inception_score", "weights", "path"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0 and str(isolated / "cache" / FILENAME) in done.stdout and "not installed" in done.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        (b"this is not a weights file", "cannot read weights file"),
        ("truncated", "cannot read weights file"),
        ("missing key", "does not have the 2015 Inception layout"),
    ],
)
def test_bad_weights_files_are_clear_errors(weights_path, tmp_path, content, message):
    import torch

    bad = tmp_path / "bad.pth"
    if content == "truncated":
        bad.write_bytes(weights_path.read_bytes()[:100_000])
    elif content == "missing key":
        state = torch.load(weights_path, weights_only=True)
        del state["Mixed_7c.branch_pool.conv.weight"]
        torch.save(state, bad)
    else:
        bad.write_bytes(content)
    with pytest.raises(InceptionScoreError, match=message) as error:
        load_inception(bad)
    assert str(bad) in str(error.value)
    assert hashlib.sha256(bad.read_bytes()).hexdigest()  # the file is untouched and still readable
