"""Does a file fit its catalog entry? Its format, feature space and dimensions, number of images (where
the entry knows it) and protocol, checked before the file is installed or pinned.

The hash is the real check once a file is pinned; these checks are what stands before the first pin
(no publisher gives a hash): a 120-image statistics file of ours is not TTUR's CIFAR-10, a 16-d file
is not in Inception's 2048-d space, an HTML error page is not an .npz.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InceptionScoreError, escaped
from .adm_batch import inspect_adm_batch, is_adm_batch, read_adm_statistics
from .extract import PIPELINE_VERSION
from .npz import checked_pair
from .pickles import safe_load_pickle
from .reference_catalog import EDM2_DINOV2, OURS, Reference
from .statistics import read_statistics
from .weights import REFERENCE_SHA256

MAX_IMAGES = 10**10  # num_images of an EDM2 pickle above this is not a count


def misfits(entry: Reference, path: Path) -> list[str]:
    """What about the file at `path` does not fit `entry` ([] when it fits). A file that is not of the
    entry's format at all raises InceptionScoreError naming it."""
    if entry.file_format == "edm2-pkl":
        return _edm2_misfits(entry, path)
    if entry.file_format == "adm-batch" and is_adm_batch(path):
        return _adm_misfits(entry, path)
    return _statistics_misfits(entry, path)


def _statistics_misfits(entry: Reference, path: Path) -> list[str]:
    statistics = read_statistics(path)
    protocol = entry.protocol
    found = _dimension_misfits(entry, "mu", statistics.mu.shape[0], protocol.dims)
    if statistics.mu_s is not None and protocol.spatial_dims is not None:
        found += _dimension_misfits(entry, "mu_s", statistics.mu_s.shape[0], protocol.spatial_dims)
    if entry.count is not None and statistics.n is not None and statistics.n != entry.count:
        found.append(f"it holds the statistics of {statistics.n} images; {entry.name} is of {entry.count:,}")
    ours = statistics.weights_sha256 is not None or statistics.pipeline_version is not None
    if protocol is not OURS and ours:
        found.append(
            f"it was written by inception-score (pipeline {statistics.pipeline_version!r}), not by "
            f"{protocol.computed_by}: it is not the published {entry.name}"
        )
    if protocol is OURS:
        if not ours:
            found.append(f"it does not say how it was made; {entry.name} is built by this package (refs build)")
        elif (
            statistics.weights_sha256 != REFERENCE_SHA256
            or statistics.extractor != "inception-2015"
            or not (statistics.pipeline_version or "").startswith(PIPELINE_VERSION)
        ):
            found.append(
                f"it was made with other weights or another pipeline ({statistics.pipeline_version!r}, weights "
                f"{(statistics.weights_sha256 or '?')[:12]}...) than {entry.name}'s protocol ({protocol.network})"
            )
        if {"kid", "pr"} & set(entry.metrics) and not statistics.has_features:
            found.append(f"it has no per-image features, and {entry.name} serves KID and precision/recall")
    return found


def _adm_misfits(entry: Reference, path: Path) -> list[str]:
    info = inspect_adm_batch(path)
    found = []
    size = re.fullmatch(r"(\d+)x(\d+)", entry.resolution)
    if size is not None and (info.height, info.width) != (int(size.group(1)), int(size.group(2))):
        found.append(f"its images are {info.height}x{info.width}; {entry.name} is {entry.resolution}")
    statistics = read_adm_statistics(path)
    if "mu" in statistics:
        found += _dimension_misfits(entry, "mu", statistics["mu"].shape[0], entry.protocol.dims)
    if "mu_s" in statistics and entry.protocol.spatial_dims is not None:
        found += _dimension_misfits(entry, "mu_s", statistics["mu_s"].shape[0], entry.protocol.spatial_dims)
    return found


def _edm2_misfits(entry: Reference, path: Path) -> list[str]:
    content = safe_load_pickle(path)
    if not isinstance(content, dict):
        raise InceptionScoreError(
            f"{escaped(path)}: expected a dict (EDM2 statistics: num_images, fid, fd_dinov2), it holds a "
            f"{type(content).__name__}"
        )
    edm2_count(content, path)
    found = []
    for part, dims in (("fid", entry.protocol.dims), ("fd_dinov2", EDM2_DINOV2.dims)):
        if part in content or part in entry.metrics:
            mu, _ = edm2_part(content, part, path)
            found += _dimension_misfits(entry, f"{part}.mu", mu.shape[0], dims)
    return found


def edm2_part(content: Any, part: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """mu and sigma of one part ('fid' or 'fd_dinov2') of a loaded EDM2 statistics pickle, as float64,
    checked like every stored pair (`npz.checked_pair`); a malformed structure is one error line."""
    statistics = content.get(part) if isinstance(content, dict) else None
    if not (isinstance(statistics, dict) and "mu" in statistics and "sigma" in statistics):
        raise InceptionScoreError(
            f"{escaped(path)}: expected a dict with {part!r}: {{'mu', 'sigma'}} (EDM2 statistics); it holds: "
            f"{_keys(content)}"
        )
    mu, sigma = statistics["mu"], statistics["sigma"]
    for key, value, ndim in (("mu", mu, 1), ("sigma", sigma, 2)):
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu" or value.ndim != ndim:
            shown = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
            raise InceptionScoreError(
                f"{escaped(path)}: {part}.{key} should be a {ndim}-d numeric array, it is {shown}"
            )
    return checked_pair(mu, sigma, f"{part}.mu", f"{part}.sigma", path)


def edm2_count(content: dict, path: Path) -> int | None:
    """num_images of an EDM2 statistics pickle (None when absent), checked to be a plausible count."""
    count = content.get("num_images")
    if count is None:
        return None
    if isinstance(count, np.integer):
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_IMAGES:
        raise InceptionScoreError(
            f"{escaped(path)}: num_images should be a count of images (2 to {MAX_IMAGES}), got {str(count)[:40]}"
        )
    return count


def _keys(content: Any) -> str:
    """The top-level keys of a loaded pickle, for a message (text keys shown, others by their type)."""
    if not isinstance(content, dict):
        return type(content).__name__
    names = sorted(escaped(key) if isinstance(key, str) else f"<{type(key).__name__}>" for key in content)
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")


def _dimension_misfits(entry: Reference, key: str, found: int, expected: int) -> list[str]:
    if found == expected:
        return []
    return [f"its {key} is {found}-d; {entry.name}'s statistics are {expected}-d ({entry.protocol.network})"]
