"""Does a file fit its catalog entry? Its format, feature space and dimensions, number of images (where
the entry knows it) and protocol, checked before the file is installed or pinned.

The hash is the real check once a file is pinned; these checks are what stands before the first pin
(no publisher gives a hash): a 120-image statistics file of ours is not TTUR's CIFAR-10, a 16-d file
is not in Inception's 2048-d space, an HTML error page is not an .npz.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from .adm_batch import IMAGES_KEY, inspect_adm_batch, read_adm_statistics
from .edm2 import edm2_part, load_edm2
from .extract import PIPELINE_VERSION
from .reference_catalog import EDM2_DINOV2, OURS, Reference
from .statistics import read_statistics
from .weights import REFERENCE_SHA256


def misfits(entry: Reference, path: Path) -> list[str]:
    """What about the file at `path` does not fit `entry` ([] when it fits). A file that is not of the
    entry's format at all raises InceptionScoreError naming it."""
    if entry.file_format == "edm2-pkl":
        return _edm2_misfits(entry, path)
    if entry.file_format == "adm-batch" and _holds_images(path):
        return _adm_misfits(entry, path)
    return _statistics_misfits(entry, path)


def _holds_images(path: Path) -> bool:
    """An .npz with an arr_0 (an ADM batch), whatever the file is called (a download's partial file too)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return f"{IMAGES_KEY}.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


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
    content = load_edm2(path)
    found = []
    for part, dims in (("fid", entry.protocol.dims), ("fd_dinov2", EDM2_DINOV2.dims)):
        if part in content or part in entry.metrics:
            mu, _ = edm2_part(content, part, path)
            found += _dimension_misfits(entry, f"{part}.mu", mu.shape[0], dims)
    return found


def _dimension_misfits(entry: Reference, key: str, found: int, expected: int) -> list[str]:
    if found == expected:
        return []
    return [f"its {key} is {found}-d; {entry.name}'s statistics are {expected}-d ({entry.protocol.network})"]
