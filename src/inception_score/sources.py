"""Inputs: turn what the user has into a sized sequence of samples, then decode each to uint8 RGB.

A source yields `Sample`s: a name for messages (file path, archive member, array index) and
either the encoded file bytes or an already decoded H x W x 3 uint8 array. Decoding is a
separate step (`decode`) so it can run in workers and be skipped for cached images.
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .errors import InceptionScoreError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
DEFAULT_MAX_PIXELS = 178_956_970  # PIL's own decompression-bomb limit


@dataclass(frozen=True)
class Sample:
    """One image before decoding: encoded file bytes, or a decoded H x W x 3 uint8 array."""

    name: str
    data: bytes | np.ndarray


class Source:
    """A sized, re-iterable sequence of samples with a one-line description."""

    def __init__(self, description: str, count: int, samples: Sequence[Any], make_sample) -> None:
        self.description = description
        self._items = samples
        self._make_sample = make_sample
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Sample]:
        return self.iterate()

    def iterate(self, start: int = 0, stop: int | None = None) -> Iterator[Sample]:
        """Samples start..stop in input order (a shard of the source)."""
        stop = self._count if stop is None else min(stop, self._count)
        for index in range(start, stop):
            yield self._make_sample(index, self._items[index])


def open_source(source: Any) -> Source:
    """Wrap a folder path, a list of paths or PIL images, or a uint8 array/tensor as a Source."""
    if isinstance(source, Source):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise InceptionScoreError(f"{path}: no such file or folder")
        if path.is_dir():
            return _folder_source(path)
        return _file_list_source([path], str(path))
    if _is_array(source):
        return _array_source(source)
    if isinstance(source, (list, tuple)):
        if not source:
            raise InceptionScoreError("the list of images is empty")
        if all(isinstance(item, Image.Image) for item in source):
            return Source(f"{len(source)} PIL images", len(source), source,
                          lambda index, image: Sample(f"image {index}", np.asarray(image.convert("RGB"))))
        if all(isinstance(item, (str, os.PathLike)) for item in source):
            return _file_list_source([Path(item) for item in source], f"{len(source)} files")
    raise InceptionScoreError(
        f"cannot score a {type(source).__name__}: give a folder, a list of image paths or PIL images, "
        "or a uint8 array/tensor N x H x W x 3 or N x 3 x H x W")


def _folder_source(folder: Path) -> Source:
    files = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                   key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        raise InceptionScoreError(f"{folder}: no image files found (extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return _file_list_source(files, f"folder {folder}")


def _file_list_source(files: list[Path], description: str) -> Source:
    for path in files:
        if not path.is_file():
            raise InceptionScoreError(f"{path}: no such file")
    return Source(description, len(files), files, lambda index, path: Sample(str(path), _read_bytes(path)))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InceptionScoreError(f"{path}: cannot read ({error.strerror})") from None


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("torch")


def _array_source(array: Any) -> Source:
    """N x H x W x 3 or N x 3 x H x W uint8, as numpy (torch tensors are moved to CPU)."""
    images = array.detach().cpu().numpy() if hasattr(array, "detach") else np.asarray(array)
    if images.dtype != np.uint8:
        raise InceptionScoreError(f"expected a uint8 array, got {images.dtype}")
    if images.ndim != 4 or 3 not in (images.shape[1], images.shape[3]):
        raise InceptionScoreError(f"expected N x H x W x 3 or N x 3 x H x W, got {images.shape}")
    if images.shape[1] == 3 and images.shape[3] != 3:
        images = images.transpose(0, 2, 3, 1)
    elif images.shape[1] == 3 and images.shape[3] == 3:
        raise InceptionScoreError(f"ambiguous layout for shape {images.shape}: both axis 1 and 3 have size 3")
    return Source(f"array {tuple(array.shape)}", len(images), images,
                  lambda index, image: Sample(f"index {index}", np.ascontiguousarray(image)))


def decode(sample: Sample, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The sample as an H x W x 3 uint8 array; files go through PIL's convert("RGB") like the reference."""
    if isinstance(sample.data, np.ndarray):
        return sample.data
    try:
        with Image.open(io.BytesIO(sample.data)) as image:
            if image.width * image.height > max_pixels:
                raise InceptionScoreError(
                    f"{sample.name}: {image.width} x {image.height} pixels is over the limit of {max_pixels} "
                    "(raise max_pixels if the image is genuine)")
            return np.asarray(image.convert("RGB"))
    except InceptionScoreError:
        raise
    except Exception as error:  # PIL raises many types for broken files
        raise InceptionScoreError(f"{sample.name}: cannot decode image ({error})") from None
