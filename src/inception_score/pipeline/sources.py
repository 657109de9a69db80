"""Inputs: turn what the user has into a sequence of samples, then decode each to uint8 RGB.

A source yields `Sample`s: a name for messages (file path, archive member, array index) and
either the encoded file bytes or an already decoded H x W x 3 uint8 array. Decoding is a
separate step (`decode`) so it can run in workers and be skipped for cached images.

Sources: a folder (recursive), an image file or a list of them, a .zip / .tar / .tar.gz / .tgz
archive (read in place), an .npy / .npz file, a numpy array or torch tensor, a list of PIL
images, an iterable of batches (streamed, read once) and a callable `sample(batch_size)` with
`num_samples` (streamed). Files and archives are read in sorted path order.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import InceptionScoreError, escaped, plural
from .adm_batch import IMAGES_KEY, inspect_adm_batch, is_adm_batch, iter_adm_images
from .arrays import DEFAULT_VALUE_RANGE, ArrayImages, Layout, check_layout, check_value_range, is_array
from .npz import load_member

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
DEFAULT_MAX_PIXELS = 178_956_970  # PIL's own decompression-bomb limit
MAX_MEMBER_BYTES = 1 << 30  # one archive member, uncompressed: more than any image under max_pixels needs
DEFAULT_SAMPLE_BATCH = 64  # images asked of a `sample(batch_size)` callable at a time
OnError = Literal["stop", "skip"]
_SKIP_HINT = "replace or remove it, or skip such files with --skip-bad (on_error='skip')"


@dataclass(frozen=True)
class Sample:
    """One image before decoding: encoded file bytes, or a decoded H x W x 3 uint8 array.

    `error` says why a file could not be read; decoding such a sample raises it.
    """

    name: str
    data: bytes | np.ndarray
    error: str | None = None


class Source:
    """A sequence of samples with a one-line description.

    kind "sequence": sized and re-iterable, any shard can be read; "stream": an iterable read
    once from its start, its length (`total`) may be unknown until read; "sampler": a callable
    that draws `total` images, any number at a time (`sampler` is the callable).
    """

    def __init__(
        self,
        description: str,
        total: int | None,
        read: Callable[[int, int | None], Iterator[Sample]],
        *,
        kind: str = "sequence",
        sampler: Callable[[int], Any] | None = None,
        ignored: int = 0,
    ) -> None:
        self.description = description
        self.total = total
        self.kind = kind
        self.sampler = sampler
        self.ignored = ignored  # files seen that are not images (folders and archives)
        self._read = read

    @property
    def streamed(self) -> bool:
        """True when the images are produced while scoring (generators, callables), not stored."""
        return self.kind != "sequence"

    def __len__(self) -> int:
        if self.total is None:
            raise InceptionScoreError(f"{self.description}: the number of images is not known until it is read")
        return self.total

    def __iter__(self) -> Iterator[Sample]:
        return self.iterate()

    def iterate(self, start: int = 0, stop: int | None = None) -> Iterator[Sample]:
        """Samples start..stop in input order (a shard of the source); a stream only from its start."""
        if self.total is not None:
            stop = self.total if stop is None else min(stop, self.total)
        if self.kind == "stream" and start != 0:
            raise InceptionScoreError(f"{self.description}: a stream is read once from its start, not in shards")
        return self._read(start, stop)


def open_source(
    source: Any,
    *,
    npz_key: str | None = None,
    value_range: Any = None,
    layout: Layout | None = None,
    num_samples: int | None = None,
    batch_size: int | None = None,
) -> Source:
    """Wrap what the user has as a Source (see the module docstring for what is accepted).

    npz_key: the array of an .npz file (needed when it holds several); value_range: of float images,
    (0, 1) (default), (-1, 1) or (0, 255); layout: "NHWC" or "NCHW" when the shape does not
    tell; num_samples: images to draw from a callable (or to take from an iterable);
    batch_size: images asked of a callable per call (default 64).
    """
    if isinstance(source, Source):
        return source
    value_range = check_value_range(value_range) if value_range is not None else DEFAULT_VALUE_RANGE
    layout = check_layout(layout)
    arrays = dict(layout=layout, value_range=value_range)
    is_path = isinstance(source, (str, os.PathLike))
    if npz_key is not None and not (is_path and Path(source).suffix.lower() == ".npz"):
        raise InceptionScoreError(f"npz_key={npz_key!r} (--npz-key) is for .npz files; the input is {_what(source)}")
    if num_samples is not None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise InceptionScoreError(f"num_samples must be a positive integer, got {num_samples!r}")
        if is_path or is_array(source) or isinstance(source, (list, tuple)):
            raise InceptionScoreError(f"num_samples is for callables and iterables; the input is {_what(source)}")
    if is_path:
        return _path_source(Path(source), npz_key, arrays)
    if is_array(source):
        return _array_source(source, "array", **arrays)
    if isinstance(source, (list, tuple)):
        return _list_source(source, arrays)
    if callable(source):
        if num_samples is None:
            raise InceptionScoreError(
                "a callable source sample(batch_size) needs num_samples=N: how many images "
                "to draw (50,000 is the convention)"
            )
        return _sampler_source(source, num_samples, batch_size or DEFAULT_SAMPLE_BATCH, arrays)
    if isinstance(source, Iterable) and not isinstance(source, (bytes, dict)):
        return _stream_source(source, num_samples, arrays)
    raise InceptionScoreError(
        f"cannot score a {type(source).__name__}: give a folder, an archive, an image, .npy or .npz file, a list "
        "of image paths or PIL images, a uint8 or float array/tensor, an iterable of batches, or a callable "
        "sample(batch_size) with num_samples"
    )


def _what(source: Any) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else f"a {type(source).__name__}"


def _path_source(path: Path, npz_key: str | None, arrays: dict) -> Source:
    if not path.exists():
        raise InceptionScoreError(f"{escaped(path)}: no such file or folder")
    if path.is_dir():
        return _folder_source(path)
    name = path.name.lower()
    if name.endswith(ARCHIVE_SUFFIXES):
        return _archive_source(path)
    if name.endswith(".npz") and npz_key in (None, IMAGES_KEY) and is_adm_batch(path, arrays["layout"]):
        return _adm_batch_source(path, arrays["layout"])
    if name.endswith((".npy", ".npz")):
        return _array_file_source(path, npz_key, arrays)
    return _file_list_source([path], str(path))


def _adm_batch_source(path: Path, layout: Layout | None) -> Source:
    """An ADM batch (`arr_0`: N x H x W x 3 or N x 3 x H x W uint8), streamed a block at a time from the zip
    member. Samples are named as those of any .npz array; a shard starting at `start` reads past the rows before it.
    """
    info = inspect_adm_batch(path, layout)

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        stop = info.count if stop is None else stop
        index = 0
        for block in iter_adm_images(path, layout=layout):
            for image in block:
                if start <= index < stop:
                    yield Sample(f"{path}[{IMAGES_KEY}] index {index}", image)
                index += 1
            if index >= stop:
                return

    shape = (info.count, info.height, info.width, 3)
    return Source(f"{path}[{IMAGES_KEY}] {shape}", info.count, read)


def _folder_source(folder: Path) -> Source:
    files = [p for p in folder.rglob("*") if p.is_file()]
    images = sorted(
        (p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: p.relative_to(folder).as_posix()
    )
    if not images:
        raise InceptionScoreError(_no_images(folder, "folder", len(files)))
    return _file_list_source(images, f"folder {escaped(folder)}", ignored=len(files) - len(images))


def _no_images(path: Path, kind: str, others: int) -> str:
    if others == 0:
        return f"{escaped(path)}: the {kind} is empty; give a {kind} with image files in it"
    return (
        f"{escaped(path)}: no image files in the {kind}, only {plural(others, 'other file')} "
        f"(image extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})"
    )


def _file_list_source(files: list[Path], description: str, *, ignored: int = 0) -> Source:
    for path in files:
        if not path.is_file():
            raise InceptionScoreError(f"{escaped(path)}: no such file")

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        for path in files[start:stop]:
            yield _read_file(path)

    return Source(description, len(files), read, ignored=ignored)


def _read_file(path: Path) -> Sample:
    try:
        return Sample(escaped(path), path.read_bytes())
    except OSError as error:
        return Sample(
            escaped(path),
            b"",
            error=f"cannot read the file ({error.strerror}); check its permissions, "
            f"or skip such files with --skip-bad (on_error='skip')",
        )


def _escapes(member: str) -> bool:
    """True for archive member paths that point outside the archive's folder (absolute, drive, '..')."""
    path = PurePosixPath(member.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(member) > 1 and member[1] == ":")


def _archive_source(path: Path) -> Source:
    """Images read straight from a zip or tar archive (never extracted), sorted by member path."""
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = [info.filename for info in archive.infolist() if not info.is_dir()]
        else:
            with tarfile.open(path, "r:*") as tar:
                members = [info.name for info in tar.getmembers() if info.isfile()]
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
        raise InceptionScoreError(
            f"{escaped(path)}: cannot read the archive ({error}); "
            "check that it is a complete .zip, .tar, .tar.gz or .tgz file"
        ) from None
    safe = [name for name in members if not _escapes(name)]
    images = sorted(name for name in safe if PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise InceptionScoreError(_no_images(path, "archive", len(safe)))
    _refuse_duplicates(path, images)
    is_zip = path.name.lower().endswith(".zip")

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        with zipfile.ZipFile(path) if is_zip else tarfile.open(path, "r:*") as archive:
            for name in images[start:stop]:
                yield _read_member(archive, path, name)

    return Source(f"archive {escaped(path)}", len(images), read, ignored=len(safe) - len(images))


def _refuse_duplicates(path: Path, images: list[str]) -> None:
    """Members sharing a name (what `tar -r` and zip appends make) cannot be told apart by name: refuse.

    Reading by name would give the last copy each time, scoring one member twice and another never.
    """
    repeated = sorted({name for name, following in zip(images, images[1:]) if name == following})
    if repeated:
        copies = len(images) - len(set(images))
        shown = ", ".join(escaped(name) for name in repeated[:3]) + (" ..." if len(repeated) > 3 else "")
        raise InceptionScoreError(
            f"{escaped(path)}: {plural(len(repeated), 'member name')} used more than once ({shown}; "
            f"{plural(copies, 'extra copy', 'extra copies')}), as `tar -r` or a zip append makes; "
            "the members cannot be told apart by name: extract the archive and score the folder, "
            "or rebuild the archive with unique names"
        )


def _read_member(archive: zipfile.ZipFile | tarfile.TarFile, path: Path, name: str) -> Sample:
    label = f"{escaped(path)}:{escaped(name)}"
    try:
        size = archive.getinfo(name).file_size if isinstance(archive, zipfile.ZipFile) else archive.getmember(name).size
        if size > MAX_MEMBER_BYTES:
            return Sample(
                label,
                b"",
                error=f"the member expands to {size:,} bytes, over the limit of {MAX_MEMBER_BYTES:,} for one image "
                "(a guard against decompression bombs); extract it and check it, or skip it with --skip-bad",
            )
        if isinstance(archive, zipfile.ZipFile):
            return Sample(label, archive.read(name))
        member = archive.extractfile(name)
        if member is None:
            raise InceptionScoreError(f"{label}: not a regular file in the archive")
        return Sample(label, member.read())
    except Exception as error:  # damaged members: zlib, CRC, truncated tar, encrypted zip
        return Sample(
            label,
            b"",
            error=f"cannot read the archive member ({error}); repair the archive, "
            f"or skip such members with --skip-bad (on_error='skip')",
        )


def _array_file_source(path: Path, npz_key: str | None, arrays: dict) -> Source:
    """An .npy file (memory-mapped) or one array of an .npz file."""
    try:
        if path.suffix.lower() == ".npy":
            return _array_source(np.load(path, mmap_mode="r", allow_pickle=False), escaped(path), **arrays)
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            if {"mu", "sigma"} & set(keys):
                raise InceptionScoreError(
                    f"{escaped(path)}: holds FID statistics (mu, sigma), not images; use it as the "
                    "reference of fid/kid, or give the images"
                )
            if not keys:
                raise InceptionScoreError(f"{escaped(path)}: holds no arrays")
            if npz_key is None and len(keys) > 1:
                raise InceptionScoreError(
                    f"{escaped(path)}: holds {len(keys)} arrays ({', '.join(map(escaped, keys))}); "
                    "say which holds the images with --npz-key NAME (npz_key=NAME)"
                )
            key = npz_key if npz_key is not None else keys[0]
            if key not in keys:
                raise InceptionScoreError(
                    f"{escaped(path)}: no array {key!r}; it holds {', '.join(keys)} (--npz-key NAME)"
                )
            array = load_member(path, archive, key)  # its declared size checked against the file first
    except InceptionScoreError:
        raise
    except Exception as error:  # numpy raises many types for damaged headers and members
        first = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise InceptionScoreError(
            f"{escaped(path)}: cannot read the array file ({escaped(first[:200])}); "
            "it should be an .npy or .npz file written by numpy.save / numpy.savez"
        ) from None
    return _array_source(array, f"{escaped(path)}[{escaped(key)}]", **arrays)


def _array_source(array: Any, what: str, *, layout: Layout | None, value_range: tuple[float, float]) -> Source:
    """One array or tensor of images, checked up front and converted a block at a time."""
    images = ArrayImages(array, layout=layout, value_range=value_range, what=what)
    images.check_values()
    prefix = "" if what == "array" else f"{what} "  # in-memory arrays: "index 3"; files: "x.npz[arr_0] index 3"

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        for index, image in enumerate(images.each(start, stop), start):
            yield Sample(f"{prefix}index {index}", image)

    shape = tuple(int(size) for size in array.shape)
    return Source(f"{what} {shape}", images.count, read)


def _list_source(items: list | tuple, arrays: dict) -> Source:
    if not items:
        raise InceptionScoreError("the list of images is empty")
    if all(isinstance(item, Image.Image) for item in items):

        def read(start: int, stop: int | None) -> Iterator[Sample]:
            for index in range(start, len(items) if stop is None else stop):
                yield Sample(f"image {index}", rgb_of_image(items[index]))

        return Source(f"{len(items)} PIL images", len(items), read)
    if all(isinstance(item, (str, os.PathLike)) for item in items):
        return _file_list_source([Path(item) for item in items], f"{len(items)} files")
    if all(is_array(_images_in(item)) for item in items):
        total = sum(int(_images_in(item).shape[0]) for item in items)
        return _stream_source(items, None, arrays, total=total, description=f"{len(items)} batches")
    kinds = sorted({type(item).__name__ for item in items})
    raise InceptionScoreError(
        f"a list must hold only image paths, only PIL images or only array batches; this one holds {', '.join(kinds)}"
    )


def _images_in(batch: Any) -> Any:
    """The images of a batch; (images, labels) pairs, as data loaders give, count as their images."""
    if isinstance(batch, (list, tuple)) and batch and is_array(batch[0]):
        return batch[0]
    return batch


def _stream_source(
    batches: Iterable,
    num_samples: int | None,
    arrays: dict,
    *,
    total: int | None = None,
    description: str = "stream of batches",
) -> Source:
    """Batches from an iterable, converted as they come; read once (a generator cannot be rewound)."""

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        index = 0
        for number, batch in enumerate(batches):
            if is_array(_images_in(batch)) and _images_in(batch).shape[:1] == (0,):
                continue  # an empty batch adds nothing
            images = ArrayImages(_images_in(batch), what=f"{description}: batch {number}", **arrays)
            for image in images.each():
                if stop is not None and index >= stop:
                    return
                yield Sample(f"image {index} (batch {number})", image)
                index += 1
        if index == 0:
            raise InceptionScoreError(
                f"{description}: gave no images (a generator can be read only once; make a new one for each call)"
            )
        if num_samples is not None and index < num_samples:
            raise InceptionScoreError(f"{description}: ended after {index} images, but num_samples={num_samples}")

    return Source(description, num_samples if num_samples is not None else total, read, kind="stream")


def _sampler_source(sample: Callable[[int], Any], num_samples: int, batch_size: int, arrays: dict) -> Source:
    """Images drawn from `sample(n)` n at a time, converted as they come (under torch.no_grad)."""
    name = getattr(sample, "__qualname__", type(sample).__name__)

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        index, stop = start, num_samples if stop is None else stop
        while index < stop:
            wanted = min(batch_size, stop - index)
            with torch.no_grad():
                batch = sample(wanted)
            images = ArrayImages(_images_in(batch), what=f"{name}({wanted}) at image {index}", **arrays)
            for image in images.each(0, wanted):
                yield Sample(f"sample {index}", image)
                index += 1

    return Source(f"{name}() x {num_samples}", num_samples, read, kind="sampler", sampler=sample)


def decode(sample: Sample, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The sample as an H x W x 3 uint8 array; files go through PIL like the reference (see rgb_of_image)."""
    if sample.error is not None:
        raise InceptionScoreError(f"{sample.name}: {sample.error}")
    if isinstance(sample.data, np.ndarray):
        return sample.data
    try:
        with Image.open(io.BytesIO(sample.data)) as image:
            if image.width * image.height > max_pixels:
                raise InceptionScoreError(_too_large(sample.name, image.width, image.height, max_pixels))
            return rgb_of_image(image, sample.data)
    except InceptionScoreError:
        raise
    except Image.DecompressionBombError as error:
        raise InceptionScoreError(
            f"{sample.name}: {error}; it is over PIL's own limit "
            "(PIL.Image.MAX_IMAGE_PIXELS), raise that too if the image is genuine"
        ) from None
    except UnidentifiedImageError:
        raise InceptionScoreError(
            f"{sample.name}: cannot decode image (not in an image format PIL can read); {_SKIP_HINT}"
        ) from None
    except Exception as error:  # PIL raises many types for broken files
        raise InceptionScoreError(f"{sample.name}: cannot decode image ({error}); {_SKIP_HINT}") from None


def pixel_count(sample: Sample) -> int | None:
    """Width x height of the sample, read from the file's header only (None if it cannot be read:
    decoding will say why). Used to hold cached images to max_pixels and to bound a batch's memory."""
    if isinstance(sample.data, np.ndarray):
        return int(sample.data.shape[0]) * int(sample.data.shape[1])
    try:
        with Image.open(io.BytesIO(sample.data)) as image:
            return image.width * image.height
    except Exception:
        return None


def _too_large(name: str, width: int, height: int, max_pixels: int) -> str:
    return (
        f"{name}: {width} x {height} = {width * height} pixels is over the limit of {max_pixels} "
        "(a guard against decompression bombs); raise max_pixels (--max-pixels) if the image is genuine"
    )


def rgb_of_image(image: Image.Image, data: bytes | None = None) -> np.ndarray:
    """PIL's convert("RGB") (alpha dropped, palette expanded, grayscale replicated), except for
    16-bit images, which PIL clips (gray) or truncates (RGB): those are scaled by value / 257 and
    rounded. Other integer and float modes (32-bit "I", "F") follow PIL's conversion (values
    clipped to 0..255). The first frame of an animation. `data`: the file's bytes (for 16-bit RGB PNG)."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N") or (image.mode == "I" and _has_16bit_samples(image)):
        return np.repeat(_scale_16bit(np.asarray(image))[..., None], 3, axis=2)
    wide = _png_16bit_rawmode(image)
    if wide is not None and data is not None:
        high = np.asarray(image)  # PIL keeps the high byte of each 16-bit value
        with Image.open(io.BytesIO(data)) as again:
            again.tile = [(*tile[:3], wide.replace("16B", "16L")) for tile in again.tile]
            low = np.asarray(again)  # the same bytes read little-endian: the low byte
        values = high.astype(np.int64) * 256 + low
        return np.ascontiguousarray(_scale_16bit(values)[..., :3])
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # same colours; avoids PIL's warning about palette transparency
    return np.asarray(image.convert("RGB"))


def _has_16bit_samples(image: Image.Image) -> bool:
    """True for a mode "I" image read from a file of 16-bit samples (older Pillows open 16-bit
    grayscale PNG so); False for 32-bit files and images made in memory."""
    tiles = getattr(image, "tile", [])  # set on images read from a file, not loaded yet
    for tile in tiles:
        rawmode = tile.args if isinstance(tile.args, str) else (tile.args or ("",))[0]
        if not (isinstance(rawmode, str) and rawmode.startswith("I;16")):
            return False
    return bool(tiles)


def _png_16bit_rawmode(image: Image.Image) -> str | None:
    """'RGB;16B' or 'RGBA;16B' for a not yet loaded 16-bit colour PNG, else None."""
    tile = getattr(image, "tile", [])  # set on images not loaded yet
    if image.format != "PNG" or image.mode not in ("RGB", "RGBA") or len(tile) != 1:
        return None
    args = tile[0].args
    return args if args in ("RGB;16B", "RGBA;16B") else None


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 as round(value / 257) (no ties: value / 257 is never k + 0.5)."""
    values = np.clip(values.astype(np.int64), 0, 65535)
    return ((2 * values + 257) // 514).astype(np.uint8)
