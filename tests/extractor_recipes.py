"""Published state-dict layouts of DINOv2 and CLIP, written from the published architectures, and
deterministic random weights and inputs in them (seeded RandomState: the same bytes everywhere).

Pure numpy + torch, no import of the package: `tests/data/make_extractor_references.py` uses it in
the peers' venv to build the same weights for torch-fidelity's CLIP model.

Layout facts (facebookresearch/dinov2 `hub/backbones.py`, `models/vision_transformer.py`,
`layers/`; openai/CLIP `model.py`): see docs/feature-spaces.md.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

# name: (embed_dim, depth, ffn hidden, "mlp" | "swiglu"); patch 14, trained at 518 px = 37 x 37 patches
DINOV2_PUBLISHED = {
    "vits14": (384, 12, 1536, "mlp"),
    "vitb14": (768, 12, 3072, "mlp"),
    "vitl14": (1024, 24, 4096, "mlp"),
    "vitg14": (1536, 40, 4096, "swiglu"),  # SwiGLU: w12 8192 x 1536, w3 1536 x 4096
}
# name: (image side, patch, width, layers, embedding size); heads = width / 64
CLIP_PUBLISHED = {
    "vit-b-32": (224, 32, 768, 12, 512),
    "vit-l-14-336": (336, 14, 1024, 24, 768),
}


def dinov2_shapes(variant: str, depth: int | None = None) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of `dinov2_<variant>_pretrain.pth` (the first `depth` blocks only, if given)."""
    dim, published_depth, hidden, ffn = DINOV2_PUBLISHED[variant]
    shapes = {
        "cls_token": (1, 1, dim),
        "pos_embed": (1, 1 + 37 * 37, dim),
        "mask_token": (1, dim),
        "patch_embed.proj.weight": (dim, 3, 14, 14),
        "patch_embed.proj.bias": (dim,),
        "norm.weight": (dim,),
        "norm.bias": (dim,),
    }
    for index in range(published_depth if depth is None else depth):
        block = f"blocks.{index}."
        shapes.update(
            {
                block + "norm1.weight": (dim,),
                block + "norm1.bias": (dim,),
                block + "attn.qkv.weight": (3 * dim, dim),
                block + "attn.qkv.bias": (3 * dim,),
                block + "attn.proj.weight": (dim, dim),
                block + "attn.proj.bias": (dim,),
                block + "ls1.gamma": (dim,),
                block + "norm2.weight": (dim,),
                block + "norm2.bias": (dim,),
                block + "ls2.gamma": (dim,),
            }
        )
        if ffn == "mlp":
            shapes.update(
                {
                    block + "mlp.fc1.weight": (hidden, dim),
                    block + "mlp.fc1.bias": (hidden,),
                    block + "mlp.fc2.weight": (dim, hidden),
                    block + "mlp.fc2.bias": (dim,),
                }
            )
        else:
            shapes.update(
                {
                    block + "mlp.w12.weight": (2 * hidden, dim),
                    block + "mlp.w12.bias": (2 * hidden,),
                    block + "mlp.w3.weight": (dim, hidden),
                    block + "mlp.w3.bias": (dim,),
                }
            )
    return shapes


def clip_shapes(variant: str, layers: int | None = None) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the `visual.*` entries of OpenAI's CLIP file (the first `layers` blocks, if given)."""
    side, patch, width, published_layers, embed = CLIP_PUBLISHED[variant]
    shapes = {
        "visual.conv1.weight": (width, 3, patch, patch),
        "visual.class_embedding": (width,),
        "visual.positional_embedding": ((side // patch) ** 2 + 1, width),
        "visual.ln_pre.weight": (width,),
        "visual.ln_pre.bias": (width,),
        "visual.ln_post.weight": (width,),
        "visual.ln_post.bias": (width,),
        "visual.proj": (width, embed),
    }
    for index in range(published_layers if layers is None else layers):
        block = f"visual.transformer.resblocks.{index}."
        shapes.update(
            {
                block + "attn.in_proj_weight": (3 * width, width),
                block + "attn.in_proj_bias": (3 * width,),
                block + "attn.out_proj.weight": (width, width),
                block + "attn.out_proj.bias": (width,),
                block + "ln_1.weight": (width,),
                block + "ln_1.bias": (width,),
                block + "mlp.c_fc.weight": (4 * width, width),
                block + "mlp.c_fc.bias": (4 * width,),
                block + "mlp.c_proj.weight": (width, 4 * width),
                block + "mlp.c_proj.bias": (width,),
                block + "ln_2.weight": (width,),
                block + "ln_2.bias": (width,),
            }
        )
    return shapes


def _scale_and_offset(key: str, shape: tuple[int, ...]) -> tuple[float, float]:
    """How a random tensor for `key` is drawn: offset + scale * N(0, 1), sized so activations stay O(1)."""
    leaf = key.rsplit(".", 1)[-1]
    is_norm = any(part.startswith(("norm", "ln_")) for part in key.split("."))
    if is_norm and leaf == "weight":
        return 0.1, 1.0
    if leaf == "gamma":
        return 0.1, 0.3
    if leaf in ("bias", "in_proj_bias"):
        return 0.02, 0.0
    if len(shape) == 4:
        return 1.0 / np.sqrt(np.prod(shape[1:])), 0.0
    if leaf in ("weight", "in_proj_weight"):
        return 1.0 / np.sqrt(shape[-1]), 0.0
    if key == "visual.proj":
        return 1.0 / np.sqrt(shape[0]), 0.0
    return 0.5, 0.0  # tokens and positional embeddings


def random_state_dict(
    shapes: dict[str, tuple[int, ...]], seed: int, *, fp16_exact: bool = False
) -> dict[str, torch.Tensor]:
    """float32 tensors drawn key by key (sorted) from RandomState(seed); `fp16_exact` rounds them to
    float16 values (OpenAI publishes float16 weights)."""
    rng = np.random.RandomState(seed)
    state = {}
    for key in sorted(shapes):
        scale, offset = _scale_and_offset(key, shapes[key])
        values = (offset + scale * rng.standard_normal(shapes[key])).astype(np.float32)
        if fp16_exact:
            values = values.astype(np.float16).astype(np.float32)
        state[key] = torch.from_numpy(values)
    return state


def random_inputs(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Network inputs as normalised images look: float32 N(0, 1)."""
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


def random_images(seed: int, count: int, height: int, width: int) -> np.ndarray:
    """uint8 images N x 3 x H x W: smooth gradients plus noise, so resizing has both to handle."""
    rng = np.random.RandomState(seed)
    rows = np.linspace(0, 1, height)[None, None, :, None]
    cols = np.linspace(0, 1, width)[None, None, None, :]
    phase = rng.uniform(0, 2 * np.pi, (count, 3, 1, 1))
    smooth = 127.5 + 90 * np.sin(6 * rows + 4 * cols + phase)
    noisy = smooth + rng.normal(0, 25, (count, 3, height, width))
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def digest(array: np.ndarray) -> str:
    """sha256 of an array's bytes, shape and dtype."""
    content = hashlib.sha256(f"{array.shape}{array.dtype}".encode())
    content.update(np.ascontiguousarray(array).tobytes())
    return content.hexdigest()
