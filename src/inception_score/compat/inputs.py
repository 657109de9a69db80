"""torch-fidelity's inputs as our sources: a folder read as it reads one, or a Dataset of uint8 tensors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..errors import InceptionScoreError, escaped, warn
from ..pipeline.sources import Sample, Source, open_source
from .arguments import REGISTERED_DATASETS


def input_source(value: Any, args: dict[str, Any], name: str) -> Source | None:
    """torch-fidelity's input as our Source: a folder read as it reads one, or a Dataset of uint8 tensors."""
    if value is None:
        return None
    if isinstance(value, torch.utils.data.Dataset):
        return _dataset_source(value, name)
    if not isinstance(value, (str, os.PathLike)):
        raise InceptionScoreError(
            f"{name} must be a folder of images or a torch Dataset of uint8 3 x H x W tensors, got a "
            f"{type(value).__name__} (generator models are not run here: save their samples, or use "
            "inception_score.evaluate with a callable sample(batch_size))"
        )
    text = str(value)
    if text in REGISTERED_DATASETS:
        raise InceptionScoreError(
            f"{name}={text!r} is one of torch-fidelity's registered datasets, which are not downloaded here: give "
            "a folder of its images (or, for FID, a statistics file: inception-score refs list)"
        )
    if Path(text).is_file() and text.endswith((".onnx", ".pth")):
        raise InceptionScoreError(f"{escaped(text)}: generator models are not run here; give a folder of its samples")
    if not Path(text).is_dir():
        raise InceptionScoreError(f"{name}={escaped(text)}: no such folder (torch-fidelity reads folders of images)")
    files = listed_files(text, args["samples_find_deep"], args["samples_find_ext"])
    lossy = {ext.strip() for ext in args["samples_ext_lossy"].split(",") if ext.strip()}
    if any(_extension(file) in lossy for file in files):
        warn(f"{name}: some images are lossy-compressed ({', '.join(sorted(lossy))}), which may affect the metrics")
    size = args["samples_resize_and_crop"]
    if size:
        return _resized_source(files, size, f"{len(files)} files of {escaped(text)}, resized and cropped to {size}")
    return _files_source(files, f"{len(files)} files of {escaped(text)}")


def listed_files(folder: str, deep: bool, extensions: str) -> list[str]:
    """The image files torch-fidelity reads from a folder, in its order: those whose lowercased extension is in
    `extensions`, of the folder itself or (deep) of every folder under it, by real path, sorted."""
    wanted = [ext.strip() for ext in extensions.split(",") if ext.strip()]
    files = []
    for root, _, names in os.walk(folder):
        if not deep and os.path.realpath(root) != os.path.realpath(folder):
            continue
        files += [os.path.realpath(os.path.join(root, name)) for name in names if _extension(name) in wanted]
    if not files:
        raise InceptionScoreError(
            f"{escaped(folder)}: no images with the extensions {extensions}"
            f"{'' if deep else ' directly in the folder (samples_find_deep=True also reads its subfolders)'}"
        )
    return sorted(files)


def _extension(name: str) -> str:
    return os.path.splitext(name)[1].lower().removeprefix(".")


def _files_source(files: list[str], description: str) -> Source:
    source = open_source([Path(file) for file in files])
    source.description = description
    return source


def _resized_source(files: list[str], size: int, description: str) -> Source:
    """The files decoded with PIL as RGB, resized and centre-cropped as torchvision's Resize(size) and
    CenterCrop(size) do to PIL images (torch-fidelity's samples_resize_and_crop)."""

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        for file in files[start:stop]:
            yield Sample(escaped(file), resize_and_crop(file, size))

    return Source(description, len(files), read)


def resize_and_crop(file: str, size: int) -> np.ndarray:
    """One image as torchvision's Resize(size) then CenterCrop(size) give it for a PIL image: the shorter side
    to `size` (the longer one int(size * long / short)) with PIL's bilinear filter, then the centre square
    (top and left offsets rounded half to even, like Python's round)."""
    try:
        with Image.open(file) as opened:
            image = opened.convert("RGB")
    except Exception as error:  # PIL raises many types for broken files
        raise InceptionScoreError(f"{escaped(file)}: cannot decode image ({error})") from None
    width, height = image.size
    short, long = min(width, height), max(width, height)
    if short != size:
        scaled = int(size * long / short)
        image = image.resize((size, scaled) if width <= height else (scaled, size), Image.Resampling.BILINEAR)
    width, height = image.size
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return np.ascontiguousarray(np.asarray(image)[top : top + size, left : left + size])


def _dataset_source(dataset: torch.utils.data.Dataset, name: str) -> Source:
    """A map-style Dataset whose items are uint8 3 x H x W tensors, read in index order."""
    try:
        count = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise InceptionScoreError(f"{name}: the Dataset has no len(); torch-fidelity needs a sized Dataset") from None

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        for index in range(start, count if stop is None else stop):
            item = dataset[index]
            if not (
                isinstance(item, torch.Tensor) and item.dtype == torch.uint8 and item.dim() == 3 and item.shape[0] == 3
            ):
                got = f"{item.dtype} {tuple(item.shape)}" if isinstance(item, torch.Tensor) else type(item).__name__
                raise InceptionScoreError(
                    f"{name}[{index}]: torch-fidelity's Dataset items are uint8 tensors 3 x H x W; got {got}"
                )
            yield Sample(f"{name}[{index}]", np.ascontiguousarray(item.permute(1, 2, 0).numpy()))

    return Source(f"{name}: a {type(dataset).__name__} of {count} images", count, read)
