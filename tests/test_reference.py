"""The whole pipeline against torch-fidelity 0.4.0's outputs for the same weights and images."""

import json

import numpy as np
import pytest

from inception_score import inception_score, inception_score_from_logits
from inception_score.pipeline.weights import sha256_file

SETS = ["a", "b", "mixed"]


def reference(data, name):
    path = data / ("reference_mixed.json" if name == "mixed" else "reference_ab.json")
    return json.loads(path.read_text())["sets"][name]


@pytest.mark.parametrize("name", SETS)
@pytest.mark.reference
def test_logits_and_pool3_match_reference(folder_features, data, name):
    features = folder_features(name)
    np.testing.assert_allclose(features.logits, np.load(data / f"reference_{name}_logits.npy"), rtol=0, atol=1e-3)
    np.testing.assert_allclose(features.features, np.load(data / f"reference_{name}_pool3.npy"), rtol=0, atol=1e-3)
    assert features.names == sorted(features.names)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("splits", [10, 5, 1])
@pytest.mark.parametrize("order, key", [("shuffled", "shuffled2020"), ("given", "inorder")])
@pytest.mark.reference
def test_inception_score_matches_reference(folder_features, data, name, splits, order, key):
    expected_mean, expected_std = reference(data, name)[f"is_splits{splits}_{key}"]
    result = inception_score_from_logits(folder_features(name).logits, splits=splits, order=order)
    assert result.mean == pytest.approx(expected_mean, rel=1e-5)
    assert result.std == pytest.approx(expected_std, abs=1e-4)


def test_api_on_folder_matches_reference_and_records_protocol(weights_path, data):
    result = inception_score(
        data / "images" / "mixed", splits=5, order="given", weights=weights_path, batch_size=7, progress=False
    )
    expected_mean, expected_std = reference(data, "mixed")["is_splits5_inorder"]
    assert result.mean == pytest.approx(expected_mean, rel=1e-5)
    assert result.std == pytest.approx(expected_std, abs=1e-4)
    assert (result.n, result.splits, result.order, result.seed) == (28, 5, "given", None)
    assert result.weights_sha256 == sha256_file(weights_path) and result.reference_weights is False
    assert any("not the reference" in w for w in result.warnings)
    assert any("28 images" in w for w in result.warnings)


def test_fifty_identical_images_score_one_through_the_pipeline(weights_path):
    image = np.random.RandomState(0).randint(0, 256, size=(1, 13, 9, 3), dtype=np.uint8)
    result = inception_score(np.repeat(image, 50, axis=0), weights=weights_path, progress=False)
    assert result.mean == pytest.approx(1.0, abs=1e-9) and result.std == pytest.approx(0.0, abs=1e-9)
    assert result.n == 50


@pytest.mark.reference
def test_array_layouts_and_pil_list_give_the_folder_numbers(folder_features, weights_path, data):
    from PIL import Image

    files = sorted((data / "images" / "a").glob("*.png"))[:12]
    pil_images = [Image.open(path) for path in files]
    array = np.stack([np.asarray(image.convert("RGB")) for image in pil_images])
    expected = inception_score_from_logits(folder_features("a").logits[:12], splits=2)
    import torch

    for source in (pil_images, files, array, torch.from_numpy(array.transpose(0, 3, 1, 2).copy())):
        result = inception_score(source, splits=2, weights=weights_path, progress=False)
        assert result.mean == pytest.approx(expected.mean, rel=1e-6)
