"""Reference outputs for tests/test_clip.py and tests/test_dinov2.py, computed by the peers' code.

Run with a venv that has torch-fidelity 0.4, torchvision and Pillow (not the project's venv):

    /work/peers/bin/python tests/data/make_extractor_references.py

Writes tests/data/extractors/*.npy (float32) and manifest.json. Weights and inputs come from
tests/extractor_recipes.py (seeded RandomState), so the tests rebuild the same bytes; the
manifest records their digests and the versions used.

- CLIP architecture: torch-fidelity 0.4's own CLIP image tower (its `CLIPVisual`, a port of
  openai/CLIP `model.py`), built directly (no download) and loaded strictly with the random
  `visual.*` state dict; its `visual(x)` on normalised inputs. (Its `build_model` would round the
  weights to float16 first; the recipe's weights are float16-exact, so nothing changes.)
- Preprocessing: each project's resize/crop calls as their code makes them: dgm-eval (torchvision
  `Resize((224, 224), BICUBIC)` on PIL, `ToTensor`, `Normalize`), EDM2 (`F.interpolate` bicubic
  antialias), CMMD (PIL crop box + `resize((336, 336), BICUBIC)`), clean-fid (torchvision
  `Resize(224, BICUBIC)` + `CenterCrop(224)` on PIL). Saved every 7th pixel per axis to stay small.

torch-fidelity's DINOv2 extractor cannot be built offline (it calls torch.hub.load on
facebookresearch/dinov2), so the DINOv2 tests use a from-scratch numpy reference instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torch_fidelity
import torchvision
import torchvision.transforms as T
from PIL import Image
from torch_fidelity.feature_extractor_clip import CLIPVisual

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from extractor_recipes import (  # noqa: E402 (the tests folder is put on the path above)
    CLIP_PUBLISHED,
    clip_shapes,
    digest,
    random_images,
    random_inputs,
    random_state_dict,
)

OUT = HERE / "extractors"
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLIP_NORM = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
# (variant, blocks, weights seed, input seed, images)
CLIP_CASES = [("vit-b-32", None, 3201, 3202, 2), ("vit-l-14-336", 2, 3361, 3362, 2)]
# (name, seed, count, height, width)
IMAGE_SETS = [("small_wide", 41, 2, 40, 64), ("large_tall", 42, 2, 300, 260)]
STRIDE = 7


def clip_reference(variant: str, layers: int | None, weights_seed: int, input_seed: int, count: int) -> dict:
    side, patch, width, published_layers, embed = CLIP_PUBLISHED[variant]
    state = random_state_dict(clip_shapes(variant, layers), weights_seed, fp16_exact=True)
    model = CLIPVisual(embed, side, layers or published_layers, width, patch)
    model.load_state_dict(state, strict=True)
    model.eval()
    inputs = random_inputs(input_seed, (count, 3, side, side))
    with torch.no_grad():
        output = model.visual(torch.from_numpy(inputs)).numpy().astype(np.float32)
    name = f"clip_{variant}_{layers or published_layers}_blocks"
    np.save(OUT / f"{name}.npy", output)
    return {
        "file": f"{name}.npy",
        "variant": variant,
        "blocks": layers or published_layers,
        "weights_seed": weights_seed,
        "input_seed": input_seed,
        "input_shape": list(inputs.shape),
        "input_sha256": digest(inputs),
        "source": "torch_fidelity.feature_extractor_clip.CLIPVisual",
    }


def to_pil(images: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))) for image in images]


def dgm_eval(images: np.ndarray) -> torch.Tensor:
    transform = T.Compose([T.Resize((224, 224), T.InterpolationMode.BICUBIC), T.ToTensor(), T.Normalize(*IMAGENET)])
    return torch.stack([transform(image) for image in to_pil(images)])


def edm2(images: np.ndarray) -> torch.Tensor:
    x = F.interpolate(torch.from_numpy(images).to(torch.float32), size=(224, 224), mode="bicubic", antialias=True)
    x = x.to(torch.float32) / 255
    x = x - torch.tensor(IMAGENET[0]).reshape(1, -1, 1, 1)
    return x / torch.tensor(IMAGENET[1]).reshape(1, -1, 1, 1)


def cmmd(images: np.ndarray) -> torch.Tensor:
    outputs = []
    for image in to_pil(images):
        w, h = image.size
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        resized = image.crop((left, top, left + side, top + side)).resize((336, 336), resample=Image.BICUBIC)
        pixels = np.asarray(resized).astype(np.float32) / 255.0
        outputs.append((pixels - np.array(CLIP_NORM[0])) / np.array(CLIP_NORM[1]))
    return torch.from_numpy(np.stack(outputs).transpose(0, 3, 1, 2).astype(np.float32))


def clean_fid(images: np.ndarray) -> torch.Tensor:
    crop = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224)])
    pixels = np.stack([np.asarray(crop(image)).clip(0, 255).astype(np.uint8) for image in to_pil(images)])
    x = torch.from_numpy(pixels.transpose(0, 3, 1, 2)).float() / 255.0
    return T.Normalize(*CLIP_NORM)(x)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    manifest = {
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "torch_fidelity": torch_fidelity.__version__,
            "pillow": Image.__version__,
            "numpy": np.__version__,
        },
        "stride": STRIDE,
        "clip": [clip_reference(*case) for case in CLIP_CASES],
        "preprocessing": [],
    }
    for name, seed, count, height, width in IMAGE_SETS:
        images = random_images(seed, count, height, width)
        for protocol, function in (("dgm-eval", dgm_eval), ("edm2", edm2), ("cmmd", cmmd), ("clean-fid", clean_fid)):
            output = function(images)[..., ::STRIDE, ::STRIDE].numpy().astype(np.float32)
            file = f"preprocess_{protocol}_{name}.npy"
            np.save(OUT / file, output)
            manifest["preprocessing"].append(
                {
                    "file": file,
                    "protocol": protocol,
                    "images_seed": seed,
                    "images_shape": [count, 3, height, width],
                    "images_sha256": digest(images),
                }
            )
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(list(OUT.glob('*.npy')))} arrays to {OUT}")


if __name__ == "__main__":
    main()
