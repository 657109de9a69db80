"""In-memory image batches (arrays and tensors, on any device) through the networks without decoding.

`pixels_of` checks and converts a batch as `arrays.py` converts an array source (the same layouts,
the same float rounding), but on the batch's own device: a CUDA tensor stays on its GPU through the
conversion, the resize and the network. `run_batch` runs each head's network on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import InceptionScoreError
from .arrays import FLOAT_DTYPES, Layout, channel_axis, check_dtype, dtype_name, suggest_range
from .extract import Head, forward, network_mode, precision_name, prepare_groups, uses_channels_last


def pixels_of(
    batch: Any, *, value_range: tuple[float, float], layout: Layout | None, what: str, first_index: int = 0
) -> torch.Tensor:
    """An N x H x W x C, N x C x H x W (C = 3 or 1) or N x H x W batch of uint8 or floats in `value_range`
    as N x H x W x 3 uint8 on its own device (a numpy array: on the CPU), rounded as `arrays.py` rounds."""
    check_dtype(batch, what)
    tensor = batch.detach() if isinstance(batch, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(batch))
    axis = channel_axis(tuple(tensor.shape), layout, what)
    if axis == 1:
        tensor = tensor.permute(0, 2, 3, 1)
    elif axis is None:
        tensor = tensor[..., None]
    if dtype_name(tensor) in FLOAT_DTYPES:
        tensor = _quantise(tensor, value_range, first_index, what)
    if tensor.shape[3] == 1:
        tensor = tensor.expand(-1, -1, -1, 3)
    if 0 in tensor.shape[1:]:
        raise InceptionScoreError(f"{what}: images of shape {tuple(batch.shape)} have no pixels")
    return tensor.contiguous()


def _quantise(values: torch.Tensor, value_range: tuple[float, float], first_index: int, what: str) -> torch.Tensor:
    """Floats in value_range -> uint8 0..255, rounded half up in float64; an error names the first bad image."""
    values = values.to(torch.float64)
    per_image = values.reshape(len(values), -1)
    finite = torch.isfinite(per_image).all(dim=1)
    if not bool(finite.all()):
        index = first_index + int(torch.argmin(finite.to(torch.uint8)))
        raise InceptionScoreError(
            f"{what} index {index}: NaN or infinite values; images must be finite (check the generator's output)"
        )
    low, high = value_range
    margin = (high - low) / 255 / 2  # half an 8-bit step: rounds to the end of the range anyway
    smallest, largest = float(values.min()), float(values.max())
    if smallest < low - margin or largest > high + margin:
        outside = (per_image.min(dim=1).values < low - margin) | (per_image.max(dim=1).values > high + margin)
        index = first_index + int(torch.argmax(outside.to(torch.uint8)))
        raise InceptionScoreError(
            f"{what} index {index}: values span [{smallest:.6g}, {largest:.6g}], outside value_range "
            f"({low:g}, {high:g}); {suggest_range(smallest, largest)}"
        )
    scaled = (values - low) * (255.0 / (high - low))
    return torch.clamp(torch.floor(scaled + 0.5), 0, 255).to(torch.uint8)


def run_batch(
    chunks: list[torch.Tensor], heads: list[Head], device: torch.device, *, fast: bool, what: str, first_index: int = 0
) -> list[dict[str, np.ndarray]]:
    """Each head's network on consecutive chunks of N_i x H_i x W_i x 3 uint8 images (one batch, grouped by
    size as `preprocess` groups decoded images): its outputs as float32 numpy rows, in batch order."""
    groups: dict[tuple[int, ...], tuple[list[int], list[torch.Tensor]]] = {}
    position = 0
    for chunk in chunks:
        indices, tensors = groups.setdefault(tuple(chunk.shape[1:]), ([], []))
        indices.extend(range(position, position + len(chunk)))
        tensors.append(chunk)
        position += len(chunk)
    placed = []
    for indices, tensors in groups.values():
        pixels = tensors[0] if len(tensors) == 1 else torch.cat(tensors)
        if pixels.device != device:
            pixels = pixels.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else pixels.to(device)
        placed.append((indices, pixels))
    names = [f"{what} index {first_index + row}" for row in range(position)]
    found = []
    with network_mode(device, fast):
        for head in heads:
            model = head.model.to(device)
            batch = prepare_groups(
                placed, position, device, channels_last=uses_channels_last(model), contract=head.contract
            )
            found.append(forward(model, batch, head, names, fast=precision_name(device, fast) != "float32"))
    return found
