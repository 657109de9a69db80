"""The one obvious call: `inception_score(source) -> ISResult`."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import DEFAULT_SIZE_LIMIT, FeatureCache
from .classifier import Classifier, inception_2015_classifier, load_classifier
from .distributed import draw_seed, everywhere, join, open_everywhere, score_sharded
from .errors import InceptionScoreError
from .features import Features, default_device, extract_features
from .metrics import (SMALL_N, ISResult, Order, announce, inception_score_from_log_probabilities,
                      log_probabilities_from_logits, small_sample_warning)
from .network import Inception2015, load_inception
from .sources import DEFAULT_MAX_PIXELS, Layout, OnError, Sample, Source, open_source
from .weights import REFERENCE_SHA256, TORCHVISION, resolve_weights, sha256_file

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


def get_classifier(classifier: Any = None, *, weights: str | Path | None = None, input_size: int | None = None,
                   resize: str | None = None, normalize: str | None = None, channels: int | None = None,
                   progress: bool = True, plain: bool = False) -> Classifier:
    """The classifier to score with: "inception-2015" (default), "torchvision", a TorchScript file,
    "package.module:factory", an nn.Module or a Classifier; the input options are for custom ones."""
    if classifier is None or classifier == "inception-2015":
        given = [name for name, value in (("input-size", input_size), ("resize", resize), ("normalize", normalize),
                                          ("channels", channels)) if value is not None]
        if given:
            raise InceptionScoreError(
                f"{', '.join('--' + name for name in given)} cannot be used with the inception-2015 classifier "
                "(the paper's protocol is fixed); they are for custom classifiers (--classifier FILE.pt or "
                "package.module:factory)")
        model, sha256 = load_model(weights, progress=progress, plain=plain)
        return inception_2015_classifier(model, sha256, reference=sha256 == REFERENCE_SHA256)
    if plain:
        raise InceptionScoreError("plain (--plain) applies to the inception-2015 classifier only: other "
                                  "classifiers run as they are given")
    return load_classifier(classifier, weights=weights, input_size=input_size, resize=resize,
                           normalize=normalize, channels=channels, progress=progress)


def inception_score(source: Any, *, splits: int = 10, order: Order = "shuffled", seed: int = 2020,
                    weights: str | Path | None = None, batch_size: int | None = None,
                    device: str | torch.device | None = None, progress: bool = True,
                    max_pixels: int = DEFAULT_MAX_PIXELS, fast: bool = False, cache: bool = True,
                    cache_size: int = DEFAULT_SIZE_LIMIT, workers: int | None = None,
                    plain: bool = False, distributed: bool | None = None, classifier: Any = None,
                    input_size: int | None = None, resize: str | None = None, normalize: str | None = None,
                    channels: int | None = None, bootstrap: int = 0, npz_key: str | None = None,
                    value_range: tuple[float, float] | None = None, layout: Layout | None = None,
                    num_samples: int | None = None, on_error: OnError = "stop",
                    sample_seed: int | None = None) -> ISResult:
    """Inception Score of a folder, archive, image/.npy/.npz file(s), PIL images, an array or tensor,
    an iterable of batches or a callable `sample(batch_size)` with num_samples (see sources).

    Notes: to match published numbers use the reference weights (the default), 50,000 images
    and splits=10; order="given" reproduces the paper's code, "shuffled" (default, seed 2020)
    reproduces torch-fidelity and is safe for class-sorted inputs. Per-image features are
    cached by content (cache=False to disable; cache_size in bytes, least recently used go
    first). fast=True allows TF32 and float16 on CUDA: faster, approximate, recorded in the
    result. plain=True runs the unoptimised reference approach (no folding, NCHW, decoding
    inline), for comparisons. Inside an initialised torch.distributed process group (or with
    distributed=True under torchrun) each rank scores a shard and every rank gets the result;
    distributed=False scores in this process alone. classifier="torchvision" reproduces PyTorch
    papers that used torchvision's ImageNet Inception v3; a TorchScript file,
    "package.module:factory" or an nn.Module scores another domain (input_size, resize,
    normalize, channels give its input contract unless the module declares one).
    bootstrap=1000 adds a seeded 95% interval for the 1-split score. Warnings (few images, other
    weights, class-sorted order...) are in `result.warnings` and emitted as InceptionScoreWarning.
    Arrays: value_range of floats (0, 1) (default), (-1, 1) or (0, 255); layout "NHWC"/"NCHW" when
    the shape is ambiguous; npz_key picks an .npz file's array. Generators and callables are
    scored as they stream (only logits are kept). on_error="skip" leaves undecodable files out
    and records them in `result.skipped` / `result.skipped_names`; max_pixels guards against
    decompression bombs. sample_seed: a callable's draws run with torch's, numpy's and Python's
    global generators seeded with sample_seed + rank (restored afterwards); under torch.distributed
    each rank draws num_samples / K (the remainder to the first ranks) with base seed 0 by
    default; in one process the generators are left alone unless sample_seed is given.
    """
    group = join(distributed)
    check_on_error(on_error)
    images = open_everywhere(group, lambda: open_input(
        source, distributed=group is not None, npz_key=npz_key, value_range=value_range, layout=layout,
        num_samples=num_samples, batch_size=batch_size))
    if isinstance(splits, int) and images.total is not None and images.total < splits:
        raise InceptionScoreError(
            f"{images.description}: {images.total} images cannot be cut into {splits} splits; "
            f"use --splits {images.total} or fewer, or score more images (50,000 is the convention)")
    if batch_size is not None and batch_size < 1:
        raise InceptionScoreError(f"batch_size must be at least 1, got {batch_size}")
    chosen = everywhere(group, lambda: get_classifier(
        classifier, weights=weights, input_size=input_size, resize=resize, normalize=normalize,
        channels=channels, progress=progress, plain=plain), main_first=True)
    device = torch.device(device) if device is not None else default_device()
    # Classifiers without a content identity (Python factories, objects) are never cached.
    feature_cache = FeatureCache(size_limit=cache_size) if cache and chosen.cache_key is not None else None

    def extract(samples: Iterable[Sample], total: int | None, show_progress: bool) -> Features:
        return extract_features(samples, chosen.module, batch_size=batch_size, device=device,
                                progress=progress and show_progress, total=total, max_pixels=max_pixels,
                                fast=fast, cache=feature_cache, model_id=chosen.cache_key or "",
                                workers=0 if plain else workers, contract=chosen.contract, on_error=on_error,
                                keep_pool3=False)  # IS needs the logits only: 4 KB per image

    def finish(features: Features) -> ISResult:
        warnings = []
        if fast and device.type != "cuda":
            warnings.append("fast has no effect on this device: the network ran in exact float32")
        if features.corrupt_cache_entries:
            warnings.append(f"{features.corrupt_cache_entries} damaged feature cache entries were removed and recomputed")
        warnings += skipped_warnings(features.skipped)
        result = result_from_logits(features.logits, chosen.weights_sha256, splits=splits, order=order, seed=seed,
                                    warnings=warnings, world_size=group.world_size if group else 1,
                                    classifier=chosen, bootstrap=bootstrap, names=features.names)
        return dataclasses.replace(result, precision=features.precision,
                                   cached=len(features.names) - features.computed,
                                   skipped=len(features.skipped), skipped_names=list(features.skipped),
                                   sample_seed=draw_seed(group, sample_seed) if images.kind == "sampler" else None)

    return score_sharded(group, images, extract, finish, skip=("pool3",), sample_seed=sample_seed)


def check_on_error(on_error: str) -> None:
    if on_error not in ("stop", "skip"):
        raise InceptionScoreError(f"on_error must be 'stop' or 'skip', got {on_error!r}")


def open_input(source: Any, *, distributed: bool = False, **options: Any) -> Source:
    """open_source(source, **options); under torch.distributed, generators and iterables are refused.

    A callable source (kind "sampler") can draw any count: each rank draws its share with its own
    seed (distributed.shard_of). A stream can only be read whole, by one process.
    """
    images = open_source(source, **options)
    if distributed and images.kind == "stream":
        raise InceptionScoreError(
            f"{images.description}: a generator or iterable cannot be split over torch.distributed ranks (every "
            "rank would read the same images); give a callable sample(batch_size) with num_samples (each rank "
            "draws its share with seed sample_seed + rank), score in one process (distributed=False), or save "
            "the images and score the files")
    return images


def skipped_warnings(skipped: list[str]) -> list[str]:
    """The warning for files left out with on_error="skip"."""
    if not skipped:
        return []
    shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    return [f"{len(skipped)} undecodable file{'s were' if len(skipped) > 1 else ' was'} skipped (--skip-bad): "
            f"{shown}; the score is of the other images"]


def result_from_logits(logits: np.ndarray, sha256: str | None, *, splits: int, order: Order, seed: int,
                       warnings: list[str] | None = None, world_size: int = 1,
                       classifier: Classifier | None = None, bootstrap: int = 0,
                       names: list[str] | None = None) -> ISResult:
    """The IS of the classifier's logits (default: the 2015 network), with its identity and the warnings that apply.

    The warnings are also emitted as InceptionScoreWarning.
    """
    result = inception_score_from_log_probabilities(log_probabilities_from_logits(logits), splits=splits,
                                                    order=order, seed=seed, bootstrap=bootstrap)
    name = classifier.name if classifier is not None else "inception-2015"
    reference = sha256 == REFERENCE_SHA256 if name == "inception-2015" else False
    notes = list(warnings or [])
    if name == "inception-2015":
        notes += weights_warnings(sha256 or "")
    elif name == "torchvision":
        known = "" if TORCHVISION.matches(sha256 or "") else f" (weights {(sha256 or '')[:12]}... are not torchvision's file)"
        notes.append(f"torchvision's ImageNet Inception v3{known}: comparable only to scores computed with "
                     "it (about 9.7 on CIFAR-10), not to the paper's protocol (11.24)")
    if name not in ("inception-2015", "torchvision"):  # no published 50k-image scores to compare with
        notes += [note for note in result.warnings if note != small_sample_warning(result.n)]
    else:
        notes += result.warnings
    details = dataclasses.replace(result.details, names=list(names) if names is not None else None)
    return announce(dataclasses.replace(result, weights_sha256=sha256, reference_weights=reference, warnings=notes,
                                        world_size=world_size, details=details,
                                        classifier=classifier.describe() if classifier is not None else None))


def weights_warnings(sha256: str) -> list[str]:
    """A warning when the weights are not the reference 2015 Inception weights."""
    if sha256 == REFERENCE_SHA256:
        return []
    return [f"weights {sha256[:12]}... are not the reference 2015 Inception weights: "
            "scores are not comparable to published ones"]
