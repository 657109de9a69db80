"""EDM2's statistics pickles: their structure, and the .npz converted from them, verified by content.

A pickle (read by `pickles.safe_load_pickle`) is a dict: num_images, 'fid': {'mu', 'sigma'} (NVIDIA's
port of the 2015 Inception network) and maybe 'fd_dinov2': {'mu', 'sigma'} (DINOv2 ViT-L/14). Each part
is converted once to our statistics .npz beside it; the converted file carries the sha256 of the pickle
it came from (`derived_from`) and of its own arrays (`derived_sha256`), and one that does not match them
(replaced, damaged, half-written by another tool) is rebuilt from the pickle.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InceptionScoreError, escaped
from .files import Output, atomic_write, check_outputs
from .npz import checked_pair, load_member
from .pickles import safe_load_pickle

MAX_IMAGES = 10**10  # num_images above this is not a count


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


def load_edm2(path: Path) -> dict:
    """The pickle as a dict (safely loaded), its count checked; parts are checked by `edm2_part`."""
    content = safe_load_pickle(path)
    if not isinstance(content, dict):
        raise InceptionScoreError(
            f"{escaped(path)}: expected a dict (EDM2 statistics: num_images, fid, fd_dinov2), it holds a "
            f"{type(content).__name__}"
        )
    edm2_count(content, path)
    return content


def converted_statistics(path: Path, sha256: str, part: str, pipeline_version: str | None) -> Path:
    """The statistics .npz of one part of the EDM2 pickle at `path` (whose verified sha256 is `sha256`),
    converted now or earlier; pipeline_version, when given, is recorded (it names the part's feature space)."""
    converted = path.with_name(f"{path.stem}.{sha256[:16]}{'' if part == 'fid' else '.' + part}.npz")
    if _derived_matches(converted, sha256):
        return converted
    content = load_edm2(path)
    mu, sigma = edm2_part(content, part, path)
    arrays = {"mu": mu, "sigma": sigma}
    count = edm2_count(content, path)
    if count is not None:
        arrays["n"] = np.asarray(count, np.int64)
    if pipeline_version is not None:
        arrays["pipeline_version"] = np.asarray(pipeline_version)
    arrays["derived_from"] = np.asarray(sha256)
    arrays["derived_sha256"] = np.asarray(_arrays_sha256(arrays))
    (converted,) = check_outputs([Output(converted, "converted statistics", "the reference cache")], inputs=(path,))
    with atomic_write(converted) as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]  # keyword arrays, as documented
    return converted


def _arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """sha256 of named arrays (names, dtypes, shapes and bytes, in name order), but for derived_sha256 itself."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name != "derived_sha256":
            array = np.ascontiguousarray(arrays[name])
            digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def _derived_matches(converted: Path, source_sha256: str) -> bool:
    """True when the converted file is there, was made from the pickle of this sha256, and its arrays are
    the ones it was written with."""
    try:
        with np.load(converted, allow_pickle=False) as npz:
            arrays = {name: load_member(converted, npz, name) for name in npz.files}
    except Exception:  # absent, not a regular file, damaged: rebuilt
        return False
    recorded, origin = arrays.get("derived_sha256"), arrays.get("derived_from")
    return (
        recorded is not None
        and origin is not None
        and str(origin) == source_sha256
        and str(recorded) == _arrays_sha256(arrays)
    )


def _keys(content: Any) -> str:
    """The top-level keys of a loaded pickle, for a message (text keys shown, others by their type)."""
    if not isinstance(content, dict):
        return type(content).__name__
    names = sorted(escaped(key) if isinstance(key, str) else f"<{type(key).__name__}>" for key in content)
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
