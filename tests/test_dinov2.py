"""DINOv2: the published state-dict layout, strict loading, the network against a from-scratch numpy
reference on random weights, and the two preprocessing protocols against the peers' calls.

torch-fidelity 0.4's DINOv2 extractor cannot serve as the reference offline (it fetches the model
code with torch.hub), so the reference here is written out in float64 numpy: patch projection as a
matrix product, a loop over attention heads with an explicit softmax, and PyTorch's bicubic
convention for the positional embeddings (A = -0.75, source = (i + 0.5) / scale - 0.5, with the
scale factor the reference code passes, (grid + 0.1) / 37).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from extractor_recipes import (
    DINOV2_PUBLISHED,
    digest,
    dinov2_shapes,
    random_images,
    random_inputs,
    random_state_dict,
)

from inception_score.errors import InceptionScoreError
from inception_score.pipeline.networks import dinov2
from inception_score.pipeline.networks.dinov2 import (
    DinoV2Extractor,
    build_dinov2,
    load_dinov2,
    load_dinov2_state,
    preprocess,
)


def reference_bicubic_axis(size_in: int, size_out: int, scale: float) -> np.ndarray:
    """size_out x size_in interpolation matrix of PyTorch's bicubic (align_corners=False) given a scale factor."""
    a = -0.75

    def near(t):  # |t| <= 1
        return ((a + 2) * t - (a + 3)) * t * t + 1

    def far(t):  # 1 < |t| < 2
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a

    matrix = np.zeros((size_out, size_in))
    for out_index in range(size_out):
        source = (out_index + 0.5) / scale - 0.5
        left = math.floor(source)
        t = source - left
        for offset, weight in zip((-1, 0, 1, 2), (far(t + 1), near(t), near(1 - t), far(2 - t))):
            matrix[out_index, min(max(left + offset, 0), size_in - 1)] += weight
    return matrix


def reference_positions(pos_embed: np.ndarray, grid_h: int, grid_w: int) -> np.ndarray:
    dim = pos_embed.shape[-1]
    if grid_h == grid_w == 37:
        return pos_embed[0]
    table = pos_embed[0, 1:].reshape(37, 37, dim)
    rows = reference_bicubic_axis(37, grid_h, (grid_h + 0.1) / 37)
    cols = reference_bicubic_axis(37, grid_w, (grid_w + 0.1) / 37)
    table = np.einsum("ij,jkd->ikd", rows, table)
    table = np.einsum("lk,ikd->ild", cols, table)
    return np.concatenate([pos_embed[0, :1], table.reshape(grid_h * grid_w, dim)])


def layer_norm(x, weight, bias, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def reference_dinov2(state: dict, images: np.ndarray, heads: int, ffn: str) -> np.ndarray:
    """CLS features after the final norm, in float64, one image at a time."""
    p = {key: value.double().numpy() for key, value in state.items()}
    dim = p["cls_token"].shape[-1]
    depth = len({key.split(".")[1] for key in p if key.startswith("blocks.")})
    features = []
    for image in images.astype(np.float64):
        grid_h, grid_w = image.shape[1] // 14, image.shape[2] // 14
        patches = image.reshape(3, grid_h, 14, grid_w, 14).transpose(1, 3, 0, 2, 4).reshape(grid_h * grid_w, -1)
        tokens = patches @ p["patch_embed.proj.weight"].reshape(dim, -1).T + p["patch_embed.proj.bias"]
        x = np.concatenate([p["cls_token"][0], tokens]) + reference_positions(p["pos_embed"], grid_h, grid_w)
        for index in range(depth):
            b = f"blocks.{index}."
            h = layer_norm(x, p[b + "norm1.weight"], p[b + "norm1.bias"])
            qkv = h @ p[b + "attn.qkv.weight"].T + p[b + "attn.qkv.bias"]
            head_dim = dim // heads
            outputs = []
            for head in range(heads):
                q, k, v = (
                    qkv[:, part * dim + head * head_dim : part * dim + (head + 1) * head_dim] for part in range(3)
                )
                scores = q @ k.T / math.sqrt(head_dim)
                weights = np.exp(scores - scores.max(-1, keepdims=True))
                outputs.append((weights / weights.sum(-1, keepdims=True)) @ v)
            attended = np.concatenate(outputs, -1) @ p[b + "attn.proj.weight"].T + p[b + "attn.proj.bias"]
            x = x + p[b + "ls1.gamma"] * attended
            h = layer_norm(x, p[b + "norm2.weight"], p[b + "norm2.bias"])
            if ffn == "mlp":
                hidden = h @ p[b + "mlp.fc1.weight"].T + p[b + "mlp.fc1.bias"]
                hidden = 0.5 * hidden * (1 + torch.erf(torch.from_numpy(hidden / math.sqrt(2))).numpy())
                out = hidden @ p[b + "mlp.fc2.weight"].T + p[b + "mlp.fc2.bias"]
            else:
                gate, value = np.split(h @ p[b + "mlp.w12.weight"].T + p[b + "mlp.w12.bias"], 2, axis=-1)
                out = (gate / (1 + np.exp(-gate)) * value) @ p[b + "mlp.w3.weight"].T + p[b + "mlp.w3.bias"]
            x = x + p[b + "ls2.gamma"] * out
        features.append(layer_norm(x[0], p["norm.weight"], p["norm.bias"]))
    return np.stack(features)


@pytest.mark.parametrize("variant", sorted(DINOV2_PUBLISHED))
def test_layout_is_the_published_one(variant):
    model = build_dinov2(variant, device="meta")
    layout = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert layout == dinov2_shapes(variant)
    assert dinov2.WEIGHTS[variant].output_dim == DINOV2_PUBLISHED[variant][0]


def test_default_is_large_with_1024_features():
    assert dinov2.DEFAULT_VARIANT == "vitl14" and dinov2.DEFAULT_PROTOCOL == "edm2"
    weights = dinov2.WEIGHTS["vitl14"]
    assert weights.urls == ("https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",)
    assert weights.output_dim == 1024 and weights.input_size == 224 and weights.sha256 is None


@pytest.fixture(scope="module")
def small_state():
    return random_state_dict(dinov2_shapes("vits14"), seed=1401)


def test_strict_load_from_file(small_state, tmp_path):
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(small_state, path)
    model = load_dinov2(path, "vits14")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert torch.equal(model.pos_embed, small_state["pos_embed"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("mask_token"), "missing: mask_token"),
        (lambda s: s.update({"register_tokens": torch.zeros(1, 4, 384)}), "unexpected: register_tokens"),
        (lambda s: s.update({"pos_embed": torch.zeros(1, 257, 384)}), "wrong shape: pos_embed"),
    ],
)
def test_strict_load_names_what_is_wrong(small_state, change, message):
    state = dict(small_state)
    change(state)
    with pytest.raises(InceptionScoreError, match=message):
        load_dinov2_state(build_dinov2("vits14"), state)


def test_unreadable_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"not a state dict")
    with pytest.raises(InceptionScoreError, match="cannot read weights file"):
        load_dinov2(path, "vits14")


@pytest.mark.parametrize(
    "variant, depth, height, width, weights_seed",
    [
        ("vits14", None, 224, 224, 1401),  # the full small network at the protocol's input size
        ("vits14", 1, 518, 518, 1402),  # the trained 37 x 37 grid: no interpolation
        ("vitl14", 2, 112, 154, 1403),  # non-square grid 8 x 11
        ("vitg14", 1, 70, 70, 1404),  # SwiGLU
    ],
)
def test_network_matches_numpy_reference(variant, depth, height, width, weights_seed):
    state = random_state_dict(dinov2_shapes(variant, depth), seed=weights_seed)
    model = load_dinov2_state(build_dinov2(variant, depth=depth), state)
    images = random_inputs(weights_seed + 100, (2, 3, height, width))
    with torch.no_grad():
        ours = model(torch.from_numpy(images)).numpy()
    heads, ffn = dinov2.CONFIGS[variant].num_heads, DINOV2_PUBLISHED[variant][3]
    expected = reference_dinov2(state, images, heads, ffn)
    assert ours.shape == (2, DINOV2_PUBLISHED[variant][0])
    assert np.abs(ours - expected).max() < 1e-4
    assert np.abs(expected[0] - expected[1]).max() > 1e-2  # the two images are told apart


def test_positions_use_the_scale_factor_not_the_output_size(small_state):
    model = load_dinov2_state(
        build_dinov2("vits14", depth=1),
        {k: v for k, v in small_state.items() if not k.startswith("blocks.") or k.startswith("blocks.0.")},
    )
    ours = model.positional_embedding(16, 16).detach().numpy()[0]
    assert np.abs(ours - reference_positions(small_state["pos_embed"].double().numpy(), 16, 16)).max() < 1e-5
    table = small_state["pos_embed"][:, 1:].reshape(1, 37, 37, -1).permute(0, 3, 1, 2)
    by_size = torch.nn.functional.interpolate(table, size=(16, 16), mode="bicubic").permute(0, 2, 3, 1).reshape(256, -1)
    assert np.abs(ours[1:] - by_size.numpy()).max() > 1e-3  # the convention matters


def test_input_side_must_be_a_multiple_of_the_patch():
    with pytest.raises(InceptionScoreError, match="multiples of 14"):
        build_dinov2("vits14", depth=1)(torch.zeros(1, 3, 224, 220))


@pytest.fixture(scope="module")
def manifest(data):
    return json.loads((data / "extractors" / "manifest.json").read_text())


@pytest.mark.parametrize("protocol, tolerance", [("dgm-eval", 1e-5), ("edm2", 1e-4)])
def test_preprocessing_matches_the_peers_calls(manifest, data, protocol, tolerance):
    entries = [entry for entry in manifest["preprocessing"] if entry["protocol"] == protocol]
    assert len(entries) == 2
    for entry in entries:
        count, _, height, width = entry["images_shape"]
        images = random_images(entry["images_seed"], count, height, width)
        assert digest(images) == entry["images_sha256"]
        ours = preprocess(torch.from_numpy(images), protocol)
        assert ours.shape == (count, 3, 224, 224) and ours.dtype == torch.float32
        expected = np.load(data / "extractors" / entry["file"])
        stride = manifest["stride"]
        assert np.abs(ours[..., ::stride, ::stride].numpy() - expected).max() < tolerance


def test_protocols_differ_only_slightly():
    images = torch.from_numpy(random_images(7, 2, 300, 260))
    difference = (preprocess(images, "edm2") - preprocess(images, "dgm-eval")).abs()
    assert 0 < difference.mean() < 0.05  # "almost the same results" (EDM2's comment)


def test_extractor_checks_its_input_and_protocol():
    model = build_dinov2("vits14", depth=1)
    with pytest.raises(InceptionScoreError, match="unknown DINOv2 protocol"):
        DinoV2Extractor(model, "torch-fidelity")
    extractor = DinoV2Extractor(model)
    with pytest.raises(InceptionScoreError, match="expected uint8 images"):
        extractor(torch.zeros(1, 3, 32, 32))
    features = extractor(torch.zeros(3, 3, 40, 30, dtype=torch.uint8))
    assert features.shape == (3, 384) and features.dtype == torch.float32 and extractor.output_dim == 384
