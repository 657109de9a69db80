"""Batched feature extraction: decode, TF1 resize to 299, normalise, one forward pass per image."""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from .network import INPUT_SIZE
from .resize import resize_tf1
from .sources import DEFAULT_MAX_PIXELS, Sample, decode


@dataclass
class Features:
    """Per-image outputs of the network, in input order."""

    logits: np.ndarray  # N x 1008 float32, unbiased (no fc bias)
    pool3: np.ndarray  # N x 2048 float32
    names: list[str]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """Keep TF32 off on CUDA while scoring so GPU and CPU numbers agree; restore the user's settings."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def preprocess(images: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """H x W x 3 uint8 images of any sizes -> N x 3 x 299 x 299 float32 in [-1, 1) on `device`."""
    batch = torch.empty((len(images), 3, INPUT_SIZE, INPUT_SIZE), dtype=torch.float32, device=device)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(index)
    for indices in by_shape.values():
        pixels = torch.from_numpy(np.stack([images[i] for i in indices])).to(device)
        resized = resize_tf1(pixels.permute(0, 3, 1, 2).float(), INPUT_SIZE)
        batch[indices] = (resized - 128) / 128
    return batch


def _batches(samples: Iterable[Sample], batch_size: int) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for sample in samples:
        batch.append(sample)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def extract_features(samples: Iterable[Sample], model: torch.nn.Module, *, batch_size: int = 64,
                     device: torch.device | str | None = None, progress: bool = True,
                     total: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> Features:
    """Run every sample through the network; returns logits and pool3 in input order."""
    device = torch.device(device) if device is not None else default_device()
    model = model.to(device)
    logits, pool3, names = [], [], []
    with exact_float32(), torch.inference_mode(), tqdm(
            total=total, unit="img", desc="scoring", disable=None if progress else True) as bar:
        for batch in _batches(samples, batch_size):
            images = [decode(sample, max_pixels=max_pixels) for sample in batch]
            batch_logits, batch_pool3 = model(preprocess(images, device))
            logits.append(batch_logits.float().cpu().numpy())
            pool3.append(batch_pool3.float().cpu().numpy())
            names.extend(sample.name for sample in batch)
            bar.update(len(batch))
    if not names:
        return Features(np.zeros((0, 1008), np.float32), np.zeros((0, 2048), np.float32), [])
    return Features(np.concatenate(logits), np.concatenate(pool3), names)
