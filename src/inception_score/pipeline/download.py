"""Verified downloads, shared by the weights and the reference catalog.

A file is fetched into a partial file in the destination's folder, checked (length, size, sha256
or a published prefix of it, and the caller's format check) and only then renamed into place, so a
destination that exists is always complete. One process downloads a file at a time: the others
wait on its lock (`.NAME.lock` beside it) and then use what it fetched. With `resume=True` an
interrupted download keeps its partial file and the next attempt asks the server for the rest
(HTTP Range); a server that ignores the range sends the whole file again, which is fine too. A
partial file is removed only when it is known to be useless: the whole file arrived and failed a
check, or the server says the range is past its end. Redirects are followed (urllib does).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from ..errors import InceptionScoreError, escaped
from .files import TEMPORARY_PREFIX, locked, umask_mode

BLOCK = 1 << 20
ENV_TIMEOUT = "INCEPTION_SCORE_DOWNLOAD_TIMEOUT"  # seconds a server may stay silent (default 60)
DEFAULT_TIMEOUT_S = 60.0
_POLL_S = 0.2


class DownloadFailed(Exception):
    """Every URL failed; `failures` says why, one line per URL."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures


def partial_path(destination: Path) -> Path:
    """Where an interrupted download of `destination` waits to be resumed."""
    return destination.with_name(f".{destination.name}.partial")


def lock_path(destination: Path) -> Path:
    """The lock one downloading process holds for `destination`."""
    return destination.with_name(f".{destination.name}.lock")


def timeout_s() -> float:
    """How long a server may stay silent before the attempt fails: $INCEPTION_SCORE_DOWNLOAD_TIMEOUT or 60."""
    text = os.environ.get(ENV_TIMEOUT)
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e6:
        raise InceptionScoreError(f"${ENV_TIMEOUT} must be a number of seconds above 0, got {text!r}")
    return value


def fetch_verified(
    urls: tuple[str, ...],
    destination: str | Path,
    *,
    sha256: str | None,
    size: int | None = None,
    progress: bool = True,
    resume: bool = False,
    check: Callable[[Path], None] | None = None,
) -> str:
    """Download `destination` from the first URL that gives a good file; return its full sha256.

    `sha256` is the full hex digest or a published prefix; None accepts any content (the caller
    pins what arrived). `size`, when known, is checked too, and `check(path)` (raising ValueError)
    looks at the complete file before it is renamed into place. When another process is fetching
    the same destination this one waits for it and returns the sha256 of what it fetched, if that
    matches. Raises DownloadFailed (every URL failed) or InceptionScoreError (the folder).
    """
    destination = Path(destination)
    _make_folder(destination.parent)
    with locked(lock_path(destination), on_wait=_Waiting(destination, progress)):
        if destination.is_file():  # fetched meanwhile by a process we waited for (or before)
            actual = _sha256_of(destination)
            if sha256 is None or actual.startswith(sha256):
                return actual
        failures = []
        for url in urls:
            try:
                return _fetch_one(url, destination, sha256, size, progress, resume, check)
            except (OSError, ValueError, http.client.HTTPException) as error:
                failures.append(f"{url}: {_reason(error)}")
        raise DownloadFailed(failures)


class _Waiting:
    """What a waiting process says (once) and how it knows the holder is still getting somewhere."""

    def __init__(self, destination: Path, progress: bool) -> None:
        self.destination, self.progress, self.seen = destination, progress, False
        self._last: tuple[int, int] | None = None
        self._since = time.monotonic()

    def __call__(self) -> None:
        """Called while the lock is held by another process; raises when its download has stalled."""
        if not self.seen and self.progress:
            print(
                f"inception-score: waiting for another process downloading {escaped(self.destination.name)}",
                file=sys.stderr,
            )
        self.seen = True
        state = _state_of(partial_path(self.destination))
        if state != self._last:
            self._last, self._since = state, time.monotonic()
        elif time.monotonic() - self._since > 2 * timeout_s() + 5:
            raise InceptionScoreError(
                f"another process holds {escaped(lock_path(self.destination))} but its download of "
                f"{escaped(self.destination.name)} has not moved for {2 * timeout_s() + 5:.0f} s; "
                "stop that process (or, if none is running, delete the lock file) and try again"
            )
        time.sleep(_POLL_S)


def _state_of(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InceptionScoreError(
            f"{escaped(folder)}: a file is where this folder should be; move it away and try again"
        ) from None
    except OSError as error:
        raise InceptionScoreError(f"{escaped(folder)}: cannot create the folder ({error.strerror})") from None


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP Error {error.code}: {error.reason}"
    return f"{error.__class__.__name__}: {error}"


def _fetch_one(
    url: str,
    destination: Path,
    sha256: str | None,
    size: int | None,
    progress: bool,
    resume: bool,
    check: Callable[[Path], None] | None,
) -> str:
    if resume:
        partial = partial_path(destination)
        start = partial.stat().st_size if partial.is_file() else 0
    else:
        handle, name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=".download", dir=destination.parent)
        os.close(handle)
        partial, start = Path(name), 0
    useless = not resume  # a resumable partial file is kept unless it is known to be of no use
    try:
        received, actual = _receive(url, partial, start, destination.name, progress, resume)
        useless = True  # complete: whatever is wrong now, a resume would not fix it
        if size is not None and received != size:
            raise ValueError(f"wrong size: got {received} bytes, expected {size}")
        if sha256 is not None and not actual.startswith(sha256):
            raise ValueError(f"sha256 {actual[:16]}... does not match the expected {sha256[:16]}...")
        if check is not None:
            check(partial)
        umask_mode(partial)
        os.replace(partial, destination)
        return actual
    except _RangeNotSatisfiable:
        useless = True
        raise
    finally:
        if useless and partial.exists():
            partial.unlink()


class _RangeNotSatisfiable(ValueError):
    """HTTP 416: the partial file is as long as the file or longer, so it cannot be continued."""


def _receive(url: str, partial: Path, start: int, name: str, progress: bool, resume: bool) -> tuple[int, str]:
    """Write the body of `url` into `partial` from byte `start` (or from 0 if the server sends it all);
    returns the bytes the partial file then holds and their sha256. A body shorter than its
    Content-Length is an error (with `resume`, the partial file keeps what arrived)."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s())
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:
            raise _RangeNotSatisfiable(
                f"HTTP Error 416: the server has no bytes past {start}; the partial file was removed, "
                "try again to download it whole"
            ) from None
        raise
    with response:
        start = _resume_offset(response, start)
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        digest = _hash_prefix(partial, start)
        received = start
        with (
            open(partial, "r+b" if start else "wb") as file,
            tqdm(
                total=total,
                initial=start,
                unit="B",
                unit_scale=True,
                desc=f"downloading {name}",
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            file.seek(start)
            file.truncate()
            for block in iter(lambda: response.read1(BLOCK), b""):  # what arrived: a stall keeps all of it
                file.write(block)
                digest.update(block)
                received += len(block)
                bar.update(len(block))
    if total is not None and received != total:
        raise ValueError(f"truncated: got {received} of {total} bytes" + (" (kept to resume)" if resume else ""))
    return received, digest.hexdigest()


def _resume_offset(response: http.client.HTTPResponse, start: int) -> int:
    """The offset the body starts at: `start` for a 206 that continues there, else 0 (whole file)."""
    if not start or response.status != 206:
        return 0
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range") or "")
    if match is None or int(match.group(1)) != start:
        raise ValueError(f"the server resumed at {response.headers.get('Content-Range')!r}, not at byte {start}")
    return start


def _hash_prefix(path: Path, length: int) -> hashlib._Hash:
    """sha256 state after the first `length` bytes of `path` (the part a resumed download keeps)."""
    digest = hashlib.sha256()
    if length:
        with open(path, "rb") as file:
            remaining = length
            while remaining:
                block = file.read(min(BLOCK, remaining))
                if not block:
                    raise ValueError(f"partial file {path} is shorter than {length} bytes")
                digest.update(block)
                remaining -= len(block)
    return digest


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
