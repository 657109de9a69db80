"""TensorFlow 1.x ResizeBilinear (align_corners=False, no half-pixel centres) in torch.

Output pixel o samples the input at o * in_size / out_size (float32): floor gives the left
neighbour, the right one is clamped to the last pixel, the fractional part is the weight.
The arithmetic follows TF's order (along x first, then y) so results match it to float32 rounding.
"""
from __future__ import annotations

import numpy as np
import torch


def _sample_positions(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = np.float32(in_size) / np.float32(out_size)
    positions = np.arange(out_size, dtype=np.float32) * scale
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    return low, high, (positions - low.astype(np.float32)).astype(np.float32)


def resize_tf1(images: torch.Tensor, size: int = 299) -> torch.Tensor:
    """Resize float N x C x H x W images to N x C x size x size like TF1's ResizeBilinear."""
    _, _, height, width = images.shape
    if height == size and width == size:
        return images
    device = images.device
    y_low, y_high, y_weight = (torch.from_numpy(a).to(device) for a in _sample_positions(height, size))
    x_low, x_high, x_weight = (torch.from_numpy(a).to(device) for a in _sample_positions(width, size))
    rows_top = images.index_select(2, y_low)
    rows_bottom = images.index_select(2, y_high)
    top_left, top_right = rows_top.index_select(3, x_low), rows_top.index_select(3, x_high)
    bottom_left, bottom_right = rows_bottom.index_select(3, x_low), rows_bottom.index_select(3, x_high)
    top = top_left + (top_right - top_left) * x_weight
    bottom = bottom_left + (bottom_right - bottom_left) * x_weight
    return top + (bottom - top) * y_weight[:, None]
