"""Find a weights file: explicit path, environment, our cache, torch hub, or a verified download.

The weights are never bundled. A download goes to a temporary file in the cache folder, is
checked against the file's known sha256, and only then renamed into place. Each known file is
a `WeightsFile` (the 2015 Inception weights, torchvision's ImageNet Inception v3 weights).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InceptionScoreError
from .download import DownloadFailed, fetch_verified
from .files import copy_file, same_file

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


@dataclass(frozen=True)
class WeightsFile:
    """A known weights file: its name, checksum, where it is looked for and downloaded from."""

    description: str
    filename: str
    sha256: str | None  # the full hex digest, a published prefix (torch hub names), or None: none published
    size: int | None
    urls: tuple[str, ...]
    hub_filenames: tuple[str, ...]
    env_weights: str
    env_url: str | None = None

    def matches(self, digest: str) -> bool:
        """True when `digest` is this file's published checksum (never for a file with none published)."""
        return self.sha256 is not None and digest.startswith(self.sha256)


REFERENCE = WeightsFile(
    description="the Inception weights file",
    filename=FILENAME,
    sha256=REFERENCE_SHA256,
    size=REFERENCE_SIZE,
    urls=URLS,
    hub_filenames=HUB_FILENAMES,
    env_weights=ENV_WEIGHTS,
    env_url=ENV_URL,
)
TORCHVISION_FILENAME = "inception_v3_google-0cc3c7bd.pth"
# torchvision publishes only the first 8 hex digits of the sha256 (in the name); torch hub checks the same.
TORCHVISION = WeightsFile(
    description="torchvision's ImageNet Inception v3 weights file",
    filename=TORCHVISION_FILENAME,
    sha256="0cc3c7bd",
    size=None,
    urls=("https://download.pytorch.org/models/" + TORCHVISION_FILENAME,),
    hub_filenames=(TORCHVISION_FILENAME,),
    env_weights="INCEPTION_SCORE_TORCHVISION_WEIGHTS",
)


def cache_dir() -> Path:
    """Our cache folder: $INCEPTION_SCORE_CACHE, else ~/.cache/inception-score."""
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "inception-score")


def hub_dir() -> Path:
    """torch hub's checkpoint folder, where pytorch-fid and torch-fidelity leave their downloads."""
    torch_home = (
        os.environ.get("TORCH_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    )
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


def installed_path(spec: WeightsFile = REFERENCE) -> Path:
    """Where the weights file lives in our cache (whether or not it is there yet)."""
    return cache_dir() / spec.filename


def find_weights(spec: WeightsFile = REFERENCE) -> tuple[Path, str] | None:
    """The first weights file found without downloading, and where it came from."""
    if os.environ.get(spec.env_weights):
        return Path(os.environ[spec.env_weights]), f"${spec.env_weights}"
    if installed_path(spec).is_file():
        return installed_path(spec), "cache"
    for name in spec.hub_filenames:
        if (hub_dir() / name).is_file():
            return hub_dir() / name, "torch hub cache"
    return None


def resolve_weights(
    weights: str | Path | None = None, *, download: bool = True, progress: bool = True, spec: WeightsFile = REFERENCE
) -> Path:
    """The weights file to use: `weights`, its environment variable, our cache, torch hub, or a download."""
    if weights is not None:
        path, origin = Path(weights), "the weights option"
    else:
        found = find_weights(spec)
        if found is None:
            if not download:
                raise InceptionScoreError(_missing_message([], spec))
            return download_weights(installed_path(spec), progress=progress, spec=spec)
        path, origin = found
    if not path.is_file():
        raise InceptionScoreError(f"weights file {path} (from {origin}) does not exist")
    return path


def download_weights(
    destination: str | Path,
    *,
    urls: tuple[str, ...] | None = None,
    sha256: str | None = None,
    progress: bool = True,
    spec: WeightsFile = REFERENCE,
) -> Path:
    """Download to `destination` from the first URL that works, verified by sha256 (or its published prefix)."""
    destination = Path(destination)
    sha256 = sha256 or spec.sha256
    if urls is None:
        mirror = os.environ.get(spec.env_url) if spec.env_url else None
        urls = (mirror,) if mirror else spec.urls
    try:
        fetch_verified(urls, destination, sha256=sha256, progress=progress)
    except DownloadFailed as error:
        raise InceptionScoreError(_missing_message(error.failures, spec)) from None
    return destination


def install_weights(file: str | Path, known: tuple[WeightsFile, ...] = (REFERENCE, TORCHVISION)) -> Path:
    """Verify a downloaded copy of a known weights file and copy it into our cache.

    A file is recognised by its published sha256; one whose authors publish none (DINOv2's) by
    its published file name, its layout being checked when it is loaded.
    """
    source = Path(file)
    if not source.is_file():
        raise InceptionScoreError(f"{source}: no such file")
    actual = sha256_file(source)
    spec = next((spec for spec in known if spec.matches(actual)), None)
    if spec is None:
        spec = next((spec for spec in known if spec.sha256 is None and spec.filename == source.name), None)
    if spec is None:
        unchecked = [spec.filename for spec in known if spec.sha256 is None]
        named = f" (files without a published checksum are known by name: {', '.join(unchecked)})" if unchecked else ""
        raise InceptionScoreError(
            f"{source} is not the reference weights file "
            f"(sha256 {actual[:16]}..., expected {REFERENCE_SHA256[:16]}...) "
            f"nor another known weights file{named}. "
            f"Other weights can still be used with --weights {source}, but their scores are not comparable"
        )
    destination = installed_path(spec)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if same_file(source, destination):
        return destination  # already installed: verified above, nothing to copy
    copy_file(source, destination)
    return destination


def _missing_message(failures: list[str], spec: WeightsFile = REFERENCE) -> str:
    tried = "".join(f"\n  tried {failure}" for failure in failures)
    size = f" ({spec.size / 1e6:.1f} MB)" if spec.size else ""
    urls = "".join(f"\n  {url}" for url in spec.urls)
    return (
        f"{spec.description} {spec.filename}{size} is needed"
        f"{' and could not be downloaded' if failures else ''}.{tried}\n"
        f"Download it where there is internet access from{urls}\n"
        "then provide it in one of three ways:\n"
        "  --weights FILE (API: weights=FILE)\n"
        f"  export {spec.env_weights}=FILE\n"
        f"  inception-score weights install FILE   (copies it to {installed_path(spec)})"
    )
