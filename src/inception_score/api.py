"""The one obvious call: `inception_score(source) -> ISResult`."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import DEFAULT_SIZE_LIMIT, FeatureCache
from .distributed import join, score_sharded
from .errors import InceptionScoreError
from .features import Features, default_device, extract_features
from .metrics import ISResult, Order, inception_score_from_logits
from .network import Inception2015, load_inception
from .sources import DEFAULT_MAX_PIXELS, Sample, open_source
from .weights import REFERENCE_SHA256, resolve_weights, sha256_file

SMALL_N = 5000
_loaded: dict[tuple[str, bool], Inception2015] = {}


def load_model(weights: str | Path | None = None, *, progress: bool = True,
               plain: bool = False) -> tuple[Inception2015, str]:
    """The network for the resolved weights file (loaded and optimised once per process) and its sha256.

    plain=True gives the unoptimised network (no batch-norm folding, NCHW), for comparisons.
    """
    path = resolve_weights(weights, progress=progress)
    sha256 = sha256_file(path)
    if (sha256, plain) not in _loaded:
        _loaded[sha256, plain] = load_inception(path, plain=plain)
    return _loaded[sha256, plain], sha256


def inception_score(source: Any, *, splits: int = 10, order: Order = "shuffled", seed: int = 2020,
                    weights: str | Path | None = None, batch_size: int | None = None,
                    device: str | torch.device | None = None, progress: bool = True,
                    max_pixels: int = DEFAULT_MAX_PIXELS, fast: bool = False, cache: bool = True,
                    cache_size: int = DEFAULT_SIZE_LIMIT, workers: int | None = None,
                    plain: bool = False, distributed: bool | None = None) -> ISResult:
    """Inception Score of a folder, list of paths or PIL images, or a uint8 image array/tensor.

    Notes: to match published numbers use the reference weights (the default), 50,000 images
    and splits=10; order="given" reproduces the paper's code, "shuffled" (default, seed 2020)
    reproduces torch-fidelity and is safe for class-sorted inputs. Per-image features are
    cached by content (cache=False to disable; cache_size in bytes, least recently used go
    first). fast=True allows TF32 and float16 on CUDA: faster, approximate, recorded in the
    result. plain=True runs the unoptimised reference approach (no folding, NCHW, decoding
    inline), for comparisons. Inside an initialised torch.distributed process group (or with
    distributed=True under torchrun) each rank scores a shard and every rank gets the result;
    distributed=False scores in this process alone.
    """
    group = join(distributed)
    images = open_source(source)
    if isinstance(splits, int) and len(images) < splits:
        raise InceptionScoreError(
            f"{images.description}: {len(images)} images cannot be cut into {splits} splits; "
            f"use --splits {len(images)} or fewer, or score more images (50,000 is the convention)")
    if batch_size is not None and batch_size < 1:
        raise InceptionScoreError(f"batch_size must be at least 1, got {batch_size}")
    model, sha256 = load_model(weights, progress=progress, plain=plain)
    device = torch.device(device) if device is not None else default_device()
    feature_cache = FeatureCache(size_limit=cache_size) if cache else None

    def extract(samples: Iterable[Sample], total: int, show_progress: bool) -> Features:
        return extract_features(samples, model, batch_size=batch_size, device=device,
                                progress=progress and show_progress, total=total, max_pixels=max_pixels,
                                fast=fast, cache=feature_cache, model_id=sha256, workers=0 if plain else workers)

    def finish(features: Features) -> ISResult:
        warnings = []
        if fast and device.type != "cuda":
            warnings.append("fast has no effect on this device: the network ran in exact float32")
        if features.corrupt_cache_entries:
            warnings.append(f"{features.corrupt_cache_entries} damaged feature cache entries were removed and recomputed")
        result = result_from_logits(features.logits, sha256, splits=splits, order=order, seed=seed,
                                    warnings=warnings, world_size=group.world_size if group else 1)
        return dataclasses.replace(result, precision=features.precision,
                                   cached=len(features.names) - features.computed)

    return score_sharded(group, images, extract, finish, skip=("pool3",))


def result_from_logits(logits: np.ndarray, sha256: str, *, splits: int, order: Order, seed: int,
                       warnings: list[str] | None = None, world_size: int = 1) -> ISResult:
    """The IS of the network's logits, with the weights used and the warnings that apply."""
    result = inception_score_from_logits(logits, splits=splits, order=order, seed=seed)
    reference = sha256 == REFERENCE_SHA256
    warnings = list(warnings or []) + weights_warnings(sha256)
    if result.n < SMALL_N:
        warnings.append(f"only {result.n} images: scores from fewer than 50,000 images are biased low "
                        "and not comparable to published 50k-image scores")
    return dataclasses.replace(result, weights_sha256=sha256, reference_weights=reference, warnings=warnings,
                               world_size=world_size)


def weights_warnings(sha256: str) -> list[str]:
    """A warning when the weights are not the reference 2015 Inception weights."""
    if sha256 == REFERENCE_SHA256:
        return []
    return [f"weights {sha256[:12]}... are not the reference 2015 Inception weights: "
            "scores are not comparable to published ones"]
