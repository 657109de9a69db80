"""The HTML report: written by the CLI and the API, self-contained, and checked in real headless Chromium."""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from headless_chromium import find_chromium, visit

from inception_score import InceptionScoreError, ISResult, evaluate, inception_score
from inception_score.cli import main
from inception_score.errors import InceptionScoreWarning
from inception_score.maths.frechet import MomentAccumulator
from inception_score.maths.inception import log_probabilities_from_logits
from inception_score.metrics import Evaluation
from inception_score.metrics.frechet import fid_from_features
from inception_score.metrics.inception import inception_score_from_log_probabilities
from inception_score.metrics.kernel import kernel_inception_distance
from inception_score.pipeline.extract import PIPELINE_VERSION
from inception_score.pipeline.statistics import write_statistics
from inception_score.pipeline.weights import sha256_file
from inception_score.report import render_report, save_report

pytest.importorskip("matplotlib", reason="the report needs the optional extra: pip install 'inception-score[report]'")

ROOT = Path(__file__).parent.parent
DOCS_SCREENSHOT = ROOT / "docs" / "report.png"
UPDATE_DOCS = "UPDATE_REPORT_SCREENSHOT"  # set to 1 to refresh docs/report.png from the browser test
NO_CHROMIUM = (
    "Chromium not found: install Debian's chromium (apt-get install chromium) to open the report in a real browser"
)


@pytest.fixture(scope="module")
def cli_report(tmp_path_factory, weights_path, data):
    """`score mixed --fid b.npz --kid b.npz --report report.html --json`: one real run.

    Runs in a scratch folder holding a link to the fixture folder `mixed` and statistics (with
    features) of fixture folder b made from its reference pool3, so the page shows short names.
    """
    folder = tmp_path_factory.mktemp("cli-report")
    (folder / "mixed").symlink_to(data / "images" / "mixed", target_is_directory=True)
    features = np.load(data / "reference_b_pool3.npy")
    accumulator = MomentAccumulator()
    accumulator.update(features)
    write_statistics(
        folder / "b.npz",
        accumulator.moments(),
        weights_sha256=sha256_file(weights_path),
        pipeline_version=PIPELINE_VERSION,
        features=features,
    )
    command = [
        sys.executable,
        "-m",
        "inception_score",
        "score",
        "mixed",
        "--weights",
        str(weights_path),
        "--report",
        "report.html",
        "--bootstrap",
        "200",
        "--json",
        "--quiet",
        "--device",
        "cpu",
        "--fid",
        "b.npz",
        "--kid",
        "b.npz",
        "--kid-subsets",
        "10",
        "--kid-subset-size",
        "20",
    ]
    environment = dict(os.environ)
    if environment.get("PYTHONPATH"):  # absolute, since the command runs elsewhere
        environment["PYTHONPATH"] = os.pathsep.join(
            str(Path(entry).resolve()) for entry in environment["PYTHONPATH"].split(os.pathsep) if entry
        )
    run = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600, cwd=folder)
    assert run.returncode == 0, run.stderr
    return folder / "report.html", json.loads(run.stdout), run.stderr


def test_cli_writes_the_report_and_says_so(cli_report):
    report, result, stderr = cli_report
    assert report.is_file()
    assert result["n"] == 28 and result["bootstrap_resamples"] == 200
    assert result["fid"]["n_b"] == 120 and result["kid"]["subsets"] == 10
    assert "KID with 10 subsets of 20" in stderr
    assert "report written to report.html" in stderr
    assert "inception-score: warning: only 28 images" in stderr
    assert "not the reference 2015 Inception weights" in stderr
    assert "InceptionScoreWarning" not in stderr  # our own lines only, not Python's warning format


def test_report_is_one_file_that_requests_nothing(cli_report):
    page = cli_report[0].read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script" not in page and "url(" not in page and "<link" not in page
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert sources and all(source.startswith("data:image/") for source in sources)
    assert page.count("<figure") == 8 + 8 + min(8, cli_report[1]["distinct_top1_classes"])
    assert "Classes are shown by their index" in page  # no licensed names for the 2015 classes


@pytest.mark.browser
def test_report_opens_in_headless_chromium_without_errors_and_shows_the_result(cli_report, tmp_path):
    executable = find_chromium()
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    report, result, _ = cli_report
    page = visit(executable, report)
    assert page.failed_requests == []
    assert page.console_errors == []
    assert page.requests[0] == report.resolve().as_uri()
    assert all(url.startswith("data:") for url in page.requests[1:])
    shown = {item["metric"]: item for item in page.metrics}
    expected = {
        "mean": (result["mean"], 4),
        "one_split_score": (result["one_split_score"], 4),
        "effective_classes_covered": (result["effective_classes_covered"], 2),
        "effective_classes_per_image": (result["effective_classes_per_image"], 2),
    }
    for metric, (value, digits) in expected.items():
        assert float(shown[metric]["value"]) == value  # the exact float, through repr and JSON
        assert shown[metric]["text"] == f"{value:.{digits}f}"
    assert shown["std"]["text"].startswith(f"± {result['std']:.4f}")
    assert int(shown["distinct_top1_classes"]["text"]) == result["distinct_top1_classes"]
    assert shown["top10_share"]["text"] == f"{100 * result['top10_share']:.1f}%"
    assert int(shown["n"]["text"]) == result["n"]
    assert float(shown["fid"]["value"]) == result["fid"]["fid"]
    assert shown["fid"]["text"] == f"{result['fid']['fid']:.4f}"
    assert float(shown["kid"]["value"]) == result["kid"]["mean"]
    assert shown["kid"]["text"] == f"{result['kid']['mean']:.5f}"
    assert float(shown["kid_std"]["value"]) == result["kid"]["std"]
    low, high = result["one_split_interval"]
    assert (float(shown["one_split_interval"]["low"]), float(shown["one_split_interval"]["high"])) == (low, high)
    assert page.screenshot.startswith(b"\x89PNG") and page.height > 2000
    (tmp_path / "report.png").write_bytes(page.screenshot)
    if os.environ.get(UPDATE_DOCS) == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        DOCS_SCREENSHOT.write_bytes(page.screenshot)


@pytest.mark.browser
def test_the_browser_check_catches_requests_and_errors(tmp_path):
    executable = find_chromium()
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    page_file = tmp_path / "leaky.html"
    page_file.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/missing.png">'
        '<script>console.error("boom")</script></body></html>'
    )
    page = visit(executable, page_file)
    assert any(url.startswith("http://127.0.0.1:9/") for url in page.requests)
    assert page.failed_requests
    assert any("boom" in message for message in page.console_errors)


@pytest.fixture(scope="module")
def mixed_result(data):
    """The fixture folder's result from its reference logits, with the names a folder source gives its files."""
    log_probs = log_probabilities_from_logits(np.load(data / "reference_mixed_logits.npy"))
    result = inception_score_from_log_probabilities(log_probs, splits=2)
    names = [str(path) for path in sorted((data / "images" / "mixed").iterdir())]
    return dataclasses.replace(result, details=dataclasses.replace(result.details, names=names))


def test_api_save_report_decodes_odd_images_for_thumbnails(mixed_result, data, tmp_path):
    path = save_report(mixed_result, tmp_path / "mixed.html", source=data / "images" / "mixed")
    page = path.read_text(encoding="utf-8")
    assert path == tmp_path / "mixed.html"
    assert page.count("<figure") == 16 + min(8, mixed_result.distinct_top1_classes)
    assert [p.name for p in tmp_path.iterdir()] == ["mixed.html"]  # no temporary file left behind


def test_api_report_for_an_array_scored_through_the_network(weights_path, tmp_path):
    images = np.random.RandomState(0).randint(0, 256, size=(3, 40, 30, 3), dtype=np.uint8)
    with pytest.warns(InceptionScoreWarning):
        result = inception_score(images, splits=1, weights=weights_path, progress=False, device="cpu")
    assert result.details.names == ["index 0", "index 1", "index 2"]
    page = save_report(result, tmp_path / "array.html", source=images).read_text(encoding="utf-8")
    assert page.count("<figure") == 3 + 3 + result.distinct_top1_classes
    assert "array (3, 40, 30, 3)" in page


def test_report_refuses_a_source_that_was_not_scored(mixed_result, data, tmp_path):
    with pytest.raises(InceptionScoreError, match="has 120 images but the result scored 28"):
        save_report(mixed_result, tmp_path / "r.html", source=data / "images" / "a")
    reordered = sorted((data / "images" / "mixed").iterdir(), reverse=True)
    with pytest.raises(InceptionScoreError, match="does not match the result"):
        save_report(mixed_result, tmp_path / "r.html", source=reordered)
    assert not list(tmp_path.iterdir())


def test_report_shows_fid_and_kid_given_as_numbers(mixed_result):
    page = render_report(mixed_result, fid=12.5, kid=(0.0125, 0.0025), compared_with="images/b")
    assert 'data-metric="fid" data-value="12.5"' in page and ">12.5000<" in page
    assert 'data-metric="kid" data-value="0.0125"' in page and "± 0.00250" in page
    assert "against images/b" in page
    assert "No thumbnails" in page


def test_evaluation_report_carries_fid_kid_and_their_warnings(mixed_result, data, tmp_path):
    pool3 = {name: np.load(data / f"reference_{name}_pool3.npy") for name in ("mixed", "b")}
    fid = dataclasses.replace(
        fid_from_features(pool3["mixed"], pool3["b"]),
        b="statistics b.npz",
        warnings=["FID from 28 vs 120 images: small"],
    )
    kid = dataclasses.replace(
        kernel_inception_distance(pool3["mixed"], pool3["b"], subsets=5, subset_size=10), b="statistics b.npz"
    )
    evaluation = Evaluation(inception_score=mixed_result, fid=fid, kid=kid)
    page = save_report(evaluation, tmp_path / "e.html", source=data / "images" / "mixed").read_text(encoding="utf-8")
    assert f'data-metric="fid" data-value="{fid.fid!r}"' in page and "28 vs 120 images" in page
    assert f'data-metric="kid" data-value="{kid.mean!r}"' in page and "5 subsets of 10" in page
    assert "against statistics b.npz" in page and "FID from 28 vs 120 images: small" in page
    alone = save_report(Evaluation(fid=fid), tmp_path / "f.html").read_text(encoding="utf-8")  # no IS: no IS sections
    assert f'data-metric="fid" data-value="{fid.fid!r}"' in alone and "Score per split" not in alone


def test_report_labels_classes_with_given_names(mixed_result, data, tmp_path, capsys):
    names = [f"thing {i}" for i in range(1008)]
    page = render_report(mixed_result, source=data / "images" / "mixed", class_names=names)
    most_confident = int(np.argmax(mixed_result.details.max_probability))
    label = (
        f"thing {mixed_result.details.top1_class[most_confident]} (#{mixed_result.details.top1_class[most_confident]})"
    )
    assert label in page
    assert "Classes are shown by their index" not in page
    with pytest.raises(InceptionScoreError, match="3 class names given for 1008 classes"):
        render_report(mixed_result, class_names=names[:3])
    assert main(["score", str(data / "images" / "mixed"), "--class-names", str(tmp_path / "none.txt")]) == 2
    assert "none.txt: cannot read class names" in capsys.readouterr().err


def test_report_needs_per_image_details_and_an_existing_folder(mixed_result, tmp_path):
    bare = ISResult(
        mean=2.0,
        std=0.0,
        split_scores=[2.0],
        n=2,
        splits=1,
        order="given",
        seed=None,
        marginal_entropy=float(np.log(2)),
        mean_conditional_entropy=0.0,
    )
    with pytest.raises(InceptionScoreError, match="no per-image details"):
        render_report(bare)
    with pytest.raises(InceptionScoreError, match="does not exist"):
        save_report(mixed_result, tmp_path / "missing" / "r.html")


def test_cli_says_how_to_install_matplotlib_before_scoring(monkeypatch, capsys, data, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were not installed
    code = main(
        [
            "score",
            str(data / "images" / "mixed"),
            "--report",
            str(tmp_path / "r.html"),
            "--weights",
            str(tmp_path / "never-read.pth"),
        ]
    )
    assert code == 2
    assert "pip install 'inception-score[report]'" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_report_of_a_custom_classifier_names_it_and_its_classes(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    digits_like = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 10))
    images = np.random.RandomState(1).randint(0, 256, size=(30, 8, 8, 3), dtype=np.uint8)
    result = inception_score(
        images, classifier=digits_like, input_size=8, normalize="0-1", splits=3, progress=False, device="cpu"
    )
    assert result.num_classes == 10 and not any("50,000" in w for w in result.warnings)
    page = save_report(
        result, tmp_path / "digits.html", source=images, class_names=[f"digit {d}" for d in range(10)]
    ).read_text(encoding="utf-8")
    assert "<th>Classifier</th>" in page and "input 3x8x8" in page
    assert "NOT the reference 2015 weights" not in page
    assert "digit " in page and "Classes are shown by their index" not in page


@pytest.fixture(scope="module")
def full_evaluation(weights_path, data, tmp_path_factory):
    """`evaluate --report` with every Inception metric and Vendi and MIND, on 16 images of a against 16 of b."""
    folder = tmp_path_factory.mktemp("every-metric")
    for name in "ab":
        (folder / name).mkdir()
        for image in sorted((data / "images" / name).glob("*.png"))[:16]:
            (folder / name / image.name).write_bytes(image.read_bytes())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "inception_score",
            "evaluate",
            "a",
            "--ref",
            "b",
            "--metrics",
            "is,fid,sfid,kid,pr,dc,inf,vendi,mind",
            "--kid-subset-size",
            "8",
            "--kid-subsets",
            "4",
            "--splits",
            "2",
            "--weights",
            str(weights_path),
            "--report",
            "report.html",
            "--json",
            "--quiet",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
            ),
        },
    )
    assert done.returncode == 0, done.stderr
    return folder / "report.html", json.loads(done.stdout)


def test_the_report_shows_every_metric_computed_and_embeds_the_whole_evaluation(full_evaluation):
    report, printed = full_evaluation
    page = report.read_text(encoding="utf-8")
    for key in (
        "fid",
        "sfid",
        "kid",
        "precision",
        "recall",
        "f_score",
        "density",
        "coverage",
        "inception_score_infinity",
        "frechet_inception_distance_infinity",
        "vendi_score",
        "mind",
    ):
        assert f'data-metric="{key}"' in page, key
    shown = {key: float(value) for key, value in re.findall(r'data-metric="(\w+)" data-value="([^"]+)"', page)}
    assert (
        shown["sfid"] == printed["spatial_frechet_inception_distance"]
        and shown["mind"] == printed["monge_inception_distance"]
    )
    assert shown["coverage"] == printed["coverage"] and shown["vendi_score"] == printed["vendi_score"]
    assert page.count('<tr data-result="') == 8 and "IS-infinity and FID-infinity" in page
    embedded = json.loads(html.unescape(re.search(r"<pre data-json>(.*?)</pre>", page, flags=re.S).group(1)))
    assert (
        embedded["mean"] == printed["inception_score_mean"]
        and embedded["mind"]["mind"] == printed["monge_inception_distance"]
    )
    assert set(embedded) >= {"fid", "sfid", "kid", "manifold", "infinity", "vendi", "mind"}


def test_a_report_without_the_inception_score(weights_path, data, tmp_path):
    folder = data / "images"
    evaluation = evaluate(
        folder / "a", reference=folder / "b", metrics=("fid", "vendi"), weights=weights_path, progress=False
    )
    page = save_report(evaluation, tmp_path / "no-is.html").read_text(encoding="utf-8")
    assert 'data-metric="fid"' in page and 'data-metric="vendi_score"' in page and "Evaluation report" in page
    assert 'data-metric="mean" data-value' not in page


@pytest.mark.browser
def test_the_every_metric_report_opens_in_headless_chromium(full_evaluation):
    executable = find_chromium()
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    report, printed = full_evaluation
    page = visit(executable, report)
    assert page.failed_requests == [] and page.console_errors == []
    shown = {item["metric"]: item for item in page.metrics}
    assert float(shown["density"]["value"]) == printed["density"]
    assert shown["vendi_score"]["text"] == f"{printed['vendi_score']:.2f}"
    assert (
        float(shown["frechet_inception_distance_infinity"]["value"]) == printed["frechet_inception_distance_infinity"]
    )
