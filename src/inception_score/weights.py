"""Find the 2015 Inception weights: explicit path, environment, our cache, torch hub, or a verified download.

The weights are never bundled. A download goes to a temporary file in the cache folder, is
checked against the file's known sha256, and only then renamed into place.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from pathlib import Path

from tqdm import tqdm

from .errors import InceptionScoreError

REFERENCE_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
REFERENCE_SIZE = 95_628_359
FILENAME = "pt_inception-2015-12-05-6726825d.pth"
# pytorch-fid and torch-fidelity keep the same bytes under these names in the torch hub cache.
HUB_FILENAMES = (FILENAME, "weights-inception-2015-12-05-6726825d.pth")
URLS = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FILENAME,
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
)
ENV_WEIGHTS = "INCEPTION_SCORE_WEIGHTS"
ENV_CACHE = "INCEPTION_SCORE_CACHE"
ENV_URL = "INCEPTION_SCORE_WEIGHTS_URL"  # a mirror, tried instead of the public URLs
_hash_memo: dict[tuple[str, int, int], str] = {}


def cache_dir() -> Path:
    """Our cache folder: $INCEPTION_SCORE_CACHE, else ~/.cache/inception-score."""
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "inception-score")


def hub_dir() -> Path:
    """torch hub's checkpoint folder, where pytorch-fid and torch-fidelity leave their downloads."""
    torch_home = os.environ.get("TORCH_HOME") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    return Path(torch_home) / "hub" / "checkpoints"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, remembered per (path, size, mtime) for the life of the process."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hash_memo:
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        _hash_memo[key] = digest.hexdigest()
    return _hash_memo[key]


def installed_path() -> Path:
    """Where the reference weights live in our cache (whether or not they are there yet)."""
    return cache_dir() / FILENAME


def find_weights() -> tuple[Path, str] | None:
    """The first weights file found without downloading, and where it came from."""
    if os.environ.get(ENV_WEIGHTS):
        return Path(os.environ[ENV_WEIGHTS]), f"${ENV_WEIGHTS}"
    if installed_path().is_file():
        return installed_path(), "cache"
    for name in HUB_FILENAMES:
        if (hub_dir() / name).is_file():
            return hub_dir() / name, "torch hub cache"
    return None


def resolve_weights(weights: str | Path | None = None, *, download: bool = True, progress: bool = True) -> Path:
    """The weights file to use: `weights`, $INCEPTION_SCORE_WEIGHTS, our cache, torch hub, or a download."""
    if weights is not None:
        path, origin = Path(weights), "the weights option"
    else:
        found = find_weights()
        if found is None:
            if not download:
                raise InceptionScoreError(_missing_message([]))
            return download_weights(installed_path(), progress=progress)
        path, origin = found
    if not path.is_file():
        raise InceptionScoreError(f"weights file {path} (from {origin}) does not exist")
    return path


def download_weights(destination: str | Path, *, urls: tuple[str, ...] | None = None,
                     sha256: str = REFERENCE_SHA256, progress: bool = True) -> Path:
    """Download to `destination` from the first URL that works, verified by sha256, atomically."""
    destination = Path(destination)
    if urls is None:
        urls = (os.environ[ENV_URL],) if os.environ.get(ENV_URL) else URLS
    failures = []
    for url in urls:
        try:
            _download_verified(url, destination, sha256, progress)
            return destination
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append(f"{url}: {error.__class__.__name__}: {error}")
    raise InceptionScoreError(_missing_message(failures))


def _download_verified(url: str, destination: Path, sha256: str, progress: bool) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    received = 0
    with urllib.request.urlopen(url, timeout=60) as response:
        expected_size = int(response.headers.get("Content-Length") or 0) or None
        handle, temporary = tempfile.mkstemp(prefix=".download-", dir=destination.parent)
        try:
            with os.fdopen(handle, "wb") as file, tqdm(
                    total=expected_size, unit="B", unit_scale=True, desc=f"downloading {destination.name}",
                    disable=not progress, leave=False) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    file.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            if expected_size is not None and received != expected_size:
                raise ValueError(f"truncated: got {received} of {expected_size} bytes")
            if digest.hexdigest() != sha256:
                raise ValueError(f"sha256 {digest.hexdigest()[:16]}... does not match the expected {sha256[:16]}...")
            os.replace(temporary, destination)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)


def install_weights(file: str | Path) -> Path:
    """Verify a downloaded copy of the reference weights and copy it into our cache atomically."""
    source = Path(file)
    if not source.is_file():
        raise InceptionScoreError(f"{source}: no such file")
    actual = sha256_file(source)
    if actual != REFERENCE_SHA256:
        raise InceptionScoreError(
            f"{source} is not the reference weights file (sha256 {actual[:16]}..., expected {REFERENCE_SHA256[:16]}...). "
            f"Other weights can still be used with --weights {source}, but their scores are not comparable")
    destination = installed_path()
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".install-", dir=destination.parent)
    try:
        with os.fdopen(handle, "wb") as out, open(source, "rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return destination


def _missing_message(failures: list[str]) -> str:
    tried = "".join(f"\n  tried {failure}" for failure in failures)
    return (
        f"the Inception weights file {FILENAME} ({REFERENCE_SIZE / 1e6:.1f} MB) is needed"
        f"{' and could not be downloaded' if failures else ''}.{tried}\n"
        f"Download it where there is internet access from\n  {URLS[0]}\n  {URLS[1]}\n"
        "then provide it in one of three ways:\n"
        "  --weights FILE (API: weights=FILE)\n"
        f"  export {ENV_WEIGHTS}=FILE\n"
        f"  inception-score weights install FILE   (copies it to {installed_path()})")
