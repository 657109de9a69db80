"""The fixtures' random weights in the real 2015 layout (recipe v1 of the fixtures README), without pytest,
so that the scripts that made reference data in another environment build the very same weights."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch

from inception_score.pipeline.inception2015 import Inception2015

DATA = Path(__file__).parent / "data"
RECIPE_SHA256 = "9fa6f43b6dc7cfc148f0ecd505cc1256346125942aa78490c61b0f291fbb79c3"
VGG16_RECIPE_SHA256 = "1c0f11fe91b0342a4b85d8546a8496ff3bd2e70c5967ecaf4c36d6c811c52407"  # recipe "vgg16 v1"


def build_recipe_state_dict() -> dict[str, torch.Tensor]:
    """Deterministic random weights with the real file's keys, shapes and dtypes (fixtures README)."""
    calibration = np.load(DATA / "random-weights-calibration.npz", allow_pickle=False)
    rng = np.random.RandomState(2026)
    state = {}
    for key, template in sorted(Inception2015().state_dict().items()):
        shape = tuple(template.shape)
        if key.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            value = (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)
        elif key == "fc.bias":
            value = (rng.standard_normal(1008) * 0.1).astype(np.float32)
        elif key == "fc.weight":
            value = (rng.standard_normal((1008, 2048)) * float(calibration["fc_scale"])).astype(np.float32)
        elif key.endswith("bn.weight"):
            value = np.ones(shape, np.float32)
        elif key.endswith("bn.bias"):
            value = np.zeros(shape, np.float32)
        elif key.endswith("num_batches_tracked"):
            value = np.array(0, np.int64)
        else:
            value = calibration[key]
        state[key] = torch.from_numpy(np.array(value))
    return state


def recipe_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].numpy().tobytes())
    return digest.hexdigest()


def build_vgg16_state_dict() -> dict[str, torch.Tensor]:
    """Deterministic random weights with the keys, shapes and dtypes of torchvision's vgg16-397923af.pth
    (recipe "vgg16 v1"): keys in sorted order, one RandomState(2027); each weight standard normal times
    sqrt(2 / fan_in), each bias standard normal times 0.01; float32. About 528 MB, a few seconds."""
    from inception_score.pipeline.networks.vgg16 import VGG16Features

    with torch.device("meta"):
        template = VGG16Features().state_dict()
    rng = np.random.RandomState(2027)
    state = {}
    for key, tensor in sorted(template.items()):
        shape = tuple(tensor.shape)
        if key.endswith("weight"):
            fan_in = math.prod(shape[1:])
            value = (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)
        else:
            value = (rng.standard_normal(shape) * 0.01).astype(np.float32)
        state[key] = torch.from_numpy(value)
    return state
