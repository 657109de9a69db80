""".npz members checked before numpy allocates them: a member's sizes must be ones the file can hold.

numpy allocates the whole array an .npy header declares before it reads a byte of data, and a
zip (or zip64) directory may declare any uncompressed size, so a small hostile file could ask for
terabytes. Here every member to be loaded is checked first: its compressed size fits in the file,
a stored member is as long as it says, a deflated one expands at most DEFLATE_MAX_RATIO times (what
deflate can do), its header declares a plain (non-object) array, and the declared array is exactly
as large as the member. Allocation is then bounded by the bytes on disk.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import InceptionScoreError, escaped

DEFLATE_MAX_RATIO = 1032  # deflate's largest expansion: 258 bytes per 2 bits, about 1032 : 1


def read_npy_header(member: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from the .npy header at the start of `member` (nothing else is read)."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(member)
    raise ValueError(f".npy format version {version} is not supported (1.0 and 2.0 are)")


def check_member(path: str | os.PathLike, archive: zipfile.ZipFile, key: str) -> tuple[int, ...]:
    """Check the sizes of array `key` of the .npz at `path` before it is loaded; returns its shape."""
    shown = escaped(Path(path))
    name = f"{key}.npy"
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise InceptionScoreError(f"{shown}: has no array {key!r}") from None
    on_disk = os.stat(path).st_size
    if info.compress_size > on_disk:
        raise InceptionScoreError(
            f"{shown}: {key!r} claims {info.compress_size} stored bytes in a file of {on_disk}; the file is "
            "truncated or damaged"
        )
    stored = info.compress_type == zipfile.ZIP_STORED
    if (stored and info.file_size != info.compress_size) or info.file_size > DEFLATE_MAX_RATIO * max(
        info.compress_size, 1
    ):
        raise InceptionScoreError(
            f"{shown}: {key!r} claims {info.file_size} bytes from {info.compress_size} stored bytes, more than "
            "they can hold; the file is damaged (or made to exhaust memory)"
        )
    try:
        with archive.open(info) as member:
            shape, _, dtype = read_npy_header(member)
            header = member.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as error:
        raise InceptionScoreError(f"{shown}: the header of {key} is corrupt ({escaped(error)})") from None
    if dtype.hasobject:
        raise InceptionScoreError(
            f"{shown}: {key!r} is stored as pickled Python objects, which are never loaded (unsafe); "
            "store plain numeric arrays"
        )
    declared = math.prod(shape) * dtype.itemsize
    if header + declared != info.file_size:
        raise InceptionScoreError(
            f"{shown}: {key!r} declares {dtype} {shape} ({declared} bytes) but holds {info.file_size - header} "
            "bytes; the file is truncated or corrupt"
        )
    return tuple(int(size) for size in shape)


def load_member(path: str | os.PathLike, npz: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    """`npz[key]` once `check_member` has passed (errors name the file and the array)."""
    assert npz.zip is not None
    check_member(path, npz.zip, key)
    try:
        return npz[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise InceptionScoreError(
            f"{escaped(Path(path))}: cannot read {key!r}, the file is damaged ({escaped(error)})"
        ) from None


def checked_pair(
    mean: np.ndarray, covariance: np.ndarray, mean_key: str, cov_key: str, path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """A stored mean (d) and covariance (d x d) as float64: numbers, finite, the covariance symmetric.

    The one check of every stored pair (mu/sigma, mu_s/sigma_s) of statistics files and ADM batches;
    the symmetry tolerance is the Fréchet distance's own, so a file is refused here, by name, or not at all.
    """
    shown = escaped(Path(path))
    if mean.dtype.kind not in "fiu" or covariance.dtype.kind not in "fiu":
        raise InceptionScoreError(
            f"{shown}: {mean_key!r} and {cov_key!r} should hold numbers, they hold {mean.dtype} and {covariance.dtype}"
        )
    if mean.ndim != 1 or mean.shape[0] < 1 or covariance.shape != (mean.shape[0], mean.shape[0]):
        raise InceptionScoreError(
            f"{shown}: expected {mean_key!r} of shape (d,) and {cov_key!r} of shape (d, d), "
            f"got {mean.shape} and {covariance.shape}"
        )
    mean, covariance = mean.astype(np.float64), covariance.astype(np.float64)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(covariance))):
        raise InceptionScoreError(f"{shown}: {mean_key!r} or {cov_key!r} contains NaN or infinite values")
    scale = float(np.max(np.abs(covariance), initial=0.0))
    if np.max(np.abs(covariance - covariance.T), initial=0.0) > 1e-6 * scale:
        raise InceptionScoreError(f"{shown}: {cov_key!r} is not symmetric, so it is not a covariance matrix")
    return mean, covariance
