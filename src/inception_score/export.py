"""Files other tools read: the ADM evaluator's reference and sample batches (openai/guided-diffusion).

A reference batch is `arr_0` (the images, N x H x W x 3 uint8, as this package decodes them, in input
order) with the statistics the evaluator uses instead of computing its own: `mu`, `sigma` (pool3) and
`mu_s`, `sigma_s` (sFID's spatial features). A sample batch is `arr_0` alone, maybe with `arr_1` class
labels. The images are written first, streamed into the zip member a block at a time; the statistics
are then computed from that very member by the engine, exactly as `evaluate(..., protocol="adm")` would
compute them from the file's images, and added to the file, which replaces `path` only when complete.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
import torch.distributed as dist
from PIL import Image
from tqdm import tqdm

from . import engine
from .errors import InceptionScoreError, escaped
from .options import Options
from .pipeline.adm_batch import (
    AdmBatchInfo,
    add_adm_arrays,
    adm_center_crop,
    check_labels,
    inspect_adm_batch,
    write_adm_images,
)
from .pipeline.extract import available_cpus
from .pipeline.files import check_output, umask_mode
from .pipeline.sources import Sample, Source, decode, open_source

BLOCK = 32  # images decoded and written at a time
MAX_RESOLUTION = 4096


def save_adm_batch(
    source: Any,
    path: str | Path,
    *,
    statistics: bool = True,
    resolution: int | None = None,
    labels: Any = None,
    options: Options | None = None,
    **image_options: Any,
) -> AdmBatchInfo:
    """Write `source` as an ADM evaluator batch `.npz` (guided-diffusion's `evaluations/evaluator.py` reads it).

    Parameters
    ----------
    source
        Images (any source whose count is known: a folder, an archive, files, arrays, an ADM batch; a
        callable or iterable with num_samples).
    path
        The `.npz` file to write (checked before any work, written atomically).
    statistics
        True: a reference batch, with `mu`, `sigma`, `mu_s`, `sigma_s` of the 2015 Inception network
        computed from the written images. False: a sample batch, images only (no network runs).
    resolution
        None: every image must have the same size and is stored as decoded. R: each image is made
        R x R as guided-diffusion's dataset code does (box-filter halving while the shorter side is at
        least 2R, bicubic resize of the shorter side to R, centre crop).
    labels
        Class labels to store as `arr_1` (N whole numbers), as guided-diffusion's sampler does.
    options, **image_options
        How images are read (`npz_key`, `value_range`, `layout`, `max_pixels`, `workers`, `progress`) and,
        for the statistics, how they become features (`weights`, `batch_size`, `device`, `cache`, ...).

    Returns
    -------
    AdmBatchInfo
        What was written, as read back from the file.

    Notes
    -----
    Memory is bounded: one block of images at a time, then the engine's own streaming pass over the
    file. A batch states its image count up front, so undecodable files stop the run (no skipping).
    """
    options = Options.of(options, **image_options)
    target = _checked_request(source, path, statistics, resolution, options)
    opened = open_source(
        source,
        npz_key=options.npz_key,
        value_range=options.value_range,
        layout=options.layout,
        num_samples=options.num_samples,
        batch_size=options.batch_size,
    )
    count = opened.total
    if count is None:
        raise InceptionScoreError(f"{opened.description}: the number of images is not known; pass num_samples=N")
    label_array = check_labels(labels, count) if labels is not None else None
    if statistics:
        options.load_extractor()  # the weights are found (or refused) before the images are written
    images = _prepared(opened, resolution, options)
    first = next(images)
    height, width = first.shape[:2]
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".npz", dir=target.parent)
    os.close(handle)
    try:
        blocks = _blocks(chain([first], images), count, options.progress, opened.description)
        write_adm_images(temporary, blocks, count, height, width)
        arrays = _statistics_of(temporary, target, options) if statistics else {}
        if label_array is not None:
            arrays["arr_1"] = label_array
        add_adm_arrays(temporary, arrays)
        umask_mode(temporary)
        os.replace(temporary, target)
    except OSError as error:
        raise InceptionScoreError(f"{escaped(target)}: cannot write ({error.strerror or error})") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return dataclasses.replace(inspect_adm_batch(target), path=str(target))


def _checked_request(source: Any, path: Any, statistics: bool, resolution: int | None, options: Options) -> Path:
    """What can be refused before any image is read."""
    target = check_output(path, "ADM batch", "-o", inputs=(source,))
    if target.suffix.lower() != ".npz":
        raise InceptionScoreError(f"{escaped(target)}: an ADM batch is an .npz file; give a name ending in .npz")
    if resolution is not None and (
        isinstance(resolution, bool) or not isinstance(resolution, int) or not 1 <= resolution <= MAX_RESOLUTION
    ):
        raise InceptionScoreError(
            f"resolution (--resolution) must be a whole number 1..{MAX_RESOLUTION}, got {resolution!r}"
        )
    if options.on_error != "stop":
        raise InceptionScoreError(
            "an ADM batch states its image count before the images, so undecodable files cannot be skipped "
            "(--skip-bad): remove them first"
        )
    if statistics and options.classifier not in (None, "inception-2015"):
        raise InceptionScoreError(
            "an ADM reference batch's mu/sigma/mu_s/sigma_s are the 2015 Inception network's (the evaluator "
            "uses them as such): leave --classifier out, or write images only (statistics=False, --images-only)"
        )
    if options.distributed or (dist.is_available() and dist.is_initialized()):
        raise InceptionScoreError("an ADM batch is written by one process: run it without torchrun")
    return target


def _prepared(source: Source, resolution: int | None, options: Options) -> Iterator[np.ndarray]:
    """The decoded images in order (each R x R when a resolution is given), decoded by a few threads."""
    workers = min(4, available_cpus()) if options.workers is None else options.workers

    def one(sample: Sample) -> np.ndarray:
        image = decode(sample, max_pixels=options.max_pixels)
        return adm_center_crop(Image.fromarray(image), resolution) if resolution is not None else image

    samples = iter(source)
    if workers == 0:
        yield from map(one, samples)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inception-score-adm") as pool:
        while chunk := list(islice(samples, BLOCK)):
            yield from pool.map(one, chunk)


def _blocks(images: Iterator[np.ndarray], count: int, progress: bool, description: str) -> Iterator[np.ndarray]:
    """The images stacked BLOCK at a time, each checked to have the first one's size."""
    shape = None
    with tqdm(total=count, disable=None if progress else True, unit="img", desc="arr_0", leave=False) as bar:
        while block := list(islice(images, BLOCK)):
            shape = shape or block[0].shape
            for offset, image in enumerate(block):
                if image.shape != shape:
                    raise InceptionScoreError(
                        f"{description}: image {bar.n + offset} is {image.shape[1]} x {image.shape[0]} but the first "
                        f"is {shape[1]} x {shape[0]}; an ADM batch holds images of one size: pass --resolution R "
                        "(resolution=R) to centre-crop and resize them as guided-diffusion does"
                    )
            yield np.stack(block)
            bar.update(len(block))


def _statistics_of(batch: str, target: Path, options: Options) -> dict[str, np.ndarray]:
    """mu, sigma, mu_s, sigma_s of the batch's own images, as the engine computes them from an ADM batch."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}-stats-", suffix=".npz", dir=target.parent)
    os.close(handle)
    try:
        read = dataclasses.replace(options, npz_key=None, value_range=None, layout=None, num_samples=None)
        written = engine.summarise(batch, temporary, with_features=False, spatial=True, options=read)
        assert written.mu_s is not None and written.sigma_s is not None
        return {"mu": written.mu, "sigma": written.sigma, "mu_s": written.mu_s, "sigma_s": written.sigma_s}
    finally:
        os.unlink(temporary)
