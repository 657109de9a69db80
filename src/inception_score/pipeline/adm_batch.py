"""ADM evaluator batch files: `.npz` with images `arr_0` (N x H x W x 3 uint8) and optional statistics.

One layout rule: `arr_0` may hold its images channels last (N x H x W x 3, as the evaluator writes
them) or channels first (N x 3 x H x W); the axis is read from the shape (`arrays.channel_axis`),
and a shape that could be either (3 on both axes) is an ADM batch only when a layout is given.
Both orders are the same batch: the same images, the same stored statistics, the same results.

openai/guided-diffusion's evaluator reads a sample batch (`arr_0`, maybe `arr_1` labels) and a
reference batch (`arr_0` plus `mu`, `sigma` of pool3 and `mu_s`, `sigma_s` of the spatial
features). A 50,000-image batch at 256 px is 9.8 GB, so the images are streamed a block at a
time from the zip member: `np.load(mmap_mode=...)` cannot map an array inside a zip, and
loading `arr_0` whole would need all of it in memory. Stored (np.savez) and deflated
(np.savez_compressed) members both work. Nothing is unpickled (`allow_pickle=False`).

Writing (`write_adm_images`, `add_adm_arrays`) streams the same way: `arr_0` goes into a stored ZIP64
member a block at a time, the other arrays are added after it; `adm_center_crop` is guided-diffusion's
dataset preprocessing (`center_crop_arr`), for batches of one resolution made from images of any size.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from ..errors import InceptionScoreError
from .arrays import Layout, channel_axis
from .npz import check_member, checked_pair, load_member, read_npy_header

IMAGES_KEY = "arr_0"
LABELS_KEY = "arr_1"
STATISTICS_KEYS = ("mu", "sigma", "mu_s", "sigma_s")
STATISTICS_PAIRS = (("mu", "sigma"), ("mu_s", "sigma_s"))
DEFAULT_BLOCK = 64


@dataclass(frozen=True)
class AdmBatchInfo:
    """What an ADM batch file holds, read from its zip directory and the images' .npy header."""

    path: str
    count: int  # N images in arr_0
    height: int
    width: int
    compressed: bool  # arr_0 is deflated (np.savez_compressed)
    has_labels: bool  # arr_1 present (ignored)
    statistics: tuple[str, ...]  # those of mu, sigma, mu_s, sigma_s present
    other_keys: tuple[str, ...]  # any other arrays (ignored)
    layout: Layout = "NHWC"  # how arr_0 stores its images

    def to_dict(self) -> dict[str, Any]:
        return dict(
            path=self.path,
            count=self.count,
            height=self.height,
            width=self.width,
            compressed=self.compressed,
            has_labels=self.has_labels,
            statistics=list(self.statistics),
            other_keys=list(self.other_keys),
            layout=self.layout,
        )


@dataclass(frozen=True)
class _Images:
    """arr_0's geometry: N images of H x W, stored channels last (NHWC) or first (NCHW)."""

    count: int
    height: int
    width: int
    layout: Layout


def _array_names(archive: zipfile.ZipFile) -> list[str]:
    return [name[:-4] for name in archive.namelist() if name.endswith(".npy")]


@contextmanager
def _open_archive(path: Path) -> Iterator[zipfile.ZipFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except FileNotFoundError:
        raise InceptionScoreError(f"{path}: no such file") from None
    except zipfile.BadZipFile as error:
        raise InceptionScoreError(f"{path}: not a readable .npz (zip) file ({error})") from None


def images_layout(shape: tuple[int, ...], dtype: np.dtype, fortran_order: bool, layout: Layout | None) -> Layout:
    """The layout of an arr_0 of this header, by the one rule (ValueError says why it is not an image batch)."""
    if dtype != np.uint8:
        raise ValueError(
            f"must hold uint8 images (0..255), got dtype {dtype}; convert with "
            "np.clip(x, 0, 255).astype(np.uint8) before np.savez"
        )
    if len(shape) != 4 or 3 not in (shape[1], shape[3]):
        raise ValueError(f"must be N x H x W x 3 (RGB, channels last) or N x 3 x H x W, got {shape}")
    if fortran_order:
        raise ValueError("is stored in Fortran order; save np.ascontiguousarray(x)")
    try:
        axis = channel_axis(tuple(shape), layout, IMAGES_KEY)
    except InceptionScoreError as error:
        raise ValueError(str(error).removeprefix(f"{IMAGES_KEY}: ")) from None
    if axis is None or shape[axis] != 3:
        raise ValueError(f"must hold RGB images (3 channels), got {shape}")
    found: Layout = "NHWC" if axis == 3 else "NCHW"
    height, width = (shape[1], shape[2]) if found == "NHWC" else (shape[2], shape[3])
    if height < 1 or width < 1:
        raise ValueError(f"images of shape {shape} have no pixels")
    return found


def _read_images_header(archive: zipfile.ZipFile, path: Path, layout: Layout | None) -> _Images:
    """arr_0's header, its sizes checked against the file, as an image batch of one of the two layouts."""
    check_member(path, archive, IMAGES_KEY)
    try:
        with archive.open(f"{IMAGES_KEY}.npy") as member:
            shape, fortran_order, dtype = read_npy_header(member)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise InceptionScoreError(f"{path}: the header of {IMAGES_KEY} is corrupt ({error})") from None
    try:
        found = images_layout(shape, dtype, fortran_order, layout)
    except ValueError as error:
        raise InceptionScoreError(f"{path}: {IMAGES_KEY} {error}") from None
    height, width = (shape[1], shape[2]) if found == "NHWC" else (shape[2], shape[3])
    return _Images(int(shape[0]), int(height), int(width), found)


@contextmanager
def _open_images(path: Path, layout: Layout | None = None) -> Iterator[tuple[IO[bytes], _Images, bool]]:
    with _open_archive(path) as archive:
        name = f"{IMAGES_KEY}.npy"
        if name not in archive.namelist():
            raise InceptionScoreError(
                f"{path}: no {IMAGES_KEY} in the file (it holds {_array_names(archive)}); an ADM batch stores its "
                f"images as np.savez(path, images) -> {IMAGES_KEY}"
            )
        images = _read_images_header(archive, path, layout)
        entry = archive.getinfo(name)
        with archive.open(entry) as member:
            read_npy_header(member)  # to the first pixel
            yield member, images, entry.compress_type != zipfile.ZIP_STORED


def inspect_adm_batch(path: str | Path, layout: Layout | None = None) -> AdmBatchInfo:
    """Describe an ADM batch file without reading its images.

    Parameters
    ----------
    path : str or Path
        The `.npz` file.
    layout : "NHWC", "NCHW" or None
        How arr_0 stores its images, when its shape does not tell (3 on both axes).

    Returns
    -------
    AdmBatchInfo
        Image count and size, compression, and which optional arrays are present.
    """
    path = Path(path)
    with _open_images(path, layout) as (_, images, compressed):
        pass
    with _open_archive(path) as archive:
        names = _array_names(archive)
    known = {IMAGES_KEY, LABELS_KEY, *STATISTICS_KEYS}
    return AdmBatchInfo(
        str(path),
        images.count,
        images.height,
        images.width,
        compressed,
        LABELS_KEY in names,
        tuple(key for key in STATISTICS_KEYS if key in names),
        tuple(sorted(name for name in names if name not in known)),
        images.layout,
    )


def is_adm_batch(value: object, layout: Layout | None = None) -> bool:
    """True for a path to an existing `.npz` file whose `arr_0` header declares a batch of uint8 RGB images,
    N x H x W x 3 or N x 3 x H x W (nothing else is read). A shape with 3 on both axes is one only when
    `layout` says which; otherwise it is left to the array sources, which ask for the layout. Such files
    are ADM batches: images, maybe with the evaluator's statistics, whichever their axis order."""
    if not isinstance(value, (str, os.PathLike)) or Path(value).suffix.lower() != ".npz" or not Path(value).is_file():
        return False
    try:
        with zipfile.ZipFile(value) as archive, archive.open(f"{IMAGES_KEY}.npy") as member:
            shape, fortran_order, dtype = read_npy_header(member)
        images_layout(shape, dtype, fortran_order, layout)
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error):
        return False
    return True


def _read_exactly(member: IO[bytes], into: np.ndarray) -> int:
    view = memoryview(into).cast("B")  # type: ignore[arg-type]  # numpy arrays are buffers
    filled = 0
    while filled < len(view):
        got = member.readinto(view[filled:])  # type: ignore[attr-defined]  # zip members can
        if not got:
            break
        filled += got
    return filled


def iter_adm_images(path: str | Path, block: int = DEFAULT_BLOCK, layout: Layout | None = None) -> Iterator[np.ndarray]:
    """Stream the images of an ADM batch in blocks, in file order, without loading the whole array.

    Parameters
    ----------
    path : str or Path
        The `.npz` file (stored or deflated members).
    block : int
        Images per block (the last block may be shorter).
    layout : "NHWC", "NCHW" or None
        How arr_0 stores its images, when its shape does not tell.

    Yields
    ------
    numpy.ndarray
        block x H x W x 3 uint8 (channels last, whichever way the file stores them), a new writable
        array each time.
    """
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise InceptionScoreError(f"block must be a positive integer, got {block!r}")
    path = Path(path)
    with _open_images(path, layout) as (member, images, _):
        count, height, width = images.count, images.height, images.width
        for start in range(0, count, block):
            rows = min(block, count - start)
            stored = np.empty(
                (rows, height, width, 3) if images.layout == "NHWC" else (rows, 3, height, width), np.uint8
            )
            try:
                filled = _read_exactly(member, stored)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
                raise InceptionScoreError(f"{path}: {IMAGES_KEY} is corrupt near image {start} ({error})") from None
            if filled != stored.nbytes:
                raise InceptionScoreError(
                    f"{path}: {IMAGES_KEY} ends early: image {start + filled // (height * width * 3)} of {count} "
                    "is incomplete (truncated file)"
                )
            yield stored if images.layout == "NHWC" else np.ascontiguousarray(stored.transpose(0, 2, 3, 1))


def read_adm_statistics(path: str | Path) -> dict[str, np.ndarray]:
    """The precomputed statistics of an ADM reference batch, in float64.

    Parameters
    ----------
    path : str or Path
        The `.npz` file.

    Returns
    -------
    dict
        Those of `mu`, `sigma` (pool3) and `mu_s`, `sigma_s` (spatial) the file holds; each pair
        is present in full or not at all, `mu` is d and `sigma` d x d, all finite. Empty when
        the file has none (compute them from `arr_0` then, as the evaluator does).
    """
    path = Path(path)
    with _open_archive(path) as archive:
        names = set(_array_names(archive))
    found = {}
    try:
        with np.load(path, allow_pickle=False) as arrays:
            for mean_key, cov_key in STATISTICS_PAIRS:
                if (mean_key in names) != (cov_key in names):
                    missing = cov_key if mean_key in names else mean_key
                    raise InceptionScoreError(
                        f"{path}: has {mean_key if missing == cov_key else cov_key} but not {missing}; both are needed"
                    )
                if mean_key in names:
                    found[mean_key], found[cov_key] = checked_pair(
                        load_member(path, arrays, mean_key), load_member(path, arrays, cov_key), mean_key, cov_key, path
                    )
    except (ValueError, OSError, zipfile.BadZipFile, zlib.error) as error:
        raise InceptionScoreError(f"{path}: cannot read its statistics ({error})") from None
    return found


# --- writing -------------------------------------------------------------------------------------------------


def write_adm_images(path: str | Path, blocks: Iterable[np.ndarray], count: int, height: int, width: int) -> int:
    """Write a new .npz at `path` holding only `arr_0` (count x height x width x 3 uint8), a block at a time.

    The member is stored (not deflated), as np.savez writes it, and in ZIP64 form, so 50,000 images of 256 px
    (9.8 GB) stream through without being held in memory; the ADM evaluator streams it back the same way.
    Every block must be b x height x width x 3 uint8 and the blocks must add up to `count`. Returns the bytes
    of pixels written.
    """
    header: dict[str, Any] = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
        "fortran_order": False,
        "shape": (count, height, width, 3),
    }
    written = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        with archive.open(f"{IMAGES_KEY}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            for block in blocks:
                if block.dtype != np.uint8 or block.ndim != 4 or block.shape[1:] != (height, width, 3):
                    raise InceptionScoreError(
                        f"{path}: images for {IMAGES_KEY} must be b x {height} x {width} x 3 uint8, got "
                        f"{block.dtype} {block.shape}"
                    )
                if written + len(block) > count:
                    raise InceptionScoreError(f"{path}: more than the {count} images announced for {IMAGES_KEY}")
                member.write(np.ascontiguousarray(block).data)
                written += len(block)
    if written != count:
        raise InceptionScoreError(f"{path}: {written} images written to {IMAGES_KEY}, {count} announced")
    return written * height * width * 3


def add_adm_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Add arrays (the statistics `mu`, `sigma`, `mu_s`, `sigma_s`, the labels `arr_1`) to the .npz at `path`
    as np.savez stores them: `NAME.npy` members, no pickles."""
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED, allowZip64=True) as archive:
        present = set(_array_names(archive))
        for name, value in arrays.items():
            if name in present:
                raise InceptionScoreError(f"{path}: already holds {name}")
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)


def check_labels(labels: object, count: int) -> np.ndarray:
    """Class labels for `arr_1`: N whole numbers >= 0 (guided-diffusion's sampler saves them as int64)."""
    values = np.asarray(labels)
    if values.shape != (count,) or not np.issubdtype(values.dtype, np.integer) or (count and values.min() < 0):
        raise InceptionScoreError(
            f"labels must be {count} class indices (whole numbers >= 0), one per image; got {values.dtype} "
            f"{values.shape}"
        )
    return values.astype(np.int64)


def adm_center_crop(image: Image.Image, size: int) -> np.ndarray:
    """An RGB PIL image as guided-diffusion's dataset code (`center_crop_arr`) makes it size x size uint8.

    While the shorter side is at least twice `size`, halve both sides (integer division) with a box filter;
    then scale so the shorter side is `size` (each side round(side * scale), Python's round) with PIL's
    bicubic filter; then take the centre square, offsets (side - size) // 2.
    """
    while min(image.size) >= 2 * size:
        image = image.resize((image.width // 2, image.height // 2), resample=Image.Resampling.BOX)
    scale = size / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), resample=Image.Resampling.BICUBIC)
    pixels = np.asarray(image)
    top, left = (pixels.shape[0] - size) // 2, (pixels.shape[1] - size) // 2
    return np.ascontiguousarray(pixels[top : top + size, left : left + size])


def read_labels(path: str | Path) -> np.ndarray:
    """Class labels from a `.npy` file (N whole numbers), for a sample batch's `arr_1`."""
    try:
        values = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InceptionScoreError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as error:
        raise InceptionScoreError(f"{path}: not a readable .npy array of labels ({error})") from None
    if not isinstance(values, np.ndarray):
        raise InceptionScoreError(f"{path}: an .npz holds several arrays; give the labels as one .npy array")
    return values
