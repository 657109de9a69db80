"""Content-keyed feature cache: the same image under the same weights and pipeline is computed once.

An entry is keyed by sha256(weights sha256, pipeline version, the image's bytes; arrays add
dtype and shape) and holds that image's logits and pool3 features as one small .npy file with
a structured dtype (no pickle) and a sha256 checksum of its contents. An entry may also hold the
sFID spatial features (a `spatial` field, written only by runs that ask for them): entries without
it still serve every other run, and a run that needs spatial features treats them as misses and
rewrites them with the field (the format stays "v1": old entries and old readers keep working). Entries are written to a
temporary file and renamed into place, so readers never see half an entry and two processes can
share the folder. The folder is kept under a size limit by deleting the least recently used
entries (a hit refreshes the entry's modification time).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat as statmodule
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InceptionScoreError, escaped
from .files import TEMPORARY_PREFIX, atomic_write
from .sources import Sample
from .weights import cache_dir

FORMAT = "v1"
DEFAULT_SIZE_LIMIT = 2 * 1024**3
_STALE_TEMPORARY_SECONDS = 3600
_SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def features_dir() -> Path:
    """Where feature entries live: <cache dir>/features/v1 (the weights file sits beside, untouched)."""
    return cache_dir() / "features" / FORMAT


def parse_size(text: str) -> int:
    """'500M', '2G', '1.5GB' or a number of bytes -> bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise InceptionScoreError(f"cannot read the size {text!r}: use bytes or a unit, e.g. 500M or 2G")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])


def sample_key(sample: Sample, context: str) -> str:
    """sha256 hex of the context (weights + pipeline) and the sample's content."""
    digest = hashlib.sha256(context.encode())
    if isinstance(sample.data, np.ndarray):
        array = np.ascontiguousarray(sample.data)
        digest.update(f"\0array\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(memoryview(array).cast("B"))  # type: ignore[arg-type]  # numpy arrays are buffers
    else:
        digest.update(b"\0file\0")
        digest.update(sample.data)
    return digest.hexdigest()


def _checksum(key: str, logits: np.ndarray, pool3: np.ndarray, spatial: np.ndarray | None = None) -> np.ndarray:
    digest = hashlib.sha256(key.encode())
    digest.update(np.ascontiguousarray(logits, dtype="<f4").tobytes())
    digest.update(np.ascontiguousarray(pool3, dtype="<f4").tobytes())
    if spatial is not None:
        digest.update(b"\0spatial\0")
        digest.update(np.ascontiguousarray(spatial, dtype="<f4").tobytes())
    return np.frombuffer(digest.digest(), dtype=np.uint8)


@dataclass
class CacheInfo:
    folder: Path
    entries: int
    bytes: int


class FeatureCache:
    """Per-image logits + pool3 on disk, keyed by content, bounded by `size_limit` bytes (LRU)."""

    def __init__(self, folder: str | Path | None = None, *, size_limit: int = DEFAULT_SIZE_LIMIT) -> None:
        self.folder = Path(folder) if folder is not None else features_dir()
        self.size_limit = size_limit
        self.corrupt = 0  # entries found damaged (and removed) by this object
        self.problems: list[str] = []  # why the cache (or an entry) could not be used; the run goes on without
        self._readable = self._writable = True
        self._written_since_trim = 0
        if self.folder.exists() and not self.folder.is_dir():
            self._give_up("it is not a folder", reading=True)

    def _give_up(self, reason: str, *, reading: bool = False) -> None:
        """Stop writing (and reading) the cache, once, saying why: the run goes on without it."""
        if reading:
            self._readable = False
        if self._writable:
            self._writable = False
            self.problems.append(
                f"the feature cache {escaped(self.folder)} cannot be used ({reason}); scored without "
                f"{'it' if reading else 'storing new entries'}: set INCEPTION_SCORE_CACHE to a writable folder, "
                "or pass --no-cache (cache=False)"
            )

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def get(self, key: str, *, spatial: bool = False) -> tuple[np.ndarray, ...] | None:
        """(logits, pool3) for the key, or None if absent or damaged (a damaged entry is removed).

        spatial=True: (logits, pool3, spatial), or None also when the entry has no spatial features.
        """
        if not self._readable:
            return None
        path = self._path(key)
        try:
            data = _read_regular(path)
        except FileNotFoundError:
            return None
        except _NotRegular:
            self.problems.append(f"{escaped(path)} is not a regular file: left alone and recomputed")
            return None
        except OSError as error:  # a shard that is a file, no permission to read: no cache for this run
            self._give_up(error.strerror or type(error).__name__, reading=True)
            return None
        try:
            entry = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception:  # truncated or foreign bytes: numpy raises many types
            return self._discard(path)
        try:
            logits, pool3, checksum = entry["logits"], entry["pool3"], entry["checksum"]
            stored_spatial = entry["spatial"] if "spatial" in (entry.dtype.names or ()) else None
        except (ValueError, KeyError, IndexError):
            return self._discard(path)
        if not np.array_equal(checksum, _checksum(key, logits, pool3, stored_spatial)):
            return self._discard(path)
        if spatial and stored_spatial is None:
            return None  # a good entry without them: recomputed and rewritten with them
        try:
            os.utime(path)
        except OSError:
            pass  # evicted by another process meanwhile; the values we read are still good
        if spatial:
            return np.array(logits, np.float32), np.array(pool3, np.float32), np.array(stored_spatial, np.float32)
        return np.array(logits, np.float32), np.array(pool3, np.float32)

    def _discard(self, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        self.corrupt += 1
        try:
            path.unlink()
        except OSError:
            pass
        return None

    def put(self, key: str, logits: np.ndarray, pool3: np.ndarray, spatial: np.ndarray | None = None) -> None:
        """Store one entry atomically; if the folder cannot take it (read-only, full, not a folder),
        stop writing for this run and say so once."""
        if not self._writable:
            return
        try:
            self._put(key, logits, pool3, spatial)
        except OSError as error:
            self._give_up(error.strerror or type(error).__name__)

    def _put(self, key: str, logits: np.ndarray, pool3: np.ndarray, spatial: np.ndarray | None) -> None:
        """Store one entry atomically (temporary file in the same folder, then rename)."""
        fields = [("logits", "<f4", (len(logits),)), ("pool3", "<f4", (len(pool3),))]
        values = [logits, pool3]
        if spatial is not None:
            fields.append(("spatial", "<f4", (len(spatial),)))
            values.append(spatial)
        dtype = np.dtype([*fields, ("checksum", "u1", (32,))])
        entry = np.array((*values, _checksum(key, logits, pool3, spatial)), dtype=dtype)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as file:
            np.save(file, entry, allow_pickle=False)
        self._written_since_trim += path.stat().st_size if path.exists() else 0
        if self._written_since_trim > self.size_limit // 10:
            self.trim()

    def put_many(
        self, keys: list[str | None], logits: np.ndarray, pool3: np.ndarray, spatial: np.ndarray | None = None
    ) -> None:
        for row, (key, row_logits, row_pool3) in enumerate(zip(keys, logits, pool3)):
            if key is not None:  # None: a sample that could not be keyed (not cached)
                self.put(key, row_logits, row_pool3, spatial[row] if spatial is not None else None)

    def _files(self) -> Iterator[os.DirEntry]:
        if not self.folder.is_dir():
            return
        for shard in os.scandir(self.folder):
            if shard.is_dir():
                yield from os.scandir(shard.path)

    def trim(self) -> int:
        """Delete least recently used entries until the folder fits the size limit; returns how many."""
        self._written_since_trim = 0
        if not self._writable:
            return 0
        try:
            return self._trim()
        except OSError as error:  # a folder we may not list: leave it as it is
            self._give_up(error.strerror or type(error).__name__)
            return 0

    def _trim(self) -> int:
        entries, total, now = [], 0, time.time()
        for file in self._files():
            try:
                stat = file.stat()
            except OSError:
                continue
            if not statmodule.S_ISREG(stat.st_mode):
                continue  # a FIFO or device someone put here: never opened, never deleted
            if file.name.startswith(TEMPORARY_PREFIX):
                if now - stat.st_mtime > _STALE_TEMPORARY_SECONDS:  # left by a killed process
                    _unlink_quietly(file.path)
                continue
            entries.append((stat.st_mtime, stat.st_size, file.path))
            total += stat.st_size
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.size_limit:
                break
            _unlink_quietly(path)
            total -= size
            removed += 1
        return removed

    def info(self) -> CacheInfo:
        """Number of entries and bytes on disk."""
        entries = size = 0
        for file in self._files():
            if not file.name.startswith(TEMPORARY_PREFIX):
                try:
                    size += file.stat().st_size
                    entries += 1
                except OSError:
                    continue
        return CacheInfo(self.folder, entries, size)

    def clear(self) -> int:
        """Delete every entry (only the feature folder; the weights file is left alone)."""
        count = self.info().entries
        shutil.rmtree(self.folder, ignore_errors=True)
        return count


class _NotRegular(Exception):
    """A cache path that is a FIFO, device or folder: reading it could block or mean nothing."""


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file; opened non-blocking and checked first, so a FIFO never hangs the run."""
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not statmodule.S_ISREG(os.fstat(handle).st_mode):
            raise _NotRegular(path)
        with os.fdopen(handle, "rb", closefd=False) as file:
            return file.read()
    finally:
        os.close(handle)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass  # another process got there first
