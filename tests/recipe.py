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
