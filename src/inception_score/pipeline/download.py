"""Verified downloads, shared by the weights and the reference catalog.

A file is fetched into a partial file in the destination's folder, checked (size, sha256 or a
published prefix of it) and only then renamed into place, so a destination that exists is
always complete. With `resume=True` an interrupted download keeps its partial file and the
next attempt asks the server for the rest (HTTP Range); a server that ignores the range
sends the whole file again, which is fine too. Redirects are followed (urllib does).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from .files import umask_mode

BLOCK = 1 << 20


class DownloadFailed(Exception):
    """Every URL failed; `failures` says why, one line per URL."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures


def partial_path(destination: Path) -> Path:
    """Where an interrupted download of `destination` waits to be resumed."""
    return destination.with_name(f".{destination.name}.partial")


def fetch_verified(
    urls: tuple[str, ...],
    destination: str | Path,
    *,
    sha256: str | None,
    size: int | None = None,
    progress: bool = True,
    resume: bool = False,
) -> str:
    """Download `destination` from the first URL that gives a good file; return its full sha256.

    `sha256` is the full hex digest or a published prefix; None accepts any content (the caller
    pins what arrived). `size`, when known, is checked too. Raises DownloadFailed.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            return _fetch_one(url, destination, sha256, size, progress, resume)
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append(f"{url}: {_reason(error)}")
    raise DownloadFailed(failures)


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP Error {error.code}: {error.reason}"
    return f"{error.__class__.__name__}: {error}"


def _fetch_one(url: str, destination: Path, sha256: str | None, size: int | None, progress: bool, resume: bool) -> str:
    if resume:
        partial = partial_path(destination)
        start = partial.stat().st_size if partial.is_file() else 0
    else:
        handle, name = tempfile.mkstemp(prefix=".download-", dir=destination.parent)
        os.close(handle)
        partial, start = Path(name), 0
    keep_partial = False
    try:
        request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
        with urllib.request.urlopen(request, timeout=60) as response:
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
                    desc=f"downloading {destination.name}",
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                file.seek(start)
                file.truncate()
                keep_partial = resume
                for block in iter(lambda: response.read(BLOCK), b""):
                    file.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
        if total is not None and received != total:
            raise ValueError(f"truncated: got {received} of {total} bytes" + (" (kept to resume)" if resume else ""))
        keep_partial = False  # complete: whatever is wrong now, a resume would not fix it
        if size is not None and received != size:
            raise ValueError(f"wrong size: got {received} bytes, expected {size}")
        actual = digest.hexdigest()
        if sha256 is not None and not actual.startswith(sha256):
            raise ValueError(f"sha256 {actual[:16]}... does not match the expected {sha256[:16]}...")
        umask_mode(partial)
        os.replace(partial, destination)
        return actual
    finally:
        if not keep_partial and partial.exists():
            partial.unlink()


def _resume_offset(response: http.client.HTTPResponse, start: int) -> int:
    """The offset the body starts at: `start` for a 206 that continues there, else 0 (whole file)."""
    if not start or response.status != 206:
        return 0
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range") or "")
    if match is None or int(match.group(1)) != start:
        raise ValueError(f"the server resumed at {response.headers.get('Content-Range')!r}, not at byte {start}")
    return start


def _hash_prefix(path: Path, length: int) -> hashlib._Hash:
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
