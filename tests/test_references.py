"""The reference catalog: fetch from a real HTTP server on 127.0.0.1, pinning, install, build, safe loading,
protocol checks, and catalog names where a reference is accepted (CLI and API)."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import pickle
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from inception_score import InceptionScoreError, fid
from inception_score.maths.frechet import Moments
from inception_score.pipeline import references
from inception_score.pipeline.extract import PIPELINE_VERSION
from inception_score.pipeline.reference_catalog import CATALOG
from inception_score.pipeline.statistics import write_statistics
from inception_score.pipeline.weights import REFERENCE_SHA256

DIMS = 2048  # the catalog entries are in Inception's pool3 space; 40 images make cheap rank-40 files


def _moments(seed: int, n: int = 40) -> Moments:
    features = np.random.RandomState(seed).standard_normal((n, DIMS))
    return Moments(features.mean(axis=0), np.cov(features, rowvar=False), n)


def _ttur_bytes(tmp: Path, seed: int = 1) -> bytes:
    """A statistics file as TTUR publishes them: only mu and sigma."""
    moments = _moments(seed)
    path = tmp / f"ttur-{seed}.npz"
    np.savez(path, mu=moments.mean, sigma=moments.covariance)
    return path.read_bytes()


@pytest.fixture
def ours(tmp_path) -> Path:
    """Our own statistics file (reference weights and pipeline recorded)."""
    return write_statistics(
        tmp_path / "ours.npz", _moments(7), weights_sha256=REFERENCE_SHA256, pipeline_version=PIPELINE_VERSION
    )


class _Files:
    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.ranges: list[str] = []
        self.gets: dict[str, int] = {}  # requests for /files/NAME, by name


@pytest.fixture
def server():
    """Routes: /files/NAME (Range supported), /slow/NAME (the same after a second), /redirect/NAME ->
    /files/NAME, /truncated/NAME (half the body under the full Content-Length), anything else 404."""
    files = _Files()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            kind, _, name = self.path.strip("/").partition("/")
            body = files.bodies.get(name)
            if body is None:
                self.send_error(404)
            elif kind == "redirect":
                self.send_response(302)
                self.send_header("Location", f"/files/{name}")
                self.end_headers()
            elif kind == "truncated":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            elif kind in ("files", "slow"):
                files.gets[name] = files.gets.get(name, 0) + 1
                time.sleep(1.0 if kind == "slow" else 0)  # a download long enough for two ranks to race
                start = 0
                if self.headers.get("Range"):
                    files.ranges.append(self.headers["Range"])
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                self.wfile.write(body[start:])
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    files.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield files
    httpd.shutdown()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(references.ENV_REFERENCE_URL, raising=False)
    return tmp_path


def _entry(name):
    return references.entry_named(name)


def test_catalog_is_data_with_sources_and_says_what_is_unchecked():
    names = [entry.name for entry in CATALOG]
    assert len(names) == len(set(names))
    for required in (
        "fid_stats_cifar10_train",
        "fid_stats_celeba",
        "fid_stats_lsun_train",
        "fid_stats_svhn_train",
        "fid_stats_imagenet_train",
        "fid_stats_imagenet_valid",
        "VIRTUAL_imagenet64_labeled",
        "VIRTUAL_imagenet128_labeled",
        "VIRTUAL_imagenet256_labeled",
        "VIRTUAL_imagenet512",
        "VIRTUAL_lsun_bedroom256",
        "cifar10-train",
        "imagenet-val",
    ):
        assert required in names
    for entry in CATALOG:
        assert entry.sources and set(entry.metrics) <= {"fid", "kid", "sfid", "pr", "fd_dinov2"}
        assert entry.downloadable != bool(entry.build)
        assert (
            all(
                url.startswith(("http://", "https://")) and url.endswith(entry.filename.split("-")[-1])
                for url in entry.urls
            )
            or not entry.urls
        )
        if entry.downloadable and entry.sha256 is None:
            assert any("sha256" in note for note in entry.unchecked)
    with pytest.raises(InceptionScoreError, match="refs list"):
        references.entry_named("no_such_reference")


def test_fetch_records_the_hash_at_first_download_and_verifies_it_on_every_use(server, ours, isolated, monkeypatch):
    body = _ttur_bytes(isolated)
    server.bodies["fid_stats_cifar10_train.npz"] = body
    monkeypatch.setenv(references.ENV_REFERENCE_URL, f"{server.url}/files")
    done = run_cli("refs", "fetch", "fid_stats_cifar10_train", "--quiet")
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(body).hexdigest()
    assert digest in done.stdout and "recorded at first use" in done.stdout
    assert references.read_pins()["fid_stats_cifar10_train"].sha256 == digest
    info = json.loads(run_cli("refs", "info", "fid_stats_cifar10_train").stdout)
    assert info["sha256"] == digest and info["installed"] and info["sha256_origin"].startswith("recorded")

    done = run_cli("fid", ours, "fid_stats_cifar10_train", "--json")
    assert done.returncode == 0, done.stderr
    reference = json.loads(done.stdout)["reference"]
    assert reference["catalog_name"] == "fid_stats_cifar10_train" and reference["sha256"] == digest
    assert reference["protocol"] == "tf-inception-2015" and "does not say how it was made" not in done.stderr
    summary = run_cli("fid", ours, "fid_stats_cifar10_train").stdout
    assert f"vs reference fid_stats_cifar10_train [tf-inception-2015, sha256 {digest}]" in summary

    installed = references.installed_path(_entry("fid_stats_cifar10_train"))
    installed.write_bytes(_ttur_bytes(isolated, seed=2))  # changed behind our back
    done = run_cli("fid", ours, "fid_stats_cifar10_train")
    assert done.returncode == 2 and "does not match the recorded at first use" in done.stderr
    assert "refs fetch fid_stats_cifar10_train" in done.stderr


@pytest.mark.process
def test_pins_written_by_two_processes_at_once_are_all_kept(isolated):
    """Two processes pin 200 names each, starting at the same moment: the lock keeps every pin."""
    code = (
        "import pathlib, sys, time\n"
        "from inception_score.pipeline import pins\n"
        "ready = pathlib.Path(sys.argv[2])\n"
        "(ready / sys.argv[1]).touch()\n"
        "while len(list(ready.iterdir())) < 2:\n"  # both imported: start together
        "    time.sleep(0.005)\n"
        "for i in range(200):\n"
        "    pins.record_pin(f'{sys.argv[1]}-{i}', '0' * 64, i, 'test')\n"
    )
    env = dict(os.environ, INCEPTION_SCORE_CACHE=str(isolated / "cache"))
    ready = isolated / "ready"
    ready.mkdir()
    workers = [subprocess.Popen([sys.executable, "-c", code, name, ready], env=env) for name in ("left", "right")]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    pins = references.read_pins()
    assert len(pins) == 400 and pins["left-199"].size == pins["right-199"].size == 199
    mask = os.umask(0)
    os.umask(mask)
    assert references.pins_path().stat().st_mode & 0o777 == 0o666 & ~mask
    assert sorted(path.name for path in references.pins_path().parent.iterdir()) == [".pins.lock", "pins.json"]


@pytest.mark.distributed
def test_two_ranks_download_a_catalog_reference_once(server, ours, isolated, monkeypatch):
    from test_distributed import torchrun

    body = _ttur_bytes(isolated)
    server.bodies["fid_stats_cifar10_train.npz"] = body
    monkeypatch.setenv(references.ENV_REFERENCE_URL, f"{server.url}/slow")
    done = torchrun(2, "-m", "inception_score", "fid", ours, "fid_stats_cifar10_train", "--json", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    assert server.gets == {"fid_stats_cifar10_train.npz": 1}  # rank 0 fetched it, rank 1 found it pinned
    assert json.loads(done.stdout)["reference"]["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_pinned_reference_refuses_different_bytes_from_the_server(server, isolated):
    entry = _entry("fid_stats_celeba")
    server.bodies["a.npz"], server.bodies["b.npz"] = _ttur_bytes(isolated, 1), _ttur_bytes(isolated, 2)
    references.fetch(entry, progress=False, urls=(f"{server.url}/files/a.npz",))
    references.installed_path(entry).unlink()
    with pytest.raises(InceptionScoreError, match="does not match"):
        references.fetch(entry, progress=False, urls=(f"{server.url}/files/b.npz",))
    assert not references.installed_path(entry).exists()


def test_mirror_fallback_and_redirect(server, isolated):
    entry = _entry("fid_stats_svhn_train")
    server.bodies["s.npz"] = _ttur_bytes(isolated)
    path = references.fetch(
        entry, progress=False, urls=(f"{server.url}/files/missing.npz", f"{server.url}/redirect/s.npz")
    )
    assert path.read_bytes() == server.bodies["s.npz"]


@pytest.mark.parametrize(
    "change, message",
    [(dict(sha256="0" * 64), "does not match the expected"), (dict(size=12), "wrong size: got")],
)
def test_published_hash_or_size_is_checked_from_the_first_download(server, isolated, change, message):
    entry = dataclasses.replace(_entry("fid_stats_lsun_train"), **change)
    server.bodies["l.npz"] = _ttur_bytes(isolated)
    with pytest.raises(InceptionScoreError, match=message):
        references.fetch(entry, progress=False, urls=(f"{server.url}/files/l.npz",))
    folder = references.references_dir()
    assert not references.installed_path(entry).exists() and not list(folder.glob(".*partial"))
    assert "fid_stats_lsun_train" not in references.read_pins()


def test_truncated_download_is_kept_and_resumed_with_a_range_request(server, isolated):
    entry = _entry("fid_stats_imagenet_valid")
    body = _ttur_bytes(isolated)
    server.bodies["v.npz"] = body
    with pytest.raises(InceptionScoreError, match="truncated"):
        references.fetch(entry, progress=False, urls=(f"{server.url}/truncated/v.npz",))
    partial = references.partial_path(references.installed_path(entry))
    assert partial.read_bytes() == body[: len(body) // 2]
    path = references.fetch(entry, progress=False, urls=(f"{server.url}/files/v.npz",))
    assert path.read_bytes() == body and not partial.exists()
    assert server.ranges == [f"bytes={len(body) // 2}-"]


def test_offline_message_names_the_urls_and_the_install_command(ours, monkeypatch):
    monkeypatch.setenv(references.ENV_REFERENCE_URL, "http://127.0.0.1:9")
    done = run_cli("fid", ours, "fid_stats_cifar10_train")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for expected in (
        "could not be downloaded",
        "127.0.0.1:9/fid_stats_cifar10_train.npz",
        "http://bioinf.jku.at/research/ttur/ttur_stats/fid_stats_cifar10_train.npz",
        "inception-score refs install fid_stats_cifar10_train FILE",
    ):
        assert expected in done.stderr


def test_404_everywhere_is_the_offline_message(server):
    with pytest.raises(InceptionScoreError, match="(?s)HTTP Error 404.*refs install fid_stats_celeba FILE"):
        references.fetch(_entry("fid_stats_celeba"), progress=False, urls=(f"{server.url}/files/none.npz",))


def test_install_verifies_pins_and_refuses_other_bytes(isolated, ours):
    first, second = isolated / "first.npz", isolated / "second.npz"
    first.write_bytes(_ttur_bytes(isolated, 1))
    second.write_bytes(_ttur_bytes(isolated, 2))
    done = run_cli("refs", "install", "fid_stats_imagenet_train", first)
    assert done.returncode == 0 and hashlib.sha256(first.read_bytes()).hexdigest() in done.stdout
    done = run_cli("refs", "install", "fid_stats_imagenet_train", second)
    assert done.returncode == 2 and "not installed" in done.stderr
    not_npz = isolated / "junk.npz"
    not_npz.write_bytes(b"junk")
    done = run_cli("refs", "install", "fid_stats_svhn_train", not_npz)
    assert done.returncode == 2 and "cannot read it as a .npz" in done.stderr and "not installed" in done.stderr
    # the API takes the name too
    result = fid(ours, "fid_stats_imagenet_train")
    assert result.reference is not None and result.reference["catalog_name"] == "fid_stats_imagenet_train"


def test_clean_fid_statistics_are_refused_unless_allowed_and_then_warn(isolated, ours):
    file = isolated / "clean.npz"
    file.write_bytes(_ttur_bytes(isolated))
    assert run_cli("refs", "install", "cifar10_clean_train_32", file).returncode == 0
    done = run_cli("fid", ours, "cifar10_clean_train_32")
    assert done.returncode == 2 and "another protocol" in done.stderr and "--allow-other-protocol" in done.stderr
    done = run_cli("fid", ours, "cifar10_clean_train_32", "--allow-other-protocol")
    assert done.returncode == 0 and "NOT comparable" in done.stderr
    result = fid(ours, "cifar10_clean_train_32", allow_other_protocol=True)
    assert any("NOT comparable" in warning for warning in result.warnings)


def test_features_of_other_weights_against_a_tf_protocol_reference_warn(isolated):
    other = write_statistics(
        isolated / "other.npz", _moments(3), weights_sha256="ab" * 32, pipeline_version=PIPELINE_VERSION
    )
    file = isolated / "t.npz"
    file.write_bytes(_ttur_bytes(isolated))
    references.install(_entry("fid_stats_celeba"), file)
    result = fid(other, "fid_stats_celeba")
    assert any("abababababab" in w and "meaningless" in w for w in result.warnings)


def _adm_batch(path: Path, *, statistics: bool, size: int = 64) -> Path:
    """An ADM reference batch: 6 images at the entry's size, and the evaluator's statistics (2048-d pool3,
    2023-d spatial) when asked."""
    rng = np.random.RandomState(0)
    arrays = {"arr_0": rng.randint(0, 256, (6, size, size, 3)).astype(np.uint8)}
    if statistics:
        moments, spatial = _moments(5), rng.standard_normal((40, 2023))
        arrays.update(
            mu=moments.mean, sigma=moments.covariance, mu_s=spatial.mean(0), sigma_s=np.cov(spatial, rowvar=False)
        )
    np.savez(path, **arrays)
    return path


def test_adm_reference_batch_with_statistics_serves_fid(isolated, ours):
    batch = _adm_batch(isolated / "VIRTUAL_imagenet64_labeled.npz", statistics=True)
    assert run_cli("refs", "install", "VIRTUAL_imagenet64_labeled", batch).returncode == 0
    result = fid(ours, "VIRTUAL_imagenet64_labeled")
    assert result.reference["protocol"] == "adm-evaluator" and result.n_b is None
    assert result.fid > 0 and not [w for w in result.warnings if "VIRTUAL" in w or "how it was made" in w]


@pytest.mark.slow
def test_adm_reference_batch_without_statistics_is_read_as_images(isolated, data, weights_path):
    batch = _adm_batch(isolated / "cat.npz", statistics=False, size=256)
    assert run_cli("refs", "install", "VIRTUAL_lsun_cat256", batch).returncode == 0
    samples = isolated / "samples"
    samples.mkdir()
    for path in sorted((data / "images" / "a").glob("*.png"))[:6]:
        (samples / path.name).write_bytes(path.read_bytes())
    done = run_cli(
        "fid",
        samples,
        "VIRTUAL_lsun_cat256",
        "--weights",
        weights_path,
        "--no-cache",
        "--quiet",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["n_b"] == 6 and document["reference"]["catalog_name"] == "VIRTUAL_lsun_cat256"


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-pickle",))


def test_edm2_pickle_is_read_by_the_restricted_loader_and_warns_close_protocol(isolated, ours):
    moments = _moments(9)
    stats = dict(num_images=40, fid=dict(mu=moments.mean, sigma=moments.covariance), fd_dinov2=dict(mu=np.zeros(1024)))
    file = isolated / "img64.pkl"
    file.write_bytes(pickle.dumps(stats))  # a part without its sigma: malformed, refused in one line
    done = run_cli("refs", "install", "edm2-img64", file)
    assert done.returncode == 2 and "expected a dict with 'fd_dinov2': {'mu', 'sigma'}" in done.stderr
    del stats["fd_dinov2"]
    file.write_bytes(pickle.dumps(stats))
    assert run_cli("refs", "install", "edm2-img64", file).returncode == 0
    result = fid(ours, "edm2-img64")
    assert result.n_b == 40 and result.reference["protocol"] == "nvidia-inception-detector"
    assert any("other code" in warning for warning in result.warnings)


def two_block_vitl14():
    """A DINOv2 ViT-L/14 with 2 of its 24 blocks (random weights in the published layout), as the registry's
    dinov2-vitl14 extractor: EDM2's input contract and name, so its features are in that feature space."""
    from extractor_recipes import dinov2_shapes, random_state_dict

    from inception_score.pipeline.extractors import REGISTRY, Classifier, FeaturesOnly
    from inception_score.pipeline.networks import dinov2

    state = random_state_dict(dinov2_shapes("vitl14", depth=2), seed=1703)
    network = dinov2.load_dinov2_state(dinov2.build_dinov2("vitl14", depth=2), state)
    entry = REGISTRY["dinov2-vitl14"]
    module = FeaturesOnly(network.eval())
    return Classifier(
        module, entry.contract, entry.name, "python:tests 2-block ViT-L/14", "none", outputs=("features",)
    )


def test_an_edm2_reference_gives_fd_dinov2_its_own_statistics(isolated, data):
    import torch
    from PIL import Image

    from inception_score import evaluate
    from inception_score.maths.frechet import frechet_of_moments, moments_of
    from inception_score.pipeline.statistics import read_statistics

    rng = np.random.RandomState(5)
    dinov2_features = rng.standard_normal((30, 1024))
    inception = _moments(9)
    stats = dict(
        num_images=30,
        fid=dict(mu=inception.mean, sigma=inception.covariance),
        fd_dinov2=dict(mu=dinov2_features.mean(0), sigma=np.cov(dinov2_features, rowvar=False)),
    )
    file = isolated / "img512.pkl"
    file.write_bytes(pickle.dumps(stats))
    assert run_cli("refs", "install", "edm2-img512", file).returncode == 0

    resolved = references.resolve("edm2-img512", space="dinov2-vitl14")
    part = read_statistics(resolved.path)
    assert resolved.protocol.name == "edm2-dinov2" and part.extractor == "dinov2-vitl14" and part.n == 30
    np.testing.assert_array_equal(part.mu, stats["fd_dinov2"]["mu"])
    assert read_statistics(references.resolve("edm2-img512").path).mu.shape == (DIMS,)  # FID's part

    files = sorted((data / "images" / "a").glob("*.png"))[:6]
    classifier = two_block_vitl14()
    evaluation = evaluate(files, reference="edm2-img512", metrics=("fd_dinov2",), classifier=classifier, progress=False)
    pixels = torch.from_numpy(np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files]))
    with torch.inference_mode():
        _, features = classifier.module(classifier.contract.prepare(pixels.permute(0, 3, 1, 2).float()))
    expected = frechet_of_moments(moments_of(features.double().numpy()), moments_of(dinov2_features))
    result = evaluation.fd_dinov2
    assert result is not None and result.fid == pytest.approx(expected, rel=1e-6)
    assert result.reference["protocol"] == "edm2-dinov2" and result.n_b == 30 and result.name == "FD_DINOv2"
    assert any("other code" in warning and "DINOv2 ViT-L/14" in warning for warning in result.warnings)
    assert not any("2015 Inception" in warning for warning in result.warnings)

    for name, space, message in (
        ("edm2-img512", "dinov2-vits14", "use --classifier dinov2-vitl14"),
        ("edm2-img512", "clip-vit-b-32", "holds Inception statistics (FID) and EDM2's FD_DINOv2 statistics, not"),
        ("fid_stats_cifar10_train", "dinov2-vitl14", "holds Inception statistics only, not dinov2-vitl14 features"),
    ):
        with pytest.raises(InceptionScoreError, match=re.escape(message)):
            references.resolve(name, space=space)


def test_an_edm2_file_without_fd_dinov2_statistics_says_what_it_holds(isolated):
    inception = _moments(9)
    file = isolated / "img64.pkl"
    file.write_bytes(pickle.dumps(dict(num_images=40, fid=dict(mu=inception.mean, sigma=inception.covariance))))
    assert run_cli("refs", "install", "edm2-img64", file).returncode == 0
    with pytest.raises(InceptionScoreError, match="expected a dict with 'fd_dinov2'.*it holds: fid, num_images"):
        references.resolve("edm2-img64", space="dinov2-vitl14")


def test_a_pickle_that_would_run_code_does_not(isolated, monkeypatch):
    monkeypatch.chdir(isolated)
    evil = isolated / "evil.pkl"
    evil.write_bytes(pickle.dumps({"fid": _RunsCode()}))
    with pytest.raises(InceptionScoreError, match="refused posix.system|refused os.system|refused nt.system"):
        references.safe_load_pickle(evil)
    done = run_cli("refs", "install", "edm2-img512", evil)
    assert done.returncode == 2 and "refused" in done.stderr
    assert not (isolated / "pwned-by-pickle").exists()
    assert not references.installed_path(_entry("edm2-img512")).exists()


def _cifar_batches(folder: Path, per_batch: int = 2) -> Path:
    folder.mkdir()
    rng = np.random.RandomState(1)
    for index in range(1, 6):
        batch = {
            b"batch_label": b"training batch",
            b"labels": list(range(per_batch)),
            b"data": rng.randint(0, 256, (per_batch, 3072)).astype(np.uint8),
            b"filenames": [b"x.png"] * per_batch,
        }
        (folder / f"data_batch_{index}").write_bytes(pickle.dumps(batch, protocol=2))
    return folder


def test_cifar10_batches_are_read_in_their_layout(isolated):
    folder = _cifar_batches(isolated / "cifar-10-batches-py")
    images = references.read_cifar10_batches(isolated)
    assert images.shape == (10, 32, 32, 3) and images.dtype == np.uint8
    first = pickle.loads((folder / "data_batch_1").read_bytes())[b"data"][0]
    assert np.array_equal(images[0, :, :, 0].ravel(), first[:1024])  # red plane first
    (folder / "data_batch_5").unlink()
    with pytest.raises(InceptionScoreError, match="data_batch_5"):
        references.read_cifar10_batches(folder)


@pytest.mark.slow
def test_refs_build_cifar10_train_then_use_it_by_name(isolated, weights_path):
    folder = _cifar_batches(isolated / "cifar-10-batches-py")
    done = run_cli(
        "refs", "build", "cifar10-train", "--data", folder, "--weights", weights_path, "--no-cache", "--quiet"
    )
    assert done.returncode == 0, done.stderr
    assert "built" in done.stdout and "10 images" in done.stdout
    pinned = references.read_pins()["cifar10-train"].sha256
    done = run_cli("kid", "cifar10-train", "cifar10-train", "--subsets", "2", "--subset-size", "5", "--json")
    assert done.returncode == 0, done.stderr
    kid = json.loads(done.stdout)["kid"]
    assert kid["reference"]["sha256"] == pinned and kid["reference"]["n"] == 10
    assert kid["reference"]["protocol"] == "inception-score"


def test_build_and_fetch_refuse_the_wrong_kind_of_entry(isolated, ours):
    done = run_cli("refs", "build", "fid_stats_celeba", "--data", isolated)
    assert done.returncode == 2 and "refs fetch fid_stats_celeba" in done.stderr
    done = run_cli("refs", "fetch", "imagenet-val")
    assert done.returncode == 2 and "refs build imagenet-val --data DIR" in done.stderr
    done = run_cli("fid", ours, "imagenet-val")
    assert done.returncode == 2 and "not built yet" in done.stderr
    listing = run_cli("refs", "list").stdout
    assert "VIRTUAL_imagenet256_labeled" in listing and "clean-fid-clean" in listing


# --- pins are validated on read ----------------------------------------------------------------

DIGEST = "ab" * 32
BROKEN_PINS = {
    "empty": ("", "not valid JSON"),
    "not json": ("{not json", "not valid JSON"),
    "a list": ("[]", "should be a JSON object (name -> pin), got list"),
    "an empty hash": ('{"fid_stats_celeba": {"sha256": "", "size": 1}}', "has sha256 '', not 64 lower-case hex"),
    "a short hash": ('{"fid_stats_celeba": {"sha256": "abc", "size": 1}}', "has sha256 'abc'"),
    "a negative size": (f'{{"fid_stats_celeba": {{"sha256": "{DIGEST}", "size": -1}}}}', "has size '-1'"),
    "a pin that is text": ('{"fid_stats_celeba": "abc"}', "is a str, not an object"),
}


@pytest.mark.parametrize("text, message", BROKEN_PINS.values(), ids=BROKEN_PINS.keys())
def test_a_malformed_pins_file_is_an_error_that_names_it_never_a_silent_match(isolated, ours, text, message):
    entry = _entry("fid_stats_celeba")
    installed = references.installed_path(entry)
    installed.parent.mkdir(parents=True)
    installed.write_bytes(_ttur_bytes(isolated))
    references.pins_path().write_text(text)
    for words in (("fid", ours, "fid_stats_celeba"), ("refs", "info", "fid_stats_celeba")):
        done = run_cli(*words)
        assert done.returncode == 2 and message in done.stderr and str(references.pins_path()) in done.stderr
        assert ("delete" in done.stderr or "repair" in done.stderr) and done.stderr.count("\n") == 1
    assert references.pins_path().read_text() == text  # never rewritten behind the user's back


def test_pins_or_their_lock_of_the_wrong_kind_are_one_line(isolated):
    file = isolated / "t.npz"
    file.write_bytes(_ttur_bytes(isolated))
    folder = references.ensure_references_dir()
    (folder / ".pins.lock").mkdir()
    done = run_cli("refs", "install", "fid_stats_celeba", file)
    assert done.returncode == 2 and "a folder is where this lock file belongs" in done.stderr
    (folder / ".pins.lock").rmdir()
    references.pins_path().mkdir()
    done = run_cli("refs", "install", "fid_stats_celeba", file)
    assert done.returncode == 2 and "is a folder, where the reference pins file belongs" in done.stderr
    assert "Traceback" not in done.stderr


# --- a file must fit its catalog entry -----------------------------------------------------------


def _ours(path: Path, n: int, dims: int = DIMS, **keys) -> Path:
    features = np.random.RandomState(n).standard_normal((min(n, 60), dims))
    moments = Moments(features.mean(0), np.cov(features, rowvar=False), n)
    return write_statistics(
        path,
        moments,
        weights_sha256=keys.get("weights_sha256", REFERENCE_SHA256),
        pipeline_version=keys.get("pipeline_version", PIPELINE_VERSION),
        features=features if keys.get("features") else None,
        feature_rows=np.arange(len(features)) if keys.get("features") and len(features) < n else None,
    )


def test_refs_install_refuses_a_file_that_does_not_fit_the_entry_unless_forced(isolated):
    small = _ours(isolated / "small.npz", 120)  # the newcomer's 120-image file, offered as TTUR's CIFAR-10
    done = run_cli("refs", "install", "fid_stats_cifar10_train", small)
    assert done.returncode == 2 and "does not fit fid_stats_cifar10_train" in done.stderr
    assert "written by inception-score" in done.stderr and "--force" in done.stderr
    assert "fid_stats_cifar10_train" not in references.read_pins()
    assert not references.installed_path(_entry("fid_stats_cifar10_train")).exists()
    done = run_cli("refs", "install", "fid_stats_cifar10_train", small, "--force")
    assert done.returncode == 0 and "installed despite: it was written by inception-score" in done.stderr
    assert references.read_pins()["fid_stats_cifar10_train"].sha256 in done.stdout

    narrow = isolated / "narrow.npz"
    np.savez(narrow, mu=np.zeros(16), sigma=np.eye(16))
    cases = [
        ("fid_stats_svhn_train", narrow, "its mu is 16-d; fid_stats_svhn_train's statistics are 2048-d"),
        ("cifar10-train", isolated / "t.npz", "it does not say how it was made"),
        ("cifar10-train", _ours(isolated / "n.npz", 120, features=True), "the statistics of 120 images; "),
        ("cifar10-train", _ours(isolated / "c.npz", 50_000, features=True), "FITS"),
        (
            "imagenet-val",
            _ours(isolated / "w.npz", 50_000, weights_sha256="cd" * 32, features=True),
            "made with other weights or another pipeline",
        ),
        ("imagenet-val", _ours(isolated / "f.npz", 50_000), "it has no per-image features"),
        ("VIRTUAL_imagenet128_labeled", _adm_batch(isolated / "b.npz", statistics=True), "its images are 64x64"),
    ]
    (isolated / "t.npz").write_bytes(_ttur_bytes(isolated))
    for name, file, message in cases:
        done = run_cli("refs", "install", name, file)
        if message == "FITS":  # a file of ours of the entry's protocol and count, with features
            assert done.returncode == 0, done.stderr
            continue
        assert done.returncode == 2 and message in done.stderr, (name, done.stderr)
    pickled = isolated / "dino.pkl"
    pickled.write_bytes(pickle.dumps(dict(fid=dict(mu=np.zeros(DIMS), sigma=np.eye(DIMS)))))
    done = run_cli("refs", "install", "edm2-img512", pickled)
    assert done.returncode == 2 and "expected a dict with 'fd_dinov2'" in done.stderr
    pickled.write_bytes(
        pickle.dumps(
            dict(fid=dict(mu=np.zeros(DIMS), sigma=np.eye(DIMS)), fd_dinov2=dict(mu=np.zeros(8), sigma=np.eye(8)))
        )
    )
    done = run_cli("refs", "install", "edm2-img512", pickled)
    assert done.returncode == 2 and "its fd_dinov2.mu is 8-d; edm2-img512's statistics are 1024-d" in done.stderr


def test_refs_install_says_the_hash_is_recorded_at_first_use_because_none_is_published(isolated):
    file = isolated / "t.npz"
    file.write_bytes(_ttur_bytes(isolated))
    done = run_cli("refs", "install", "fid_stats_lsun_train", file)
    assert done.returncode == 0 and "no publisher gives a sha256 for fid_stats_lsun_train" in done.stderr
    assert "recorded now (trust on first use" in done.stderr
    again = run_cli("refs", "install", "fid_stats_lsun_train", file)
    assert again.returncode == 0 and "no publisher" not in again.stderr and "recorded at first use" in again.stdout
    installed = references.installed_path(_entry("fid_stats_lsun_train"))
    same = run_cli("refs", "install", "fid_stats_lsun_train", installed)  # the installed file itself: verified
    assert same.returncode == 0 and installed.read_bytes() == file.read_bytes()


def test_refs_fetch_refuses_a_file_that_does_not_fit_before_pinning_it(server, isolated):
    server.bodies["ours.npz"] = _ours(isolated / "small.npz", 120).read_bytes()
    with pytest.raises(InceptionScoreError, match="does not fit fid_stats_celeba: it was written by inception-score"):
        references.fetch(_entry("fid_stats_celeba"), progress=False, urls=(f"{server.url}/files/ours.npz",))
    assert "fid_stats_celeba" not in references.read_pins()
    assert not references.installed_path(_entry("fid_stats_celeba")).exists()


# --- the cache's derived files are verified by content ----------------------------------------------


def test_a_converted_edm2_file_is_verified_and_rebuilt_from_the_pickle(isolated, ours):
    inception = _moments(9)
    file = isolated / "img64.pkl"
    file.write_bytes(pickle.dumps(dict(num_images=40, fid=dict(mu=inception.mean, sigma=inception.covariance))))
    assert run_cli("refs", "install", "edm2-img64", file).returncode == 0
    first = fid(ours, "edm2-img64")
    converted = references.resolve("edm2-img64").path
    other = _moments(10)
    np.savez(converted, mu=other.mean, sigma=other.covariance, derived_from="0" * 64, derived_sha256="0" * 64)
    assert fid(ours, "edm2-img64").fid == first.fid  # rebuilt from the verified pickle
    np.testing.assert_array_equal(np.load(converted)["mu"], inception.mean)
    with np.load(converted) as npz:
        forged = {key: npz[key] for key in npz.files}
    forged["mu"] = other.mean  # the recorded hashes kept, the arrays changed
    np.savez(converted, **forged)
    assert fid(ours, "edm2-img64").fid == first.fid
    converted.write_bytes(converted.read_bytes()[:100])  # damaged
    again = fid(ours, "edm2-img64")
    assert again.fid == first.fid and again.reference["sha256"] == first.reference["sha256"]
