"""One engine under every front: custom classifiers give FID/KID from their own features, options are one
object, and the IS maths keep memory bounded without changing a number."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import run_cli
from PIL import Image

from inception_score import InceptionScoreError, Options, evaluate, fid, inception_score, inception_score_from_logits
from inception_score.maths import inception as inception_maths


class ChannelMeans(torch.nn.Module):
    """Logits: a fixed linear map of the pixels; features: the mean of each colour channel (hand-computable)."""

    input_contract = {"input_size": 32, "resize": "none", "normalize": "0-255", "channels": 3}

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.from_numpy(hand_weight()), requires_grad=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = x.mean(dim=(2, 3))
        return features @ self.weight, features


class LogitsOnly(ChannelMeans):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.mean(dim=(2, 3)) @ self.weight


def hand_weight() -> np.ndarray:
    return np.random.RandomState(0).standard_normal((3, 6)).astype(np.float32) / 20


def hand_features(folder) -> np.ndarray:
    """Channel means of each image in sorted file order, float64, straight from PIL."""
    return np.stack(
        [np.asarray(Image.open(path).convert("RGB"), np.float64).mean(axis=(0, 1)) for path in sorted(folder.iterdir())]
    )


def hand_fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2); the trace of the root from the eigenvalues of S_a S_b."""
    mu_a, mu_b = features_a.mean(axis=0), features_b.mean(axis=0)
    sigma_a, sigma_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    root_trace = np.sum(np.sqrt(np.clip(np.linalg.eigvals(sigma_a @ sigma_b).real, 0, None)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b) - 2 * root_trace)


@pytest.fixture(scope="module")
def torchscript_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("classifier") / "channel-means.pt"
    torch.jit.save(torch.jit.script(ChannelMeans()), str(path))
    return path


def test_fid_command_with_a_torchscript_classifier_matches_a_hand_computation(torchscript_file, data):
    a, b = data / "images" / "a", data / "images" / "b"
    done = run_cli(
        "fid",
        a,
        b,
        "--classifier",
        torchscript_file,
        "--input-size",
        32,
        "--resize",
        "none",
        "--normalize",
        "0-255",
        "--json",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["fid"] == pytest.approx(hand_fid(hand_features(a), hand_features(b)), rel=1e-4)
    assert "torchscript" in printed["pipeline_version"] and printed["n_a"] == printed["n_b"] == 120


def test_evaluate_with_a_module_gives_is_fid_and_kid_from_its_own_outputs(data):
    a, b = data / "images" / "a", data / "images" / "b"
    evaluation = evaluate(
        a, reference=b, classifier=ChannelMeans(), kid_subsets=5, kid_subset_size=50, progress=False, splits=4
    )
    features_a, features_b = hand_features(a), hand_features(b)
    assert evaluation.fid is not None and evaluation.kid is not None and evaluation.inception_score is not None
    assert evaluation.fid.fid == pytest.approx(hand_fid(features_a, features_b), rel=1e-4)
    expected = inception_score_from_logits(features_a @ hand_weight().astype(np.float64), splits=4)
    assert evaluation.inception_score.mean == pytest.approx(expected.mean, rel=1e-5)
    assert evaluation.inception_score.classifier["name"] == "python"
    assert evaluation.kid.n_a == 120 and np.isfinite(evaluation.kid.mean)


def test_a_classifier_without_features_is_refused_for_fid_before_any_image_is_read(data):
    with pytest.raises(InceptionScoreError, match="gives logits but not features: FID and KID need feature vectors"):
        fid(data / "images" / "a", data / "images" / "b", classifier=LogitsOnly(), progress=False)


def test_a_module_may_declare_the_order_of_its_outputs(data):
    class FeaturesFirst(ChannelMeans):
        outputs = ("features", "logits")

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits, features = super().forward(x)
            return features, logits

    first = fid(data / "images" / "a", data / "images" / "b", classifier=FeaturesFirst(), progress=False)
    second = fid(data / "images" / "a", data / "images" / "b", classifier=ChannelMeans(), progress=False)
    assert first.fid == second.fid


def test_options_object_and_keywords_are_the_same_call(data, weights_path):
    folder = data / "images" / "mixed"
    by_keywords = inception_score(folder, splits=2, weights=weights_path, batch_size=5, progress=False)
    by_object = inception_score(folder, splits=2, options=Options(weights=weights_path, batch_size=5, progress=False))
    assert by_keywords.split_scores == by_object.split_scores


def test_a_misspelt_option_is_an_error_not_ignored(data):
    with pytest.raises(InceptionScoreError, match="unknown option bach_size; the options are"):
        inception_score(data / "images" / "mixed", bach_size=4)


@pytest.mark.unit
def test_split_scores_in_blocks_equal_the_whole_array_formula(monkeypatch):
    """More rows than one block: the bounded-memory path against the textbook formula on all N x C at once."""
    monkeypatch.setattr(inception_maths, "ROWS_PER_BLOCK", 256)
    logits = (np.random.RandomState(3).standard_normal((2000, 40)) * 3).astype(np.float32)
    result = inception_score_from_logits(logits, splits=7, order="given")
    log_probs = logits.astype(np.float64) - np.log(np.exp(logits.astype(np.float64)).sum(axis=1, keepdims=True))
    probs = np.exp(log_probs)
    expected = []
    for i in range(7):
        rows = slice(i * 2000 // 7, (i + 1) * 2000 // 7)
        marginal = probs[rows].mean(axis=0)
        expected.append(np.exp(np.mean(np.sum(probs[rows] * (log_probs[rows] - np.log(marginal)), axis=1))))
    np.testing.assert_allclose(result.split_scores, expected, rtol=1e-12)
    marginal = probs.mean(axis=0)
    assert result.marginal_entropy == pytest.approx(-np.sum(marginal * np.log(marginal)), rel=1e-12)
    assert result.mean_conditional_entropy == pytest.approx(-np.mean(np.sum(probs * log_probs, axis=1)), rel=1e-12)
    assert result.distinct_top1_classes == np.unique(probs.argmax(axis=1)).size
