"""DINOv2 and CLIP as registry extractors end to end: FD_DINOv2, FD_CLIP, CMMD, names, refusals.

Random weights in the published layouts (extractor_recipes), written once per session; the
fixture images cut to a few per side so the full-depth ViT-S/14 and ViT-B/32 stay fast on CPU.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from extractor_recipes import clip_shapes, dinov2_shapes, random_images, random_state_dict
from helpers import run_cli
from torch import nn

import inception_score as score
from inception_score.errors import InceptionScoreError
from inception_score.maths.cmmd import cmmd
from inception_score.maths.frechet import frechet_of_moments, moments_of
from inception_score.pipeline.extractors import REGISTRY, load_classifier
from inception_score.pipeline.networks import clip, dinov2
from inception_score.pipeline.weights import install_weights, resolve_weights

IMAGES_PER_SIDE = 6


@pytest.fixture(scope="session")
def folders(tmp_path_factory, data) -> dict[str, Path]:
    """A few fixture images per side (32 x 32 PNGs of folders a and b)."""
    root = tmp_path_factory.mktemp("spaces")
    for name in ("a", "b"):
        (root / name).mkdir()
        for image in sorted((data / "images" / name).iterdir())[:IMAGES_PER_SIDE]:
            shutil.copy(image, root / name / image.name)
    return {"a": root / "a", "b": root / "b"}


@pytest.fixture(scope="session")
def dinov2_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dinov2") / "dinov2_vits14_pretrain.pth"
    torch.save(random_state_dict(dinov2_shapes("vits14"), seed=1701), path)
    return path


@pytest.fixture(scope="session")
def clip_file(tmp_path_factory) -> Path:
    """OpenAI's layout with float16 values, as the published file holds them (a plain state dict here)."""
    path = tmp_path_factory.mktemp("clip") / "ViT-B-32.pt"
    state = random_state_dict(clip_shapes("vit-b-32"), seed=1702, fp16_exact=True)
    torch.save({key: value.half() for key, value in state.items()}, path)
    return path


def uint8_images(folder: Path) -> torch.Tensor:
    from PIL import Image

    arrays = [np.asarray(Image.open(path).convert("RGB")) for path in sorted(folder.iterdir())]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


# --- the registry entries ------------------------------------------------------------------------


def test_registry_entries_are_feature_networks_with_their_published_files():
    for name in ("dinov2-vits14", "dinov2-vitb14", "dinov2-vitl14", "dinov2-vitg14", "dinov2-vitl14-dgm-eval"):
        entry = REGISTRY[name]
        assert entry.outputs == ("features",)
        assert entry.weights.sha256 is None  # Meta publishes none
        assert entry.weights.urls[0].startswith("https://dl.fbaipublicfiles.com/dinov2/")
        assert entry.contract.size == 224 and entry.contract.normalize == "imagenet"
    assert REGISTRY["dinov2-vitl14"].weights.env_weights == "INCEPTION_SCORE_DINOV2_VITL14_WEIGHTS"
    assert REGISTRY["dinov2-vitl14"].contract.resize == "bicubic-antialias"  # EDM2's, the default
    assert REGISTRY["dinov2-vitl14-dgm-eval"].contract.resize == "pil-bicubic"
    for name, variant in (("clip-vit-l-14-336", "vit-l-14-336"), ("clip-vit-b-32", "vit-b-32")):
        entry = REGISTRY[name]
        assert entry.outputs == ("features",)
        assert entry.weights.sha256 == clip.WEIGHTS[variant].sha256
        assert entry.weights.sha256 in entry.weights.urls[0]  # OpenAI's URL carries the sha256
    assert REGISTRY["clip-vit-l-14-336"].contract.size == 336
    assert REGISTRY["clip-vit-l-14-336"].weights.env_weights == "INCEPTION_SCORE_CLIP_VIT_L_14_336_WEIGHTS"


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("dinov2-vitl14", lambda images: dinov2.preprocess(images, "edm2")),
        ("dinov2-vitl14-dgm-eval", lambda images: dinov2.preprocess(images, "dgm-eval")),
        ("clip-vit-l-14-336", lambda images: clip.preprocess(images, "cmmd", 336)),
        ("clip-vit-b-32", lambda images: clip.preprocess(images, "clean-fid", 224)),
    ],
)
@pytest.mark.parametrize(("height", "width"), [(37, 50), (64, 48), (224, 224)])
def test_contract_is_the_network_modules_own_preprocessing(name, reference, height, width):
    images = torch.from_numpy(random_images(17, 3, height, width))
    prepared = REGISTRY[name].contract.prepare(images.float())
    torch.testing.assert_close(prepared, reference(images), rtol=0, atol=0)


def test_cache_keys_name_the_protocol(dinov2_file):
    keys = {REGISTRY[name].contract.describe() for name in ("dinov2-vitl14", "dinov2-vitl14-dgm-eval", "clip-vit-b-32")}
    assert len(keys) == 3
    classifier = load_classifier("dinov2-vits14", weights=dinov2_file, progress=False)
    assert classifier.cache_key is not None and "bicubic-antialias" in classifier.cache_key
    assert classifier.outputs == ("features",)


def test_weights_are_resolved_like_the_inception_weights(dinov2_file, monkeypatch, private_cache):
    spec = REGISTRY["dinov2-vits14"].weights
    with pytest.raises(InceptionScoreError) as missing:
        resolve_weights(None, download=False, spec=spec)
    assert spec.urls[0] in str(missing.value) and "INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS" in str(missing.value)
    monkeypatch.setenv("INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS", str(dinov2_file))
    assert resolve_weights(None, download=False, spec=spec) == dinov2_file
    monkeypatch.delenv("INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS")
    known = tuple(dict.fromkeys(entry.weights for entry in REGISTRY.values()))
    installed = install_weights(dinov2_file, known)  # no published checksum: known by its file name
    assert installed == private_cache / "dinov2_vits14_pretrain.pth"
    assert resolve_weights(None, download=False, spec=spec) == installed


def test_weights_commands_know_the_new_files(dinov2_file, private_cache):
    path = run_cli("weights", "path", "--classifier", "dinov2-vitl14")
    assert path.returncode == 0
    assert "dinov2_vitl14_pretrain.pth (not installed yet" in path.stdout
    assert "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/" in path.stdout
    installed = run_cli("weights", "install", dinov2_file)
    assert installed.returncode == 0, installed.stderr
    assert run_cli("weights", "path", "--classifier", "dinov2-vits14").stdout.strip().endswith("(from cache)")


# --- FD_DINOv2 and FD_CLIP ---------------------------------------------------------------------


@pytest.mark.reference
def test_fd_dinov2_from_the_api_is_the_frechet_distance_of_the_modules_features(folders, dinov2_file):
    result = score.fid(folders["a"], folders["b"], classifier="dinov2-vits14", weights=dinov2_file, progress=False)
    extractor = dinov2.DinoV2Extractor(dinov2.load_dinov2(dinov2_file, "vits14"), "edm2")
    a, b = (extractor(uint8_images(folders[side])).double().numpy() for side in ("a", "b"))
    assert result.fid == pytest.approx(frechet_of_moments(moments_of(a), moments_of(b)), rel=1e-5)
    assert result.feature_space == "dinov2-vits14" and result.name == "FD_DINOv2"
    assert result.summary().startswith("FD_DINOv2 = ")


def test_fd_dinov2_from_the_cli_with_the_environment_variable(folders, dinov2_file, monkeypatch):
    monkeypatch.setenv("INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS", str(dinov2_file))
    done = run_cli("fid", folders["a"], folders["b"], "--classifier", "dinov2-vits14", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("FD_DINOv2 = ")


@pytest.mark.reference
def test_kid_precision_recall_density_coverage_in_dinov2_space_say_so(folders, dinov2_file):
    from inception_score.maths.kernel import kid_subset_values
    from inception_score.maths.neighbours import manifold_metrics

    evaluation = score.evaluate(
        folders["a"],
        reference=folders["b"],
        metrics=("fid", "kid", "pr", "dc"),
        classifier="dinov2-vits14",
        weights=dinov2_file,
        kid_subsets=4,
        kid_subset_size=3,
        progress=False,
    )
    extractor = dinov2.DinoV2Extractor(dinov2.load_dinov2(dinov2_file, "vits14"), "edm2")
    a, b = (extractor(uint8_images(folders[side])).numpy() for side in ("a", "b"))
    kid, manifold = evaluation.kid, evaluation.manifold
    assert kid is not None and manifold is not None
    expected = kid_subset_values(a, b, subsets=4, subset_size=3, seed=2020)
    assert kid.mean == pytest.approx(float(np.mean(expected)), rel=1e-4)
    found = manifold_metrics(b, a)
    assert manifold.precision == found.precision_recall.precision and manifold.recall == found.precision_recall.recall
    assert manifold.coverage == found.density_coverage.coverage
    flat = evaluation.metrics_dict()
    assert {
        "fd_dinov2",
        "kd_dinov2_mean",
        "kd_dinov2_std",
        "precision_dinov2",
        "recall_dinov2",
        "f_score_dinov2",
    } <= set(flat)
    assert {"density_dinov2", "coverage_dinov2"} <= set(flat)
    assert not {"frechet_inception_distance", "kernel_inception_distance_mean", "precision", "density"} & set(flat)
    assert kid.name == "KD_DINOv2" and manifold.feature_space == "dinov2-vits14"
    lines = evaluation.summary().splitlines()
    assert lines[0].startswith("FD_DINOv2 = ") and any(line.startswith("KD_DINOv2 = ") for line in lines)
    assert any("precision = " in line and "(DINOv2 features, 6 vs 6 images)" in line for line in lines)


def test_inception_score_is_refused_for_a_feature_network(folders, dinov2_file):
    with pytest.raises(InceptionScoreError, match="needs class logits"):
        score.inception_score(folders["a"], splits=2, classifier="dinov2-vits14", weights=dinov2_file)


# --- CMMD ------------------------------------------------------------------------------------


@pytest.mark.reference
def test_cmmd_from_the_api_equals_the_maths_on_the_modules_features(folders, clip_file):
    evaluation = score.evaluate(
        folders["a"],
        reference=folders["b"],
        metrics=("cmmd", "fid"),
        classifier="clip-vit-b-32",
        weights=clip_file,
        progress=False,
    )
    extractor = clip.ClipExtractor(clip.load_clip(clip_file, "vit-b-32"))  # clean-fid, not normalised
    a, b = (extractor(uint8_images(folders[side])).numpy() for side in ("a", "b"))
    assert evaluation.cmmd is not None and evaluation.fid is not None
    assert evaluation.cmmd.value == pytest.approx(cmmd(a, b), rel=1e-5, abs=1e-9)
    assert (evaluation.cmmd.estimator, evaluation.cmmd.sigma, evaluation.cmmd.scale) == ("min-variance", 10.0, 1000.0)
    assert (evaluation.cmmd.n_a, evaluation.cmmd.n_b) == (IMAGES_PER_SIDE, IMAGES_PER_SIDE)
    assert evaluation.cmmd.feature_space == "clip-vit-b-32"
    assert any("published CMMDs use clip-vit-l-14-336" in note for note in evaluation.cmmd.warnings)
    flat = evaluation.metrics_dict()
    assert flat["cmmd"] == evaluation.cmmd.value and flat["fd_clip"] == evaluation.fid.fid
    assert "frechet_inception_distance" not in flat and flat["details"]["cmmd"]["feature_space"] == "clip-vit-b-32"


def test_cmmd_of_a_set_with_itself_is_zero(folders, clip_file):
    evaluation = score.evaluate(
        folders["a"], reference=folders["a"], metrics="cmmd", classifier="clip-vit-b-32", weights=clip_file
    )
    assert evaluation.cmmd is not None and abs(evaluation.cmmd.value) < 1e-9


def test_cmmd_from_the_cli_as_json(folders, clip_file):
    done = run_cli(
        "evaluate",
        folders["a"],
        "--ref",
        folders["b"],
        "--metrics",
        "cmmd",
        "--classifier",
        "clip-vit-b-32",
        "--weights",
        clip_file,
        "--json",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"cmmd", "protocol", "details"} and document["cmmd"] > 0
    assert document["details"]["cmmd"]["estimator"] == "min-variance"


class EmbeddingModule(nn.Module):
    """A custom module with no class logits worth the name: two constant logits, its pooled pixels as features."""

    input_contract = {"input_size": 16, "normalize": "0-1"}
    outputs = ("logits", "features")

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.nn.functional.adaptive_avg_pool2d(batch, 2).flatten(1)
        return torch.zeros(batch.shape[0], 2), features


def test_cmmd_on_a_custom_modules_features(folders):
    module = EmbeddingModule()
    evaluation = score.evaluate(folders["a"], reference=folders["b"], metrics=("cmmd",), classifier=module)
    classifier = load_classifier(module)
    with torch.inference_mode():
        a, b = (classifier.module(classifier.contract.prepare(uint8_images(folders[s]).float()))[1] for s in "ab")
    assert evaluation.cmmd is not None and evaluation.cmmd.feature_space == "python"
    assert evaluation.cmmd.value == pytest.approx(cmmd(a.numpy(), b.numpy()), rel=1e-6)


# --- names and refusals ------------------------------------------------------------------------


def test_statistics_record_their_extractor_and_mixing_spaces_is_refused(folders, dinov2_file, tmp_path):
    stats = tmp_path / "dinov2.npz"
    score.save_statistics(folders["a"], stats, classifier="dinov2-vits14", weights=dinov2_file, progress=False)
    from inception_score.pipeline.statistics import read_statistics

    assert read_statistics(stats).extractor == "dinov2-vits14"
    # the default extractor is the 2015 network: refused before any weights are looked for or images read
    with pytest.raises(InceptionScoreError, match="dinov2-vits14 feature space .* inception-2015 space"):
        score.fid(folders["b"], stats)
    refused = run_cli("fid", folders["b"], stats, "--classifier", "clip-vit-b-32")
    assert refused.returncode != 0 and "distances between different feature spaces are meaningless" in refused.stderr
    # two files of the same space compare without an extractor, under the space's name
    other = tmp_path / "dinov2-b.npz"
    score.save_statistics(folders["b"], other, classifier="dinov2-vits14", weights=dinov2_file, progress=False)
    between = score.fid(other, stats)
    assert between.feature_space == "dinov2-vits14" and between.name == "FD_DINOv2"
    assert score.evaluate(other, reference=stats, metrics="fid").metrics_dict()["fd_dinov2"] == between.fid


def test_inception_results_keep_their_names():
    from inception_score.metrics import CMMDResult, Evaluation, FIDResult, Provenance
    from inception_score.metrics.base import feature_family

    assert feature_family("inception-2015") == feature_family("torchvision") == "inception"
    assert feature_family("python") is None and feature_family(None) is None
    plain = Evaluation(fid=FIDResult(1.0, 5, 5, provenance=Provenance(feature_space="inception-2015")))
    assert "frechet_inception_distance" in plain.metrics_dict() and plain.fid is not None
    assert plain.fid.summary().startswith("FID = ")
    assert Evaluation(cmmd=CMMDResult(0.5, "min-variance", 10.0, 1000.0, 3, 3)).metrics_dict()["cmmd"] == 0.5


def test_mixing_spaces_is_refused_before_anything_is_read(folders, tmp_path):
    from inception_score.pipeline.extract import PIPELINE_VERSION
    from inception_score.pipeline.statistics import write_statistics

    features = np.random.RandomState(3).standard_normal((8, 4))
    stats = tmp_path / "clip.npz"
    write_statistics(
        stats,
        moments_of(features),
        weights_sha256="0" * 64,
        pipeline_version=f"{PIPELINE_VERSION}; extractor clip-vit-b-32 sha256:{'0' * 64}",
        features=features,
    )
    for classifier in (None, "torchvision", "dinov2-vits14", EmbeddingModule()):
        with pytest.raises(InceptionScoreError, match="clip-vit-b-32 .*space.*meaningless"):
            score.evaluate(folders["a"], reference=stats, metrics=("fid", "cmmd"), classifier=classifier)


# --- several extractors in one call ------------------------------------------------------------


def test_which_extractor_serves_each_metric():
    from inception_score.engine.plan import Request, check_extractors, extractor_of
    from inception_score.metrics import metric_named
    from inception_score.options import Options

    plain = Request({"fid": frozenset()})
    chosen = Request({"fid": frozenset()}, extractors=check_extractors({"fd_dinov2": "dinov2-vits14"}))
    cases = [
        ("fid", plain, None, None),
        ("fd_dinov2", plain, None, "dinov2-vitl14"),
        ("fd_dinov2", plain, "dinov2-vitl14-dgm-eval", None),  # already DINOv2 features: the same pass
        ("fd_dinov2", chosen, None, "dinov2-vits14"),
        ("fd_clip", plain, "clip-vit-l-14-336", None),
        ("cmmd", plain, None, "clip-vit-l-14-336"),
        ("cmmd", plain, "torchvision", None),  # a classifier given: CMMD on its features
    ]
    for name, request, classifier, expected in cases:
        found = extractor_of(metric_named(name)[0], request, Options(classifier=classifier))
        assert found == expected, (name, classifier)
    with pytest.raises(InceptionScoreError, match="fd_dinov2 is computed on dinov2 features"):
        check_extractors({"fd_dinov2": "clip-vit-b-32"})


@pytest.mark.reference  # two networks over the images twice: 11 s on two CPU cores
def test_an_iterator_serves_every_extractor_in_its_one_read(folders, weights_path, clip_file, monkeypatch):
    monkeypatch.setenv("INCEPTION_SCORE_CLIP_VIT_B_32_WEIGHTS", str(clip_file))
    batches = iter([uint8_images(folders["a"]).permute(0, 2, 3, 1).numpy()])  # read once: one pass serves both
    options = dict(reference=folders["b"], metrics=("fid", "fd_clip"), weights=weights_path, progress=False)
    streamed, files = score.evaluate(batches, **options), score.evaluate(folders["a"], **options)
    assert streamed.fid is not None and files.fid is not None and streamed.fd_clip is not None
    assert files.fd_clip is not None and streamed.fd_clip.n_a == IMAGES_PER_SIDE
    assert streamed.fid.fid == pytest.approx(files.fid.fid, rel=1e-9)
    assert streamed.fd_clip.fid == pytest.approx(files.fd_clip.fid, rel=1e-9)
    assert streamed.fd_clip.feature_space == "clip-vit-b-32" and streamed.fid.feature_space == "inception-2015"


def test_one_weights_file_for_two_other_extractors_is_refused(folders, clip_file):
    with pytest.raises(InceptionScoreError, match="weights .* names one file"):
        score.evaluate(folders["a"], reference=folders["b"], metrics=("fd_clip", "fd_dinov2"), weights=clip_file)


@pytest.mark.reference  # three networks over the images: over 5 s on two CPU cores
def test_inception_metrics_fd_dinov2_and_cmmd_in_one_call(folders, weights_path, dinov2_file, clip_file, monkeypatch):
    monkeypatch.setenv("INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS", str(dinov2_file))
    monkeypatch.setenv("INCEPTION_SCORE_CLIP_VIT_B_32_WEIGHTS", str(clip_file))
    evaluation = score.evaluate(
        folders["a"],
        reference=folders["b"],
        metrics=("is", "fid", "fd_dinov2", "cmmd"),
        extractors={"fd_dinov2": "dinov2-vits14", "cmmd": "clip-vit-b-32"},
        splits=2,
        weights=weights_path,
        progress=False,
    )
    assert evaluation.inception_score is not None and evaluation.fid is not None
    assert evaluation.fid.feature_space == "inception-2015" and evaluation.fid.name == "FID"
    alone = score.fid(folders["a"], folders["b"], weights=weights_path, progress=False)
    assert evaluation.fid.fid == alone.fid
    dino = score.fid(folders["a"], folders["b"], classifier="dinov2-vits14", progress=False)
    assert evaluation.fd_dinov2 is not None and evaluation.fd_dinov2.fid == dino.fid
    cmmd_alone = score.evaluate(folders["a"], reference=folders["b"], metrics="cmmd", classifier="clip-vit-b-32")
    assert evaluation.cmmd is not None and cmmd_alone.cmmd is not None
    assert evaluation.cmmd.value == cmmd_alone.cmmd.value and evaluation.cmmd.feature_space == "clip-vit-b-32"
    flat = evaluation.metrics_dict()
    assert {"inception_score_mean", "frechet_inception_distance", "fd_dinov2", "cmmd"} <= set(flat)
    assert set(flat["details"]) >= {"fid", "fd_dinov2", "cmmd"}


@pytest.mark.reference
def test_the_cli_chooses_extractors_per_metric(folders, dinov2_file, clip_file, monkeypatch):
    monkeypatch.setenv("INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS", str(dinov2_file))
    monkeypatch.setenv("INCEPTION_SCORE_CLIP_VIT_B_32_WEIGHTS", str(clip_file))
    chosen = ("--extractor", "fd_dinov2=dinov2-vits14", "--extractor", "cmmd=clip-vit-b-32")
    done = run_cli("evaluate", folders["a"], "--ref", folders["b"], "--metrics", "fd_dinov2,cmmd", *chosen, "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["details"]["fd_dinov2"]["feature_space"] == "dinov2-vits14"
    assert got["details"]["cmmd"]["feature_space"] == "clip-vit-b-32" and got["cmmd"] >= 0


@pytest.mark.reference  # two networks, statistics of each
def test_each_feature_space_gets_its_own_statistics_file_with_ref_for(
    folders, weights_path, dinov2_file, monkeypatch, tmp_path
):
    monkeypatch.setenv("INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS", str(dinov2_file))
    inception, dino = tmp_path / "b.npz", tmp_path / "b-dinov2.npz"
    score.save_statistics(folders["b"], inception, weights=weights_path, progress=False)
    score.save_statistics(folders["b"], dino, classifier="dinov2-vits14", progress=False)
    chosen = ("--metrics", "fid,fd_dinov2", "--extractor", "fd_dinov2=dinov2-vits14", "--weights", weights_path)
    done = run_cli("evaluate", folders["a"], "--ref", inception, "--ref-for", f"fd_dinov2={dino}", *chosen, "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    alone = score.fid(folders["a"], inception, weights=weights_path, progress=False)
    dino_alone = score.fid(folders["a"], dino, classifier="dinov2-vits14", progress=False)
    assert got["frechet_inception_distance"] == pytest.approx(alone.fid, rel=1e-9)
    assert got["fd_dinov2"] == pytest.approx(dino_alone.fid, rel=1e-9)
    assert got["details"]["fd_dinov2"]["b"].endswith("b-dinov2.npz")
    mixed = run_cli("evaluate", folders["a"], "--ref", inception, *chosen)  # one file for two spaces: refused
    assert mixed.returncode == 2 and "--ref-for METRIC=REF" in mixed.stderr and "Traceback" not in mixed.stderr


@pytest.mark.reference  # two networks over the images
def test_stats_writes_other_feature_spaces_from_the_same_pass(
    folders, weights_path, dinov2_file, monkeypatch, tmp_path
):
    from inception_score.pipeline.statistics import read_statistics

    monkeypatch.setenv("INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS", str(dinov2_file))
    main, dino = tmp_path / "b.npz", tmp_path / "b-dinov2.npz"
    also = ("--also", f"dinov2-vits14={dino}")
    done = run_cli("stats", folders["b"], "-o", main, *also, "--weights", weights_path, "--max-features", 4, "--quiet")
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.splitlines()[1]
        == f"wrote {dino} (dinov2-vits14): 6 images, mu 384, sigma 384 x 384, features 4 x 384"
    )
    alone_main, alone_dino = tmp_path / "alone.npz", tmp_path / "alone-dinov2.npz"
    score.save_statistics(folders["b"], alone_main, weights=weights_path, max_features=4, progress=False)
    score.save_statistics(folders["b"], alone_dino, classifier="dinov2-vits14", max_features=4, progress=False)
    for together, alone in ((main, alone_main), (dino, alone_dino)):
        with np.load(together) as got, np.load(alone) as expected:
            assert sorted(got.files) == sorted(expected.files)
            for key in got.files:
                np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert read_statistics(dino).extractor == "dinov2-vits14" and read_statistics(main).extractor == "inception-2015"
    # a one-shot iterator: both files from its single read
    batches = iter([uint8_images(folders["b"]).permute(0, 2, 3, 1).numpy()])
    streamed = tmp_path / "streamed-dinov2.npz"
    score.save_statistics(batches, tmp_path / "streamed.npz", also={"dinov2-vits14": streamed}, weights=weights_path)
    np.testing.assert_allclose(read_statistics(streamed).mu, read_statistics(alone_dino).mu, rtol=1e-6)


def test_stats_refuses_a_bad_also(folders, tmp_path):
    for bad, message in (
        ("dinov2-vits14", "--also takes NAME=FILE"),
        ("nothing=x.npz", "also (--also) maps a registry extractor"),
        ("inception-2015=x.npz", "names inception-2015, the extractor the main file is computed with"),
        (f"dinov2-vits14={tmp_path / 'out.npz'}", "writes two feature spaces to the same file"),
    ):
        refused = run_cli("stats", folders["b"], "-o", tmp_path / "out.npz", "--also", bad)
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr, bad
    assert not (tmp_path / "out.npz").exists()


def test_the_cli_refuses_a_bad_extractor_choice(folders):
    for bad, message in (
        ("fd_dinov2", "--extractor takes METRIC=NAME"),
        ("fd_dinov2=clip-vit-b-32", "fd_dinov2 is computed on dinov2 features"),
        ("fd_dinov2=dinov2-vitz99", "extractors maps a metric to a registry extractor name"),
        ("lpips=dinov2-vits14", "'lpips' is not a metric"),
    ):
        refused = run_cli("evaluate", folders["a"], "--ref", folders["b"], "--metrics", "fd_dinov2", "--extractor", bad)
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr, bad
    for bad, message in (("fd_dinov2", "--ref-for takes METRIC=REF"), ("is=x.npz", "names a metric with a reference")):
        refused = run_cli("evaluate", folders["a"], "--ref", folders["b"], "--metrics", "fd_dinov2", "--ref-for", bad)
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr, bad


@pytest.mark.report
def test_the_report_shows_the_other_spaces_distances(folders, weights_path, clip_file, monkeypatch, tmp_path):
    monkeypatch.setenv("INCEPTION_SCORE_CLIP_VIT_B_32_WEIGHTS", str(clip_file))
    report = tmp_path / "report.html"
    chosen = ("--metrics", "is,fd_clip,cmmd", "--extractor", "cmmd=clip-vit-b-32", "--splits", "2")
    done = run_cli(
        "evaluate", folders["a"], "--ref", folders["b"], *chosen, "--weights", weights_path, "--report", report
    )
    assert done.returncode == 0, done.stderr
    page = report.read_text()
    assert 'data-metric="fd_clip"' in page and '<div class="label">FD_CLIP</div>' in page
    assert 'data-metric="cmmd"' in page and "maximum mean discrepancy of clip-vit-b-32 embeddings" in page
    assert "Fréchet distance of clip-vit-b-32 features" in page


@pytest.mark.distributed
def test_two_ranks_give_fd_dinov2_and_fd_clip_like_one_process(folders, dinov2_file, clip_file, monkeypatch):
    from test_distributed import torchrun

    monkeypatch.setenv("INCEPTION_SCORE_CLIP_VIT_B_32_WEIGHTS", str(clip_file))
    args = ["--metrics", "fd_dinov2,fd_clip,cmmd", "--extractor", "cmmd=clip-vit-b-32", "--classifier", "dinov2-vits14"]
    args += ["--weights", dinov2_file, "--json"]  # DINOv2 and CLIP in one pass; FD_CLIP and CMMD share CLIP
    done = torchrun(2, "-m", "inception_score", "evaluate", folders["a"], "--ref", folders["b"], *args, "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    alone = score.evaluate(
        folders["a"],
        reference=folders["b"],
        metrics=("fd_dinov2", "fd_clip", "cmmd"),
        extractors={"cmmd": "clip-vit-b-32"},
        classifier="dinov2-vits14",
        weights=dinov2_file,
        progress=False,
    )
    assert alone.fd_dinov2 is not None and alone.fd_clip is not None and alone.cmmd is not None
    assert got["cmmd"] == pytest.approx(alone.cmmd.value, rel=1e-5)
    assert got["fd_dinov2"] == pytest.approx(alone.fd_dinov2.fid, rel=1e-5)
    assert got["fd_clip"] == pytest.approx(alone.fd_clip.fid, rel=1e-5)
    assert got["details"]["fd_clip"]["world_size"] == 2
