"""The vgg16 registry extractor: torch-fidelity's precision/recall network (torchvision's VGG-16 layout), compared
with torch-fidelity's own extractor on random weights in that layout (tests/data/reference_mixed_vgg16.npy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from inception_score.errors import InceptionScoreError
from inception_score.pipeline.extractors import REGISTRY, load_classifier
from inception_score.pipeline.networks import dinov2
from inception_score.pipeline.networks.vgg16 import VGG16Features, load_vgg16
from inception_score.pipeline.resize import resize_tf1
from inception_score.pipeline.weights import hub_dir, resolve_weights


def test_the_entry_is_torchvisions_file_as_torch_fidelity_runs_it():
    entry = REGISTRY["vgg16"]
    assert entry.outputs == ("features",)
    assert entry.weights.filename == "vgg16-397923af.pth" and entry.weights.sha256 == "397923af"
    assert entry.weights.urls == ("https://download.pytorch.org/models/vgg16-397923af.pth",)
    assert entry.weights.hub_filenames == ("vgg16-397923af.pth",)  # where torchvision and torch-fidelity leave it
    assert entry.weights.env_weights == "INCEPTION_SCORE_VGG16_WEIGHTS"
    assert (entry.contract.size, entry.contract.resize, entry.contract.normalize) == (224, "tf1-bilinear", "imagenet")


def test_the_input_is_torch_fidelitys():
    """TF1 bilinear resize to 224 of the 0..255 values, then (x - 255 mean) / (255 std), ImageNet's mean and std
    (torch-fidelity's torchvision.transforms.functional.normalize on the 0..255 scale)."""
    pixels = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 3, 37, 50))).float()
    mean = torch.tensor(dinov2.IMAGENET_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(dinov2.IMAGENET_STD).view(1, 3, 1, 1) * 255
    expected = (resize_tf1(pixels, 224) - mean) / std
    torch.testing.assert_close(REGISTRY["vgg16"].contract.prepare(pixels), expected, rtol=1e-6, atol=1e-5)


def test_the_layout_is_torchvisions_key_for_key():
    with torch.device("meta"):
        keys = {key: tuple(value.shape) for key, value in VGG16Features().state_dict().items()}
    convolutions = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    expected = {f"features.{index}.{kind}" for index in convolutions for kind in ("weight", "bias")}
    expected |= {f"classifier.{index}.{kind}" for index in (0, 3, 6) for kind in ("weight", "bias")}
    assert set(keys) == expected
    assert keys["features.0.weight"] == (64, 3, 3, 3) and keys["classifier.0.weight"] == (4096, 25088)
    assert keys["classifier.6.weight"] == (1000, 4096)


def test_a_file_of_another_layout_is_refused(tmp_path):
    path = tmp_path / "not-vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(InceptionScoreError, match=r"does not have torchvision's VGG-16 layout \(missing: "):
        load_vgg16(path)


def test_weights_are_found_where_torchvision_leaves_them(tmp_path, monkeypatch):
    spec = REGISTRY["vgg16"].weights
    with pytest.raises(InceptionScoreError, match="INCEPTION_SCORE_VGG16_WEIGHTS"):
        resolve_weights(None, download=False, spec=spec)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub_dir().mkdir(parents=True)
    (hub_dir() / "vgg16-397923af.pth").write_bytes(b"a torchvision download")
    assert resolve_weights(None, download=False, spec=spec) == hub_dir() / "vgg16-397923af.pth"


@pytest.mark.reference
def test_features_equal_torch_fidelitys(data, vgg16_path):
    """fc2_relu of images/mixed (28 images of odd sizes), one at a time, against torch-fidelity's extractor."""
    expected = np.load(data / "reference_mixed_vgg16.npy")
    classifier = load_classifier("vgg16", weights=vgg16_path, progress=False)
    rows = []
    with torch.inference_mode():
        for path in sorted((data / "images" / "mixed").iterdir()):
            pixels = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None].float()
            rows.append(classifier.module(classifier.contract.prepare(pixels))[1].numpy())
    got = np.concatenate(rows)
    assert got.shape == expected.shape == (28, 4096)
    scale = float(np.abs(expected).max())
    assert float(np.abs(got - expected).max()) <= 1e-4 * scale
