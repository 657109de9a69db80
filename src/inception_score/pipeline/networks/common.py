"""What every extractor module shares: its published weights as data, a strict state-dict load,
and the uint8 image batch check."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image
from torch import nn

from ...errors import InceptionScoreError, escaped
from ..state_dicts import load_failure, state_problems

ModelT = TypeVar("ModelT", bound=nn.Module)


@dataclass(frozen=True)
class PublishedWeights:
    """A weights file as its authors publish it: what the registry needs to fetch and check it.

    Attributes
    ----------
    name : str
        The file name the authors use (and the cache should keep).
    urls : tuple of str
        Public download addresses, first one preferred.
    sha256 : str or None
        The file's sha256 when the authors publish it (OpenAI's CLIP URLs carry it); None
        when they do not (Meta's DINOv2 files), so a download can only be checked by layout.
    input_size : int
        Side of the square images the protocol feeds the network.
    output_dim : int
        Length of one feature vector.
    notes : str
        Format and provenance facts a user may need (file format, dtype, what is used).
    """

    name: str
    urls: tuple[str, ...]
    sha256: str | None
    input_size: int
    output_dim: int
    notes: str


def check_image_batch(images: torch.Tensor) -> None:
    """Raise unless `images` is a uint8 tensor N x 3 x H x W with N, H, W >= 1."""
    if not isinstance(images, torch.Tensor):
        raise InceptionScoreError(f"expected a torch.Tensor of images, got {type(images).__name__}")
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3 or 0 in images.shape:
        raise InceptionScoreError(
            f"expected uint8 images N x 3 x H x W, got {images.dtype} {tuple(images.shape)}; "
            "convert to RGB 0..255 first"
        )


def is_torchscript_archive(path: Path) -> bool:
    """True for a TorchScript zip (OpenAI's CLIP files): it has a `constants.pkl` or a `code/` folder."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(name.endswith("/constants.pkl") or "/code/" in name for name in names)


def read_state_dict(path: str | Path, *, expected_file: str) -> dict[str, torch.Tensor]:
    """Read a state dict file safely: `torch.load(weights_only=True)`, or a TorchScript archive's tensors.

    Parameters
    ----------
    path : str or Path
        A PyTorch state dict file, or a TorchScript archive such as OpenAI's CLIP `.pt` files
        (read with `torch.jit.load`, which rebuilds TorchScript modules but runs no Python pickle code).
    expected_file : str
        The published file name, for the error message.

    Returns
    -------
    dict of str to torch.Tensor
    """
    path = Path(path)
    try:
        if is_torchscript_archive(path):
            with warnings.catch_warnings():  # torch >= 2.13 deprecates TorchScript; OpenAI publishes nothing else
                warnings.simplefilter("ignore", DeprecationWarning)
                state = torch.jit.load(str(path), map_location="cpu").state_dict()
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- torch raises many types for corrupt or foreign files
        raise InceptionScoreError(
            f"cannot read weights file {escaped(path)}: {load_failure(error)}. "
            f"It should be {expected_file}; delete it and fetch a good copy"
        ) from None
    if not isinstance(state, Mapping):
        raise InceptionScoreError(f"weights file {path} holds a {type(state).__name__}, not a state dict")
    return dict(state)


def load_strict(
    model: ModelT, state: Mapping[str, torch.Tensor], *, source: str, layout: str, expected_file: str
) -> ModelT:
    """Copy `state` into `model` after checking every key and shape; eval mode, no gradients.

    Parameters
    ----------
    model : nn.Module
        The architecture; its parameters are cast to their own dtype (float32) on copy.
    state : mapping of str to torch.Tensor
        Exactly the model's keys, nothing missing, nothing extra.
    source : str
        Where `state` came from (a path), for the error message.
    layout : str
        The layout's name, for the error message.
    expected_file : str
        The published file that has this layout.

    Returns
    -------
    nn.Module
        `model`, loaded, in eval mode, with gradients off.
    """
    details = state_problems(state, model.state_dict())
    if details:
        raise InceptionScoreError(f"{escaped(source)} does not have {layout} ({details}); use {expected_file}")
    model.load_state_dict(state, strict=True)
    model.eval().requires_grad_(False)
    return model


def pil_bicubic_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize uint8 images N x 3 x H x W to (height, width) with PIL's antialiased bicubic, as uint8."""
    height, width = size
    pixels = images.permute(0, 2, 3, 1).cpu().numpy()
    resized = [
        np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((width, height), Image.Resampling.BICUBIC))
        for image in pixels
    ]
    return torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).to(images.device)
