"""CLIP image tower (ViT-L/14@336px for CMMD, ViT-B/32 for FD_CLIP) in plain torch.

The module tree reproduces the `visual.*` part of OpenAI's published CLIP files (openai/CLIP
`model.py`: pre-LayerNorm ViT, QuickGELU, `nn.MultiheadAttention` parameter names, a class
token, `ln_post` and the `proj` matrix), so the image tower loads from them with a strict key
and shape check; the text tower's keys are ignored. The output is the projected image
embedding. Two preprocessing protocols (see `preprocess` and docs/feature-spaces.md): "cmmd"
(google-research/cmmd, L2-normalised embeddings) and "clean-fid" (clean-fid's FD_CLIP).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InceptionScoreError
from .common import (
    PublishedWeights,
    check_image_batch,
    load_strict,
    pil_bicubic_resize,
    read_state_dict,
)

Protocol = Literal["cmmd", "clean-fid"]
PROTOCOLS: tuple[str, ...] = ("cmmd", "clean-fid")
DEFAULT_VARIANT = "vit-l-14-336"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HEAD_DIM = 64  # OpenAI's ViTs use width // 64 heads
OPENAI_BASE_URL = "https://openaipublic.azureedge.net/clip/models"


@dataclass(frozen=True)
class ClipConfig:
    """One CLIP image tower: input side, patch, width, depth and the embedding (projection) size."""

    variant: str
    image_size: int
    patch_size: int
    width: int
    layers: int
    embed_dim: int
    default_protocol: Protocol

    @property
    def heads(self) -> int:
        return self.width // HEAD_DIM

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


CONFIGS: dict[str, ClipConfig] = {
    "vit-b-32": ClipConfig("vit-b-32", 224, 32, 768, 12, 512, "clean-fid"),
    "vit-l-14-336": ClipConfig("vit-l-14-336", 336, 14, 1024, 24, 768, "cmmd"),
}

WEIGHTS: dict[str, PublishedWeights] = {
    "vit-b-32": PublishedWeights(
        name="ViT-B-32.pt",
        urls=(f"{OPENAI_BASE_URL}/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",),
        sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        input_size=224,
        output_dim=512,
        notes="TorchScript archive of the whole CLIP model (float16 weights); only visual.* is used. "
        "The URL's second-last part is the file's sha256 (openai/CLIP checks it after download).",
    ),
    "vit-l-14-336": PublishedWeights(
        name="ViT-L-14-336px.pt",
        urls=(f"{OPENAI_BASE_URL}/3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt",),
        sha256="3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
        input_size=336,
        output_dim=768,
        notes="TorchScript archive of the whole CLIP model (float16 weights); only visual.* is used. "
        "CMMD's reference (scenic 'vit_l14_336px') converts this same file.",
    ),
}


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x): the activation OpenAI's CLIP was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class SelfAttention(nn.Module):
    """Multi-head self-attention with `nn.MultiheadAttention`'s parameter names and math."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.zeros(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.reshape(batch, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.out_proj(attended.transpose(1, 2).reshape(batch, tokens, width))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)); LayerNorm eps 1e-5."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = SelfAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict(
                [("c_fc", nn.Linear(width, 4 * width)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(4 * width, width))]
            )
        )
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """The stack of blocks, under the key `resblocks`."""

    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*(ResidualAttentionBlock(width, heads) for _ in range(layers)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    """CLIP's ViT: patches (no bias), class token, positions, ln_pre, blocks, ln_post on the class token, proj."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        width = config.width
        self.conv1 = nn.Conv2d(3, width, kernel_size=config.patch_size, stride=config.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(config.grid**2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, config.layers, config.heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, config.embed_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.conv1(images).flatten(2).transpose(1, 2)
        class_token = self.class_embedding.expand(tokens.shape[0], 1, -1)
        tokens = torch.cat((class_token, tokens), dim=1) + self.positional_embedding
        tokens = self.transformer(self.ln_pre(tokens))
        return self.ln_post(tokens[:, 0]) @ self.proj


class ClipImageTower(nn.Module):
    """CLIP's image encoder with the published `visual.*` keys; `forward` gives projected embeddings.

    Parameters
    ----------
    config : ClipConfig
        The architecture (see `CONFIGS`).
    """

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self.config = config
        self.visual = VisionTransformer(config)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Projected image embeddings N x embed_dim (not normalised) for normalised float images."""
        size = self.config.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, size, size):
            raise InceptionScoreError(f"expected images N x 3 x {size} x {size}, got {tuple(images.shape)}")
        return self.visual(images)


def build_clip(
    variant: str = DEFAULT_VARIANT, *, layers: int | None = None, device: torch.device | str | None = None
) -> ClipImageTower:
    """An uninitialised CLIP image tower (zeros), ready for `load_clip_state`.

    Parameters
    ----------
    variant : str
        One of `CONFIGS`: "vit-l-14-336" (CMMD) or "vit-b-32" (FD_CLIP).
    layers : int, optional
        Fewer blocks than the published depth, for tests; None keeps the published one.
    device : torch.device or str, optional
        "meta" builds the layout without memory (for key and shape checks).

    Returns
    -------
    ClipImageTower
    """
    if variant not in CONFIGS:
        raise InceptionScoreError(f"unknown CLIP variant {variant!r}; choose one of {', '.join(CONFIGS)}")
    config = CONFIGS[variant]
    if layers is not None:
        config = ClipConfig(
            config.variant,
            config.image_size,
            config.patch_size,
            config.width,
            layers,
            config.embed_dim,
            config.default_protocol,
        )
    with torch.device(device or "cpu"):
        return ClipImageTower(config)


def load_clip(weights: str | Path, variant: str = DEFAULT_VARIANT) -> ClipImageTower:
    """Build `variant` and load the image tower from OpenAI's published file strictly; eval, no gradients.

    Parameters
    ----------
    weights : str or Path
        OpenAI's TorchScript `.pt` (see `WEIGHTS`) or a state dict file with the same keys;
        float16 weights are cast to float32.
    variant : str
        The architecture the file holds.

    Returns
    -------
    ClipImageTower
    """
    state = read_state_dict(weights, expected_file=WEIGHTS[variant].name)
    return load_clip_state(build_clip(variant), state, source=f"weights file {weights}")


def load_clip_state(
    model: ClipImageTower, state: dict[str, torch.Tensor], *, source: str = "the state dict"
) -> ClipImageTower:
    """Load the `visual.*` entries of a CLIP state dict strictly (every key, every shape); others are ignored."""
    visual = {key: value for key, value in state.items() if key.startswith("visual.")}
    variant = model.config.variant
    return load_strict(
        model,
        visual,
        source=source,
        layout=f"the CLIP {variant} image tower layout",
        expected_file=WEIGHTS[variant].name,
    )


def crop_box(height: int, width: int, size: int, protocol: Protocol) -> tuple[int, int, int, int, int]:
    """Where a protocol crops an H x W image: (resize_height, resize_width, top, left, side).

    "cmmd" crops first: no resize before the crop (the original size is returned), a centred
    square of the shorter side with floor offsets; the crop is then resized to `size`.
    "clean-fid" resizes first: torchvision `Resize(size)` (shorter side to `size`, the other
    int(size * long / short)), then `CenterCrop(size)` with offsets int(round((extent - size) / 2)).
    """
    if protocol == "cmmd":
        side = min(height, width)
        return height, width, (height - side) // 2, (width - side) // 2, side
    if height <= width:
        resize_height, resize_width = size, int(size * width / height)
    else:
        resize_height, resize_width = int(size * height / width), size
    top = round((resize_height - size) / 2.0)
    left = round((resize_width - size) / 2.0)
    return resize_height, resize_width, top, left, size


def preprocess(images: torch.Tensor, protocol: Protocol, image_size: int) -> torch.Tensor:
    """uint8 RGB images N x 3 x H x W to CLIP's input, N x 3 x S x S float32 (S = `image_size`).

    Parameters
    ----------
    images : torch.Tensor
        uint8, N x 3 x H x W, values 0..255.
    protocol : {"cmmd", "clean-fid"}
        "cmmd": centre crop to a square of the shorter side (offsets floor((H - s) / 2),
        floor((W - s) / 2)), then PIL bicubic (antialiased) resize to S, 8-bit result.
        "clean-fid": PIL bicubic resize of the shorter side to S (longer side int(S * long / short)),
        then a centre crop of S (offsets rounded), 8-bit result.
        Both then scale to [0, 1] and normalise with CLIP's mean and std.
    image_size : int
        The network's input side (`ClipConfig.image_size`).

    Returns
    -------
    torch.Tensor
        float32, N x 3 x S x S, on the device of `images`.
    """
    check_image_batch(images)
    if protocol not in PROTOCOLS:
        raise InceptionScoreError(f"unknown CLIP protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    height, width = images.shape[-2:]
    resize_height, resize_width, top, left, side = crop_box(height, width, image_size, protocol)
    if protocol == "cmmd":
        cropped = images[..., top : top + side, left : left + side]
        resized = pil_bicubic_resize(cropped, (image_size, image_size))
    else:
        resized = pil_bicubic_resize(images, (resize_height, resize_width))[..., top : top + side, left : left + side]
    mean = torch.tensor(CLIP_MEAN, device=images.device).reshape(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=images.device).reshape(1, 3, 1, 1)
    return (resized.float() / 255 - mean) / std


class ClipExtractor(nn.Module):
    """uint8 images in, CLIP embeddings out: `preprocess`, the image tower, and for "cmmd" L2 normalisation.

    Parameters
    ----------
    model : ClipImageTower
        A loaded image tower (`load_clip`).
    protocol : {"cmmd", "clean-fid"}, optional
        Default: the variant's own ("cmmd" for ViT-L/14@336px, "clean-fid" for ViT-B/32).
    """

    def __init__(self, model: ClipImageTower, protocol: Protocol | None = None) -> None:
        super().__init__()
        protocol = protocol or model.config.default_protocol
        if protocol not in PROTOCOLS:
            raise InceptionScoreError(f"unknown CLIP protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        self.model = model
        self.protocol = protocol

    @property
    def output_dim(self) -> int:
        return self.model.config.embed_dim

    @property
    def unit_norm(self) -> bool:
        """True when embeddings are L2-normalised, as CMMD's reference has them (scenic `normalize=True`)."""
        return self.protocol == "cmmd"

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Embeddings N x embed_dim (float32) for uint8 images N x 3 x H x W (moved to the network's device)."""
        images = images.to(self.model.visual.proj.device)
        embeddings = self.model(preprocess(images, self.protocol, self.model.config.image_size)).float()
        return F.normalize(embeddings, dim=-1) if self.unit_norm else embeddings
