"""DINOv2 ViT (S/14, B/14, L/14, g/14) in plain torch: the feature space of FD_DINOv2.

The module tree reproduces the state-dict layout of Meta's published `dinov2_vit*14_pretrain.pth`
files (facebookresearch/dinov2, hub models: no registers, layer scale, no block chunks), so
they load with a strict key and shape check. The feature is the CLS token after the final
LayerNorm. Two preprocessing protocols are offered (see `preprocess` and docs/feature-spaces.md):
"edm2" (the default, NVlabs/edm2's FD_DINOv2 detector) and "dgm-eval" (layer6ai-labs/dgm-eval,
identical to EDM2's slow `resize_mode='pil'`).
"""

from __future__ import annotations

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

Protocol = Literal["edm2", "dgm-eval"]
PROTOCOLS: tuple[str, ...] = ("edm2", "dgm-eval")
DEFAULT_PROTOCOL: Protocol = "edm2"
DEFAULT_VARIANT = "vitl14"
INPUT_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The reference interpolates positional embeddings with scale factors (grid + 0.1) / trained grid.
POS_EMBED_OFFSET = 0.1


@dataclass(frozen=True)
class DinoV2Config:
    """One DINOv2 architecture as Meta's hub builds it (patch 14, trained at 518 px: a 37 x 37 grid)."""

    variant: str
    embed_dim: int
    depth: int
    num_heads: int
    ffn: Literal["mlp", "swiglu"]
    patch_size: int = 14
    trained_grid: int = 37

    @property
    def ffn_hidden(self) -> int:
        """Hidden width of the feed-forward part: 4 x dim, or SwiGLU's 2/3 of it rounded up to 8."""
        hidden = 4 * self.embed_dim
        return hidden if self.ffn == "mlp" else (int(hidden * 2 / 3) + 7) // 8 * 8


CONFIGS: dict[str, DinoV2Config] = {
    "vits14": DinoV2Config("vits14", 384, 12, 6, "mlp"),
    "vitb14": DinoV2Config("vitb14", 768, 12, 12, "mlp"),
    "vitl14": DinoV2Config("vitl14", 1024, 24, 16, "mlp"),
    "vitg14": DinoV2Config("vitg14", 1536, 40, 24, "swiglu"),
}


def _published(variant: str, output_dim: int) -> PublishedWeights:
    name = f"dinov2_{variant}_pretrain.pth"
    return PublishedWeights(
        name=name,
        urls=(f"https://dl.fbaipublicfiles.com/dinov2/dinov2_{variant}/{name}",),
        sha256=None,
        input_size=INPUT_SIZE,
        output_dim=output_dim,
        notes="PyTorch state dict (float32) of the LVD-142M pretrained backbone, as torch.hub "
        "'facebookresearch/dinov2' loads it; Meta publishes no checksum, so only the layout can be verified.",
    )


WEIGHTS: dict[str, PublishedWeights] = {
    variant: _published(variant, config.embed_dim) for variant, config in CONFIGS.items()
}


class PatchEmbed(nn.Module):
    """Non-overlapping patches to tokens: one strided convolution."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection (keys `qkv`, `proj`)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attended = F.scaled_dot_product_attention(query, key, value)
        return self.proj(attended.transpose(1, 2).reshape(batch, tokens, dim))


class LayerScale(nn.Module):
    """Per-channel learned scale of a residual branch (key `gamma`)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    """fc1, exact (erf) GELU, fc2."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwiGLU(nn.Module):
    """The g/14 feed-forward: w12 gives two halves a, b; output w3(silu(a) * b)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(gate) * value)


class Block(nn.Module):
    """Pre-norm transformer block with layer scale on both residual branches (LayerNorm eps 1e-6)."""

    def __init__(self, config: DinoV2Config) -> None:
        super().__init__()
        dim = config.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, config.num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = (Mlp if config.ffn == "mlp" else SwiGLU)(dim, config.ffn_hidden)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoV2(nn.Module):
    """DINOv2 backbone; `forward` maps normalised images N x 3 x H x W (H, W multiples of 14) to CLS features.

    Parameters
    ----------
    config : DinoV2Config
        The architecture (see `CONFIGS`).
    """

    def __init__(self, config: DinoV2Config) -> None:
        super().__init__()
        self.config = config
        dim, grid = config.embed_dim, config.trained_grid
        self.patch_embed = PatchEmbed(config.patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # used only in training; kept for the layout
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def positional_embedding(self, grid_height: int, grid_width: int) -> torch.Tensor:
        """Positional embeddings for a token grid, 1 x (1 + h w) x dim, as the reference interpolates them.

        Bicubic (A = -0.75, no antialias) from the trained 37 x 37 grid, with `F.interpolate` given
        scale factors ((h + 0.1) / 37, (w + 0.1) / 37) rather than an output size: the source
        coordinate of output index i is (i + 0.5) * 37 / (h + 0.1) - 0.5. The trained grid is used
        as it is when h = w = 37.
        """
        trained = self.config.trained_grid
        if grid_height == trained and grid_width == trained:
            return self.pos_embed
        dim = self.pos_embed.shape[-1]
        patch_pos = self.pos_embed[:, 1:].float().reshape(1, trained, trained, dim).permute(0, 3, 1, 2)
        scale = ((grid_height + POS_EMBED_OFFSET) / trained, (grid_width + POS_EMBED_OFFSET) / trained)
        patch_pos = F.interpolate(patch_pos, scale_factor=scale, mode="bicubic", antialias=False)
        if tuple(patch_pos.shape[-2:]) != (grid_height, grid_width):
            raise InceptionScoreError(
                f"positional embedding interpolation gave {tuple(patch_pos.shape[-2:])}, "
                f"expected {(grid_height, grid_width)}"
            )
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid_height * grid_width, dim)
        return torch.cat((self.pos_embed[:, :1].float(), patch_pos), dim=1).to(self.pos_embed.dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """CLS token after the final LayerNorm, N x embed_dim, for normalised float images."""
        patch = self.config.patch_size
        height, width = images.shape[-2:]
        if images.ndim != 4 or height % patch or width % patch:
            raise InceptionScoreError(
                f"expected images N x 3 x H x W with H and W multiples of {patch}, got {tuple(images.shape)}"
            )
        tokens = self.patch_embed(images)
        tokens = torch.cat((self.cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
        tokens = tokens + self.positional_embedding(height // patch, width // patch)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens[:, 0])


def build_dinov2(
    variant: str = DEFAULT_VARIANT, *, depth: int | None = None, device: torch.device | str | None = None
) -> DinoV2:
    """An uninitialised DINOv2 (zeros, ones), ready for `load_dinov2_state`.

    Parameters
    ----------
    variant : str
        One of `CONFIGS`: "vits14", "vitb14", "vitl14" (the FD_DINOv2 default), "vitg14".
    depth : int, optional
        Fewer blocks than the published depth, for tests; None keeps the published one.
    device : torch.device or str, optional
        "meta" builds the layout without memory (for key and shape checks).

    Returns
    -------
    DinoV2
    """
    if variant not in CONFIGS:
        raise InceptionScoreError(f"unknown DINOv2 variant {variant!r}; choose one of {', '.join(CONFIGS)}")
    config = CONFIGS[variant]
    if depth is not None:
        config = DinoV2Config(config.variant, config.embed_dim, depth, config.num_heads, config.ffn)
    with torch.device(device or "cpu"):
        return DinoV2(config)


def load_dinov2(weights: str | Path, variant: str = DEFAULT_VARIANT) -> DinoV2:
    """Build `variant` and load Meta's published state dict file strictly; eval mode, no gradients.

    Parameters
    ----------
    weights : str or Path
        `dinov2_<variant>_pretrain.pth` (see `WEIGHTS`).
    variant : str
        The architecture the file holds.

    Returns
    -------
    DinoV2
    """
    model = build_dinov2(variant)
    expected_file = WEIGHTS[variant].name
    state = read_state_dict(weights, expected_file=expected_file)
    return load_dinov2_state(model, state, source=f"weights file {weights}")


def load_dinov2_state(model: DinoV2, state: dict[str, torch.Tensor], *, source: str = "the state dict") -> DinoV2:
    """Load a state dict into `model` with a strict key and shape check (see `load_dinov2`)."""
    variant = model.config.variant
    return load_strict(
        model, state, source=source, layout=f"the DINOv2 {variant} layout", expected_file=WEIGHTS[variant].name
    )


def preprocess(images: torch.Tensor, protocol: Protocol = DEFAULT_PROTOCOL) -> torch.Tensor:
    """uint8 RGB images N x 3 x H x W to the network's input, N x 3 x 224 x 224 float32.

    Both protocols stretch any image to 224 x 224 (no crop, aspect ratio not kept), scale to
    [0, 1] and normalise with the ImageNet mean and std.

    Parameters
    ----------
    images : torch.Tensor
        uint8, N x 3 x H x W, values 0..255.
    protocol : {"edm2", "dgm-eval"}
        "edm2": `F.interpolate(..., mode="bicubic", antialias=True)` on the float 0..255 values,
        no rounding or clamping (EDM2's default `resize_mode='torch'`, its published FD_DINOv2).
        "dgm-eval": PIL `Image.resize((224, 224), BICUBIC)` on the 8-bit image, rounded back to
        8 bits (dgm-eval's torchvision `Resize` on PIL images; EDM2's `resize_mode='pil'`).

    Returns
    -------
    torch.Tensor
        float32, N x 3 x 224 x 224, on the device of `images`.
    """
    check_image_batch(images)
    if protocol == "edm2":
        resized = F.interpolate(images.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", antialias=True)
    elif protocol == "dgm-eval":
        resized = pil_bicubic_resize(images, (INPUT_SIZE, INPUT_SIZE)).float()
    else:
        raise InceptionScoreError(f"unknown DINOv2 protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).reshape(1, 3, 1, 1)
    return (resized / 255 - mean) / std


class DinoV2Extractor(nn.Module):
    """uint8 images in, FD_DINOv2 features out: `preprocess` with a protocol, then the network.

    Parameters
    ----------
    model : DinoV2
        A loaded network (`load_dinov2`).
    protocol : {"edm2", "dgm-eval"}
        The preprocessing (see `preprocess`).
    """

    def __init__(self, model: DinoV2, protocol: Protocol = DEFAULT_PROTOCOL) -> None:
        super().__init__()
        if protocol not in PROTOCOLS:
            raise InceptionScoreError(f"unknown DINOv2 protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        self.model = model
        self.protocol = protocol

    @property
    def output_dim(self) -> int:
        return self.model.config.embed_dim

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features N x embed_dim (float32) for uint8 images N x 3 x H x W (moved to the network's device)."""
        return self.model(preprocess(images.to(self.model.pos_embed.device), self.protocol)).float()
