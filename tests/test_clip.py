"""CLIP image tower: OpenAI's published layout, strict loading (state dict and TorchScript archive),
the network against torch-fidelity 0.4's CLIP tower on random weights, and the CMMD and clean-fid
preprocessing against the peers' calls (tests/data/make_extractor_references.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from extractor_recipes import (
    CLIP_PUBLISHED,
    clip_shapes,
    digest,
    random_images,
    random_inputs,
    random_state_dict,
)
from torch import nn

from inception_score.errors import InceptionScoreError
from inception_score.pipeline.networks import clip
from inception_score.pipeline.networks.clip import (
    ClipExtractor,
    build_clip,
    load_clip,
    load_clip_state,
    preprocess,
)
from inception_score.pipeline.networks.common import is_torchscript_archive, read_state_dict


@pytest.fixture(scope="module")
def manifest(data):
    return json.loads((data / "extractors" / "manifest.json").read_text())


@pytest.mark.parametrize("variant", sorted(CLIP_PUBLISHED))
def test_layout_is_the_published_one(variant):
    model = build_clip(variant, device="meta")
    layout = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert layout == clip_shapes(variant)


def test_published_weights_name_their_sha256_in_the_url():
    for variant, weights in clip.WEIGHTS.items():
        side, _, _, _, embed = CLIP_PUBLISHED[variant]
        assert weights.urls[0].split("/")[-2] == weights.sha256 and len(weights.sha256) == 64
        assert weights.urls[0].endswith("/" + weights.name)
        assert (weights.input_size, weights.output_dim) == (side, embed)
    assert clip.DEFAULT_VARIANT == "vit-l-14-336"


@pytest.mark.parametrize("case", range(2))
def test_network_matches_torch_fidelity(manifest, data, case):
    entry = manifest["clip"][case]
    variant, blocks = entry["variant"], entry["blocks"]
    layers = None if blocks == CLIP_PUBLISHED[variant][3] else blocks
    state = random_state_dict(clip_shapes(variant, layers), entry["weights_seed"], fp16_exact=True)
    model = load_clip_state(build_clip(variant, layers=layers), state)
    inputs = random_inputs(entry["input_seed"], tuple(entry["input_shape"]))
    assert digest(inputs) == entry["input_sha256"]
    with torch.no_grad():
        ours = model(torch.from_numpy(inputs)).numpy()
    expected = np.load(data / "extractors" / entry["file"])
    assert ours.shape == expected.shape == (inputs.shape[0], CLIP_PUBLISHED[variant][4])
    assert np.abs(ours - expected).max() < 1e-4


class _PublishedLikeClip(nn.Module):
    """A stand-in for OpenAI's archive: our visual tower plus text-side entries the loader must ignore."""

    def __init__(self, visual: nn.Module) -> None:
        super().__init__()
        self.visual = visual
        self.text_projection = nn.Parameter(torch.ones(4, 4))
        self.logit_scale = nn.Parameter(torch.tensor(4.6))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.visual(images) * self.logit_scale


@pytest.mark.filterwarnings("ignore:`torch.jit.trace:DeprecationWarning")
def test_loads_a_torchscript_archive_with_float16_weights(tmp_path):
    state = random_state_dict(clip_shapes("vit-b-32", 1), seed=5, fp16_exact=True)
    source = load_clip_state(build_clip("vit-b-32", layers=1), state)
    published_like = _PublishedLikeClip(source.visual).half()
    archive = tmp_path / "ViT-B-32.pt"
    torch.jit.trace(published_like.float(), torch.zeros(1, 3, 224, 224)).half().save(str(archive))
    assert is_torchscript_archive(archive)
    loaded = load_clip_state(build_clip("vit-b-32", layers=1), read_state_dict(archive, expected_file="ViT-B-32.pt"))
    assert loaded.visual.proj.dtype == torch.float32
    assert torch.equal(loaded.visual.proj, state["visual.proj"])


def test_strict_load_from_a_state_dict_file(tmp_path):
    state = random_state_dict(clip_shapes("vit-b-32"), seed=6, fp16_exact=True)
    path = tmp_path / "clip-visual.pth"
    torch.save({key: value.half() for key, value in state.items()}, path)
    model = load_clip(path, "vit-b-32")
    assert not model.training and torch.equal(model.visual.class_embedding, state["visual.class_embedding"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("visual.proj"), "missing: visual.proj"),
        (lambda s: s.update({"visual.attnpool.c_proj.bias": torch.zeros(3)}), "unexpected: visual.attnpool"),
        (lambda s: s.update({"visual.positional_embedding": torch.zeros(257, 768)}), "wrong shape: visual.positional"),
    ],
)
def test_strict_load_names_what_is_wrong(change, message):
    state = random_state_dict(clip_shapes("vit-b-32", 1), seed=7)
    change(state)
    with pytest.raises(InceptionScoreError, match=message):
        load_clip_state(build_clip("vit-b-32", layers=1), state)


def test_text_tower_entries_are_ignored():
    state = random_state_dict(clip_shapes("vit-b-32", 1), seed=8)
    state.update({"text_projection": torch.zeros(512, 512), "ln_final.weight": torch.zeros(512)})
    load_clip_state(build_clip("vit-b-32", layers=1), state)


@pytest.mark.parametrize("protocol", ["cmmd", "clean-fid"])
def test_preprocessing_matches_the_peers_calls(manifest, data, protocol):
    size = 336 if protocol == "cmmd" else 224
    entries = [entry for entry in manifest["preprocessing"] if entry["protocol"] == protocol]
    assert len(entries) == 2
    for entry in entries:
        count, _, height, width = entry["images_shape"]
        images = random_images(entry["images_seed"], count, height, width)
        assert digest(images) == entry["images_sha256"]
        ours = preprocess(torch.from_numpy(images), protocol, size)
        assert ours.shape == (count, 3, size, size)
        expected = np.load(data / "extractors" / entry["file"])
        stride = manifest["stride"]
        assert np.abs(ours[..., ::stride, ::stride].numpy() - expected).max() < 1e-5


@pytest.mark.parametrize(
    "height, width, expected",
    [
        (300, 260, (300, 260, 20, 0, 260)),  # cmmd: centred square of the shorter side, floor offsets
        (41, 64, (41, 64, 0, 11, 41)),
    ],
)
def test_cmmd_crop_box(height, width, expected):
    assert clip.crop_box(height, width, 336, "cmmd") == expected


@pytest.mark.parametrize(
    "height, width, expected",
    [
        (40, 64, (224, 358, 0, 67, 224)),  # shorter side to 224, other int(224 * 64 / 40); round((358 - 224) / 2)
        (225, 224, (225, 224, 0, 0, 224)),  # round(0.5) = 0 (Python rounds half to even, as torchvision does)
    ],
)
def test_clean_fid_crop_box(height, width, expected):
    assert clip.crop_box(height, width, 224, "clean-fid") == expected


def test_extractor_default_protocols_and_unit_norm():
    large = build_clip("vit-l-14-336", layers=1)
    state = random_state_dict(clip_shapes("vit-l-14-336", 1), seed=9)
    large = load_clip_state(large, state)
    cmmd_extractor = ClipExtractor(large)
    assert cmmd_extractor.protocol == "cmmd" and cmmd_extractor.unit_norm
    images = torch.from_numpy(random_images(3, 2, 50, 60))
    embeddings = cmmd_extractor(images)
    assert embeddings.shape == (2, 768)
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(2), atol=1e-6)
    small = ClipExtractor(build_clip("vit-b-32", layers=1))
    assert small.protocol == "clean-fid" and not small.unit_norm and small.output_dim == 512


def test_wrong_input_is_refused():
    model = build_clip("vit-b-32", layers=1)
    with pytest.raises(InceptionScoreError, match="expected images N x 3 x 224 x 224"):
        model(torch.zeros(1, 3, 336, 336))
    with pytest.raises(InceptionScoreError, match="unknown CLIP protocol"):
        ClipExtractor(model, "openai")
    with pytest.raises(InceptionScoreError, match="expected uint8 images"):
        ClipExtractor(model)(torch.zeros(1, 4, 224, 224, dtype=torch.uint8))
