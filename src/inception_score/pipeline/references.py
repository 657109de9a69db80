"""Named references: resolve a catalog name to a verified local file, fetch, install, pin.

Files live in `<cache>/references/`. An entry with a published sha256 is checked against it
from the first download on. Where none is published, the sha256 of the first file is recorded
in `<cache>/references/pins.json` (trust on first use) and every later use, install or
re-download must match it. Results that use a reference print the name, the sha256 and where
the hash came from, so two users can see whether they compared against the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InceptionScoreError
from .download import DownloadFailed, fetch_verified, partial_path
from .extract import PIPELINE_VERSION
from .files import umask_mode
from .reference_catalog import CATALOG, EDM2_DINOV2, OURS, Protocol, Reference, find_entry
from .weights import REFERENCE_SHA256, cache_dir, sha256_file

ENV_REFERENCE_URL = "INCEPTION_SCORE_REFERENCE_URL"  # a mirror: base URL tried first, + the entry's filename


@dataclass(frozen=True)
class Resolved:
    """A catalog entry found on disk and verified."""

    entry: Reference
    path: Path  # the file the engine reads (for a .pkl entry: the .npz converted from it)
    sha256: str  # of the downloaded / installed file
    hash_origin: str  # "published" or "recorded at first use <date> from <where>"
    protocol: Protocol  # of the statistics read: the entry's, or EDM2_DINOV2 for an EDM2 file's fd_dinov2 part

    def provenance(self, n: int | None = None) -> dict[str, Any]:
        """What a result says about its reference."""
        return dict(
            catalog_name=self.entry.name,
            sha256=self.sha256,
            sha256_origin=self.hash_origin,
            protocol=self.protocol.name,
            dataset=f"{self.entry.dataset}, {self.entry.split}, {self.entry.resolution}",
            n=n if n is not None else self.entry.count,
            file=str(self.path),
        )


def references_dir() -> Path:
    return cache_dir() / "references"


def installed_path(entry: Reference) -> Path:
    return references_dir() / entry.filename


def entry_named(name: str) -> Reference:
    """The catalog entry `name`, or an error that lists the names."""
    entry = find_entry(name)
    if entry is None:
        raise InceptionScoreError(
            f"{name!r} is neither a file nor a catalog reference; names: {', '.join(e.name for e in CATALOG)} "
            "(see 'inception-score refs list')"
        )
    return entry


def is_catalog_name(value: object) -> bool:
    """True for a string that names a catalog entry and is not an existing path (a path wins)."""
    return isinstance(value, str) and not Path(value).exists() and find_entry(value) is not None


# --- pins -----------------------------------------------------------------------------------


def pins_path() -> Path:
    return references_dir() / "pins.json"


def read_pins() -> dict[str, dict[str, Any]]:
    path = pins_path()
    if not path.is_file():
        return {}
    try:
        pins = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InceptionScoreError(f"{path}: the reference pins cannot be read ({error}); fix or delete it") from None
    if not isinstance(pins, dict):
        raise InceptionScoreError(f"{path}: the reference pins should be a JSON object")
    return pins


def _record_pin(entry: Reference, sha256: str, size: int, origin: str) -> dict[str, Any]:
    """Add or replace `entry`'s pin: read, update and rewrite the pins under a lock (other processes may be
    pinning other references), replaced atomically with the umask's permissions."""
    path = pins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.parent / ".pins.lock"):
        pins = read_pins()
        pins[entry.name] = dict(sha256=sha256, size=size, origin=origin, recorded=time.strftime("%Y-%m-%d"))
        handle, temporary = tempfile.mkstemp(prefix=".pins-", dir=path.parent)
        try:
            with os.fdopen(handle, "w") as file:
                json.dump(pins, file, indent=2, sort_keys=True)
            umask_mode(temporary)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return pins[entry.name]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if missing) for the block; no lock where fcntl is missing (Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def expected_sha256(entry: Reference) -> tuple[str | None, str]:
    """The hash a file of `entry` must have and where it comes from (None: nothing known yet)."""
    if entry.sha256:
        return entry.sha256, "published"
    pin = read_pins().get(entry.name)
    if pin is None:
        return None, "not yet recorded"
    return str(pin["sha256"]), f"recorded at first use {pin.get('recorded', '?')} from {pin.get('origin', '?')}"


def _accept(entry: Reference, path: Path, origin: str) -> tuple[str, str]:
    """Check `path` against the published or pinned hash; pin it if nothing is known yet."""
    actual = sha256_file(path)
    expected, where = expected_sha256(entry)
    if expected is None:
        _record_pin(entry, actual, path.stat().st_size, origin)
        return actual, expected_sha256(entry)[1]
    if not actual.startswith(expected):
        raise InceptionScoreError(
            f"{path}: sha256 {actual} does not match the {where} sha256 {expected} of reference {entry.name!r}. "
            f"The file changed since it was pinned (damaged, or replaced upstream). Delete it and fetch again "
            f"('inception-score refs fetch {entry.name}'); if the new file is wanted, remove the pin for "
            f"{entry.name!r} from {pins_path()} first"
        )
    return actual, where


# --- fetch, install, resolve ----------------------------------------------------------------


def check_protocol(entry: Reference, allow_other_protocol: bool) -> None:
    """Refuse an entry computed with a different protocol unless the user said so."""
    if entry.protocol.comparable == "different" and not allow_other_protocol:
        raise InceptionScoreError(
            f"reference {entry.name!r} was computed with another protocol ({entry.protocol.name}: "
            f"{entry.protocol.resize}); FIDs against it are not comparable with ours nor with published "
            "TF-protocol numbers. Pass --allow-other-protocol (API: allow_other_protocol=True) to use it anyway"
        )


def fetch(entry: Reference, *, progress: bool = True, urls: tuple[str, ...] | None = None) -> Path:
    """Download `entry` into the cache (resumable), verified against its published or pinned hash."""
    if not entry.downloadable:
        raise InceptionScoreError(
            f"reference {entry.name!r} is not downloadable: build it from your copy of {entry.dataset} with "
            f"'inception-score refs build {entry.name} --data DIR'"
        )
    destination = installed_path(entry)
    if urls is None:
        mirror = os.environ.get(ENV_REFERENCE_URL)
        urls = ((mirror.rstrip("/") + "/" + entry.filename,) if mirror else ()) + entry.urls
    expected, _ = expected_sha256(entry)
    try:
        fetch_verified(urls, destination, sha256=expected, size=entry.size, progress=progress, resume=True)
    except DownloadFailed as error:
        raise InceptionScoreError(missing_message(entry, error.failures)) from None
    _accept(entry, destination, origin=urls[0] if len(urls) == 1 else "download")
    return destination


def install(entry: Reference, file: str | Path) -> Path:
    """Verify a copy of `entry` obtained elsewhere and copy it into the cache."""
    source = Path(file)
    if not source.is_file():
        raise InceptionScoreError(f"{source}: no such file")
    _check_format(entry, source)
    destination = installed_path(entry)
    destination.parent.mkdir(parents=True, exist_ok=True)
    expected, where = expected_sha256(entry)
    actual = sha256_file(source)
    if expected is not None and not actual.startswith(expected):
        raise InceptionScoreError(
            f"{source}: sha256 {actual} is not the {where} sha256 {expected} of reference {entry.name!r}; not installed"
        )
    handle, temporary = tempfile.mkstemp(prefix=".install-", dir=destination.parent)
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    _accept(entry, destination, origin=f"install {source.name}")
    return destination


def resolve(
    name: str,
    *,
    download: bool = True,
    progress: bool = True,
    allow_other_protocol: bool = False,
    space: str = "inception-2015",
) -> Resolved:
    """The verified local file of catalog entry `name`, fetched first if needed and allowed.

    space: the extractor whose features will be compared with it. The catalog's statistics are
    Inception's, except an EDM2 file's fd_dinov2 part (DINOv2 ViT-L/14, EDM2's protocol).
    """
    entry = entry_named(name)
    protocol = _protocol_for(entry, space)
    if protocol is entry.protocol:
        check_protocol(entry, allow_other_protocol)
    path = installed_path(entry)
    if not path.is_file():
        if not entry.downloadable:
            raise InceptionScoreError(
                f"reference {entry.name!r} is built locally and is not built yet: "
                f"'inception-score refs build {entry.name} --data DIR' ({entry.dataset}, {entry.split})"
            )
        if not download:
            raise InceptionScoreError(missing_message(entry, []))
        fetch(entry, progress=progress)
    sha256, origin = _accept(entry, path, origin="file found in the cache")
    if entry.file_format == "edm2-pkl":
        return Resolved(entry, statistics_from_pickle(entry, path, sha256, protocol), sha256, origin, protocol)
    return Resolved(entry, path, sha256, origin, protocol)


def _protocol_for(entry: Reference, space: str) -> Protocol:
    """The protocol of the entry's statistics in feature space `space`; refused when it has none there."""
    if not space.startswith(("dinov2", "clip")):
        return entry.protocol  # Inception's (a custom module's features are checked against it by shape)
    if entry.file_format == "edm2-pkl" and space == EDM2_DINOV2.extractor:
        return EDM2_DINOV2
    if entry.file_format == "edm2-pkl" and space.startswith("dinov2"):
        raise InceptionScoreError(
            f"reference {entry.name!r} holds EDM2's FD_DINOv2 statistics of {EDM2_DINOV2.extractor} (EDM2's resize); "
            f"these features are {space}'s: use --classifier {EDM2_DINOV2.extractor} (fd_dinov2's default extractor)"
        )
    held = (
        "Inception statistics (FID) and EDM2's FD_DINOv2 statistics"
        if entry.file_format == "edm2-pkl"
        else ("Inception statistics only")
    )
    raise InceptionScoreError(
        f"reference {entry.name!r} holds {held}, not {space} features: compare {space} features with reference "
        f"images or a statistics file written with --classifier {space}"
        + ("; EDM2's references (edm2-img512) hold FD_DINOv2 statistics" if space.startswith("dinov2") else "")
    )


def missing_message(entry: Reference, failures: list[str]) -> str:
    tried = "".join(f"\n  tried {failure}" for failure in failures)
    urls = "".join(f"\n  {url}" for url in entry.urls)
    expected, where = expected_sha256(entry)
    check = f"sha256 {expected} ({where})" if expected else "no published sha256: its hash is recorded at install"
    return (
        f"reference {entry.name!r} ({entry.filename}) is needed{' and could not be downloaded' if failures else ''}."
        f"{tried}\nDownload it where there is internet access from{urls}\n"
        f"then: inception-score refs install {entry.name} FILE   (checks it: {check}; copies it to "
        f"{installed_path(entry)})\nor set {ENV_REFERENCE_URL} to a mirror folder that holds {entry.filename}"
    )


def build_destination(entry: Reference) -> Path:
    """Where `refs build` writes `entry` (checked to be a buildable entry)."""
    if entry.build is None:
        raise InceptionScoreError(
            f"reference {entry.name!r} is published, not built: 'inception-score refs fetch {entry.name}'; "
            f"buildable: {', '.join(e.name for e in CATALOG if e.build)}"
        )
    installed_path(entry).parent.mkdir(parents=True, exist_ok=True)
    return installed_path(entry)


def record_build(entry: Reference, path: Path) -> str:
    """Pin a freshly built reference (a rebuild replaces the pin: the user made it)."""
    sha256 = sha256_file(path)
    _record_pin(entry, sha256, path.stat().st_size, "refs build")
    return sha256


def _check_format(entry: Reference, path: Path) -> None:
    """A quick look that an installed file is of the entry's kind (the hash is the real check)."""
    if entry.file_format == "edm2-pkl":
        safe_load_pickle(path)
        return
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
    except (OSError, ValueError) as error:
        raise InceptionScoreError(f"{path}: not a .npz file ({error}); not installed") from None
    needed = {"arr_0"} if entry.file_format == "adm-batch" else {"mu", "sigma"}
    if not (needed <= keys or {"mu", "sigma"} <= keys):
        raise InceptionScoreError(
            f"{path}: has {sorted(keys)}, a {entry.file_format} file needs {sorted(needed)}; not installed"
        )


# --- pickles ----------------------------------------------------------------------------------

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in pickles of protocol < 3 (e.g. written by Python 2)
}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays, numbers, strings, bytes, lists, tuples and dicts; nothing that runs code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: only numpy arrays and plain containers are loaded")


def safe_load_pickle(path: str | Path, *, encoding: str = "ASCII") -> Any:
    """Load a pickle that may only hold numpy arrays and plain containers; anything else is refused."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            return _ArraysOnly(file, encoding=encoding).load()
    except pickle.UnpicklingError as error:
        raise InceptionScoreError(f"{path}: {error}; the file was not loaded") from None
    except (OSError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise InceptionScoreError(f"{path}: not a readable pickle of arrays ({error})") from None


def statistics_from_pickle(entry: Reference, path: Path, sha256: str, protocol: Protocol) -> Path:
    """Convert one part of an EDM2 statistics pickle (a dict: num_images, 'fid': {'mu', 'sigma'}, maybe
    'fd_dinov2': {'mu', 'sigma'}) to our .npz, once per hash and part; the fd_dinov2 part records its
    extractor, so it is compared only with DINOv2 ViT-L/14 features."""
    part = "fd_dinov2" if protocol is EDM2_DINOV2 else "fid"
    converted = path.with_name(f"{path.stem}.{sha256[:16]}{'' if part == 'fid' else '.' + part}.npz")
    if converted.is_file():
        return converted
    content = safe_load_pickle(path)
    statistics = content.get(part) if isinstance(content, dict) else None
    if not (isinstance(statistics, dict) and {"mu", "sigma"} <= set(statistics)):
        held = ", ".join(sorted(map(str, content))) if isinstance(content, dict) else type(content).__name__
        raise InceptionScoreError(
            f"{path}: expected a dict with {part!r}: {{'mu', 'sigma'}} (EDM2 statistics); it holds: {held}"
        )
    arrays = {"mu": np.asarray(statistics["mu"], np.float64), "sigma": np.asarray(statistics["sigma"], np.float64)}
    if isinstance(content.get("num_images"), int):
        arrays["n"] = np.asarray(content["num_images"], np.int64)
    if part != "fid":  # the feature space, read back as Statistics.extractor
        arrays["pipeline_version"] = np.asarray(f"{protocol.computed_by}; extractor {protocol.extractor} (EDM2)")
    handle, temporary = tempfile.mkstemp(prefix=".convert-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)  # type: ignore[arg-type]  # keyword arrays, as documented
        os.replace(temporary, converted)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return converted


def protocol_warnings(
    entry: Reference, weights_sha256: str | None, pipeline_version: str | None, protocol: Protocol | None = None
) -> list[str]:
    """Warnings when features computed one way are compared with a reference computed another way
    (`protocol`: of the statistics read, default the entry's)."""
    protocol = protocol or entry.protocol
    if protocol.extractor != "inception-2015":  # another space: the feature-space check has matched it
        return [
            f"reference {entry.name!r} ({protocol.name}) was computed by other code ({protocol.computed_by}; "
            f"{protocol.network}; {protocol.resize}): the same network and resize done separately, so expect "
            "small differences from statistics made with this package"
        ]
    if protocol.comparable == "different":
        return [
            f"reference {entry.name!r} was computed with another protocol ({protocol.name}: {protocol.resize}); "
            f"these features were computed with {pipeline_version or PIPELINE_VERSION}: this FID is NOT "
            "comparable with published TF-protocol numbers nor with clean-fid's own"
        ]
    warnings = []
    if protocol.comparable == "close":
        warnings.append(
            f"reference {entry.name!r} was computed by other code ({protocol.computed_by}; {protocol.network}): "
            "the same network ported separately, so expect small differences from a reference made with ours"
        )
    if protocol is not OURS:  # our own files carry weights/pipeline keys, checked by the statistics reader
        if weights_sha256 is not None and weights_sha256 != REFERENCE_SHA256:
            warnings.append(
                f"reference {entry.name!r} holds features of the 2015 Inception network ({protocol.name}); these "
                f"come from weights {weights_sha256[:12]}...: distances between different networks are meaningless"
            )
        elif pipeline_version is not None and (
            not pipeline_version.startswith(PIPELINE_VERSION) or "extractor" in pipeline_version
        ):
            warnings.append(
                f"reference {entry.name!r} was computed with {protocol.name} ({protocol.resize}); these features "
                f"with {pipeline_version!r}: the numbers are not comparable"
            )
    return warnings


def read_cifar10_batches(folder: str | Path) -> np.ndarray:
    """The 50,000 CIFAR-10 training images (N x 32 x 32 x 3 uint8) from the python version's batches."""
    folder = Path(folder)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise InceptionScoreError(
            f"{folder}: missing {', '.join(missing)}; give the folder of the CIFAR-10 python version "
            "(cifar-10-python.tar.gz extracted: cifar-10-batches-py)"
        )
    blocks = []
    for name in names:
        batch = safe_load_pickle(folder / name, encoding="bytes")
        data = batch.get(b"data") if isinstance(batch, dict) else None
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise InceptionScoreError(f"{folder / name}: expected b'data' as N x 3072 uint8, the CIFAR-10 layout")
        blocks.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.ascontiguousarray(np.concatenate(blocks))


def describe(entry: Reference) -> dict[str, Any]:
    """Everything known about an entry and its local state, for `refs info`."""
    expected, where = expected_sha256(entry)
    path = installed_path(entry)
    return dict(
        name=entry.name,
        dataset=entry.dataset,
        split=entry.split,
        resolution=entry.resolution,
        images=entry.count,
        protocol=dict(
            name=entry.protocol.name,
            network=entry.protocol.network,
            resize=entry.protocol.resize,
            computed_by=entry.protocol.computed_by,
            comparable_with_ours=entry.protocol.comparable,
        ),
        metrics=list(entry.metrics),
        format=entry.file_format,
        urls=list(entry.urls),
        size=entry.size,
        sha256=expected,
        sha256_origin=where,
        installed=str(path) if path.is_file() else None,
        partial_download=str(partial_path(path)) if partial_path(path).is_file() else None,
        build=entry.build,
        sources=list(entry.sources),
        unchecked=list(entry.unchecked),
    )
