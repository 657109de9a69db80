"""Named references: resolve a catalog name to a verified local file, fetch, install, pin.

Files live in `<cache>/references/`. An entry with a published sha256 is checked against it
from the first download on. Where none is published, the sha256 of the first file is recorded
in `<cache>/references/pins.json` (trust on first use, `pins`) and every later use, install or
re-download must match it; before that first pin a file must fit its entry (`reference_checks`:
format, feature space, dimensions, count, protocol). Results that use a reference print the
name, the sha256 and where the hash came from, so two users can see whether they compared
against the same bytes. The .npz converted from an EDM2 pickle is verified by content (`edm2`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InceptionScoreError, escaped
from .download import DownloadFailed, fetch_verified, partial_path
from .edm2 import converted_statistics
from .extract import PIPELINE_VERSION
from .files import Output, check_outputs, copy_file, path_exists, same_file
from .pickles import safe_load_pickle
from .pins import check_pins, ensure_references_dir, pins_path, read_pins, record_pin, references_dir
from .reference_catalog import CATALOG, EDM2_DINOV2, OURS, Protocol, Reference, find_entry
from .reference_checks import misfits
from .weights import REFERENCE_SHA256, sha256_file

ENV_REFERENCE_URL = "INCEPTION_SCORE_REFERENCE_URL"  # a mirror: base URL tried first, + the entry's filename
__all__ = ["check_pins", "pins_path", "read_pins", "references_dir", "safe_load_pickle"]  # re-exported


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
    return isinstance(value, str) and not path_exists(value) and find_entry(value) is not None


# --- hashes ---------------------------------------------------------------------------------


def expected_sha256(entry: Reference) -> tuple[str | None, str]:
    """The hash a file of `entry` must have and where it comes from (None: nothing known yet)."""
    if entry.sha256:
        return entry.sha256, "published"
    pin = read_pins().get(entry.name)
    if pin is None:
        return None, "not yet recorded"
    return pin.sha256, pin.describe()


def first_use_note(entry: Reference) -> str:
    """What `refs fetch` and `refs install` say when they record a hash: why, and what it means."""
    return (
        f"no publisher gives a sha256 for {entry.name}, so the sha256 of this file was recorded now (trust on first "
        f"use, in {pins_path()}): every later use, fetch or install of {entry.name} must match it"
    )


def _accept(entry: Reference, path: Path, origin: str) -> tuple[str, str]:
    """Check `path` against the published or pinned hash; pin it if nothing is known yet."""
    actual = sha256_file(path)
    expected, where = expected_sha256(entry)
    if expected is None:
        record_pin(entry.name, actual, path.stat().st_size, origin)
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
    """Download `entry` into the cache (resumable, one process at a time), checked to fit the entry and
    verified against its published or pinned hash before it is pinned."""
    if not entry.downloadable:
        raise InceptionScoreError(
            f"reference {entry.name!r} is not downloadable: build it from your copy of {entry.dataset} with "
            f"'inception-score refs build {entry.name} --data DIR'"
        )
    ensure_references_dir()
    destination = installed_path(entry)
    if urls is None:
        mirror = os.environ.get(ENV_REFERENCE_URL)
        urls = ((mirror.rstrip("/") + "/" + entry.filename,) if mirror else ()) + entry.urls
    expected, _ = expected_sha256(entry)
    try:
        fetch_verified(
            urls,
            destination,
            sha256=expected,
            size=entry.size,
            progress=progress,
            resume=True,
            check=lambda path: _check_fetched(entry, path),
        )
    except DownloadFailed as error:
        raise InceptionScoreError(missing_message(entry, error.failures)) from None
    _accept(entry, destination, origin=urls[0] if len(urls) == 1 else "download")
    return destination


def _check_fetched(entry: Reference, path: Path) -> None:
    """A downloaded file must be of the entry's format and fit it (an HTML error page, a truncated body or
    another file is refused before it is pinned); raises ValueError, which makes the URL a failure."""
    try:
        found = misfits(entry, path)
    except InceptionScoreError as error:
        raise ValueError(f"not a {entry.file_format} file ({_without_path(str(error), path)})") from None
    if found:
        raise ValueError(f"does not fit {entry.name}: {'; '.join(found)}")


def _without_path(message: str, path: Path) -> str:
    """A message about a temporary download file, without its (meaningless) name."""
    return message.replace(f"{escaped(path)}: ", "").replace(f"{path}: ", "")


@dataclass(frozen=True)
class Installed:
    """A reference copied into the cache by `install`, and what the user should be told about it."""

    path: Path
    sha256: str
    origin: str  # where its hash comes from
    notes: tuple[str, ...]  # the misfits --force accepted, and the first-use note


def install(entry: Reference, file: str | Path, *, force: bool = False) -> Installed:
    """Verify a copy of `entry` obtained elsewhere (format, fit to the entry, hash) and copy it into the cache.

    force: install a file that does not fit the entry (its misfits are returned as notes); the hash is
    still checked against a published or pinned one.
    """
    source = Path(file)
    if not source.is_file():
        raise InceptionScoreError(f"{source}: no such file")
    try:
        found = misfits(entry, source)
    except InceptionScoreError as error:
        raise InceptionScoreError(f"{error}; not installed") from None
    if found and not force:
        raise InceptionScoreError(
            f"{source} does not fit {entry.name} ({entry.dataset}, {entry.split}, {entry.protocol.name}): "
            f"{'; '.join(found)}. Not installed; pass --force (API: force=True) if it is {entry.name} nonetheless"
        )
    destination = installed_path(entry)
    ensure_references_dir()
    check_pins()
    expected, where = expected_sha256(entry)
    actual = sha256_file(source)
    if expected is not None and not actual.startswith(expected):
        raise InceptionScoreError(
            f"{source}: sha256 {actual} is not the {where} sha256 {expected} of reference {entry.name!r}; not installed"
        )
    if not same_file(source, destination):  # installing the installed file again only verifies it
        copy_file(source, destination)
    pinned_before = expected is not None
    sha256, origin = _accept(entry, destination, origin=f"install {source.name}")
    notes = tuple(f"installed despite: {misfit} (--force)" for misfit in found)
    return Installed(destination, sha256, origin, notes + (() if pinned_before else (first_use_note(entry),)))


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


def build_destination(entry: Reference, data: object = None) -> Path:
    """Where `refs build` writes `entry`, checked before the work: a buildable entry, a usable references
    folder and pins file, and not one of the dataset's files."""
    if entry.build is None:
        raise InceptionScoreError(
            f"reference {entry.name!r} is published, not built: 'inception-score refs fetch {entry.name}'; "
            f"buildable: {', '.join(e.name for e in CATALOG if e.build)}"
        )
    ensure_references_dir()
    check_pins()  # a damaged pins file is said now, not after the statistics are written
    (destination,) = check_outputs([Output(installed_path(entry), "built reference", "refs build")], inputs=(data,))
    return destination


def record_build(entry: Reference, path: Path) -> str:
    """Pin a freshly built reference (a rebuild replaces the pin: the user made it)."""
    sha256 = sha256_file(path)
    record_pin(entry.name, sha256, path.stat().st_size, "refs build")
    return sha256


def statistics_from_pickle(entry: Reference, path: Path, sha256: str, protocol: Protocol) -> Path:
    """The .npz of one part of an EDM2 statistics pickle (`edm2.converted_statistics`): 'fid', or the
    'fd_dinov2' part, which records its extractor so it is compared only with DINOv2 ViT-L/14 features."""
    if protocol is EDM2_DINOV2:
        version = f"{protocol.computed_by}; extractor {protocol.extractor} (EDM2)"  # read back as its extractor
        return converted_statistics(path, sha256, "fd_dinov2", version)
    return converted_statistics(path, sha256, "fid", None)


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
        pins=str(pins_path()),
        build=entry.build,
        sources=list(entry.sources),
        unchecked=list(entry.unchecked),
    )
