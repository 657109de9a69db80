"""Image arrays: numpy arrays, torch tensors and batches of them -> H x W x 3 uint8 images.

Layouts: N x H x W x C or N x C x H x W with C = 3 (RGB) or 1 (grayscale), or N x H x W
(grayscale); grayscale is replicated to RGB. uint8 is taken as is. Floats must be finite and
inside the declared value_range (plus half an 8-bit step for rounding); they are mapped to
0..255 and rounded half up, as `torchvision.utils.save_image` does before writing a PNG, so an
array and the same images saved as PNG give the same score. Conversion is done a block of
images at a time, never for the whole array at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np

from ..errors import InceptionScoreError

Layout = Literal["NHWC", "NCHW"]
VALUE_RANGES = ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0))
DEFAULT_VALUE_RANGE = (0.0, 1.0)
BLOCK = 64  # images converted at a time


def is_array(value: Any) -> bool:
    """A numpy array or a torch tensor (torch is not imported for the check)."""
    return isinstance(value, np.ndarray) or (
        type(value).__module__.startswith("torch") and hasattr(value, "shape") and hasattr(value, "dtype")
    )


def check_value_range(value_range: Any) -> tuple[float, float]:
    """The declared range as a float pair; one of (0, 1), (-1, 1), (0, 255)."""
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        low = high = float("nan")
    if (low, high) not in VALUE_RANGES:
        raise InceptionScoreError(
            f"value_range must be one of (0, 1), (-1, 1), (0, 255); got {value_range!r} "
            "(CLI: --value-range 0,1, -1,1 or 0,255)"
        )
    return low, high


def check_layout(layout: Any) -> Layout | None:
    if layout is None or layout in ("NHWC", "NCHW"):
        return layout
    raise InceptionScoreError(f"layout must be 'NHWC' or 'NCHW', got {layout!r}")


def channel_axis(shape: tuple[int, ...], layout: Layout | None, what: str) -> int | None:
    """Where the channels are in an image batch of this shape: 3 (NHWC), 1 (NCHW) or None (N x H x W)."""
    if len(shape) == 3:
        if layout is not None:
            raise InceptionScoreError(
                f"{what}: shape {shape} has no channel axis, so layout={layout!r} does not "
                "apply (N x H x W is read as grayscale)"
            )
        return None
    if len(shape) != 4:
        raise InceptionScoreError(
            f"{what}: expected N x H x W x 3, N x 3 x H x W (or 1 channel, or N x H x W "
            f"grayscale), got {len(shape)} dimensions {shape}"
        )
    if layout is not None:
        axis = 3 if layout == "NHWC" else 1
        if shape[axis] not in (1, 3):
            raise InceptionScoreError(
                f"{what}: layout {layout} needs 1 or 3 channels on axis {axis}, got shape {shape}"
            )
        return axis
    candidates = [axis for axis in (3, 1) if shape[axis] in (1, 3)]
    if not candidates:
        raise InceptionScoreError(
            f"{what}: expected 3 (RGB) or 1 (grayscale) channels on axis 3 (NHWC) or axis 1 (NCHW), got shape {shape}"
        )
    if len(candidates) == 2:
        raise InceptionScoreError(
            f"{what}: the layout of shape {shape} is ambiguous (axes 1 and 3 could both "
            "hold the channels); pass layout='NHWC' or layout='NCHW' (CLI: --layout)"
        )
    return candidates[0]


FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def dtype_name(array: Any) -> str:
    """'uint8', 'float32', ... for numpy arrays (of either byte order) and torch tensors alike."""
    if isinstance(array.dtype, np.dtype):
        return array.dtype.name  # '>f4' (big-endian, valid .npy) is 'float32' too
    return str(array.dtype).replace("torch.", "")


def to_numpy(batch: Any) -> np.ndarray:
    """A numpy view or copy of an array or tensor (tensors are moved to the CPU; bfloat16 becomes float32)."""
    if hasattr(batch, "detach"):
        tensor = batch.detach()
        if dtype_name(tensor) == "bfloat16":
            tensor = tensor.float()
        return tensor.cpu().numpy()
    return np.asarray(batch)


def check_dtype(array: Any, what: str) -> None:
    if dtype_name(array) != "uint8" and dtype_name(array) not in FLOAT_DTYPES:
        raise InceptionScoreError(
            f"{what}: expected uint8 or floating-point images, got {dtype_name(array)}; "
            "cast 0..255 integers to uint8, or give floats with value_range"
        )


def images_of_block(
    block: np.ndarray, axis: int | None, value_range: tuple[float, float], first_index: int, what: str
) -> np.ndarray:
    """A block of images (any accepted layout and dtype) as B x H x W x 3 uint8."""
    if axis == 1:
        block = block.transpose(0, 2, 3, 1)
    elif axis is None:
        block = block[..., None]
    if block.dtype != np.uint8:
        block = _quantise(block, value_range, first_index, what)
    if block.shape[3] == 1:
        block = np.repeat(block, 3, axis=3)
    return np.ascontiguousarray(block)


def _quantise(block: np.ndarray, value_range: tuple[float, float], first_index: int, what: str) -> np.ndarray:
    """Floats in value_range -> uint8 0..255, rounded half up; an error names the first bad image."""
    finite = np.isfinite(block).reshape(len(block), -1).all(axis=1)
    if not finite.all():
        index = first_index + int(np.argmin(finite))
        raise InceptionScoreError(
            f"{what} index {index}: NaN or infinite values; images must be finite (check the generator's output)"
        )
    low, high = value_range
    margin = (high - low) / 255 / 2  # half an 8-bit step: rounds to the end of the range anyway
    smallest, largest = float(block.min()), float(block.max())
    if smallest < low - margin or largest > high + margin:
        per_image = block.reshape(len(block), -1)
        outside = (per_image.min(axis=1) < low - margin) | (per_image.max(axis=1) > high + margin)
        index = first_index + int(np.argmax(outside))
        raise InceptionScoreError(
            f"{what} index {index}: values span [{smallest:.6g}, {largest:.6g}], outside value_range "
            f"({low:g}, {high:g}); {suggest_range(smallest, largest)}"
        )
    scaled = (block.astype(np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.uint8)


def suggest_range(smallest: float, largest: float) -> str:
    for low, high in VALUE_RANGES:
        margin = (high - low) / 255 / 2
        if smallest >= low - margin and largest <= high + margin:
            return (
                f"pass value_range=({low:g}, {high:g}) (CLI: --value-range {low:g},{high:g}) if that is "
                "the images' range"
            )
    return "rescale the images to (0, 1), (-1, 1) or (0, 255) and declare it with value_range"


class ArrayImages:
    """One array or tensor of images, checked once, converted a block at a time."""

    def __init__(self, array: Any, *, layout: Layout | None, value_range: tuple[float, float], what: str) -> None:
        check_dtype(array, what)
        self.array, self.what, self.value_range = array, what, value_range
        self.axis = channel_axis(tuple(array.shape), layout, what)
        self.count = int(array.shape[0])
        if self.count == 0:
            raise InceptionScoreError(f"{what}: holds no images (shape {tuple(array.shape)})")
        if 0 in tuple(array.shape):
            raise InceptionScoreError(f"{what}: images of shape {tuple(array.shape)} have no pixels")

    def check_values(self) -> None:
        """Check every float image before the (long) forward pass, a block at a time."""
        if dtype_name(self.array) == "uint8":
            return
        for start in range(0, self.count, BLOCK):
            self.images(start, min(start + BLOCK, self.count))

    def each(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Images start..stop one at a time (H x W x 3 uint8), converted BLOCK at a time."""
        stop = self.count if stop is None else min(stop, self.count)
        for block_start in range(start, stop, BLOCK):
            yield from self.images(block_start, min(block_start + BLOCK, stop))

    def images(self, start: int, stop: int) -> np.ndarray:
        """Images start..stop as (stop - start) x H x W x 3 uint8."""
        return images_of_block(to_numpy(self.array[start:stop]), self.axis, self.value_range, start, self.what)
