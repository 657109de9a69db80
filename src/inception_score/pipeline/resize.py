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
    """Resize float N x C x H x W images to N x C x size x size like TF1's ResizeBilinear.

    TF interpolates along x on the two source rows of each output row, then along y. Every
    source row is interpolated along x once here (the same float32 operations), then the
    output rows are interpolated between them. The work is done on N x H x W x C pixels, so
    the result comes back channels-last, the layout the optimised network wants; the values do
    not depend on the input's layout.
    """
    _, _, height, width = images.shape
    if height == size and width == size:
        return images
    device = images.device
    y_low, y_high, y_weight = (torch.from_numpy(a).to(device) for a in _sample_positions(height, size))
    x_low, x_high, x_weight = (torch.from_numpy(a).to(device) for a in _sample_positions(width, size))
    pixels = images.permute(0, 2, 3, 1)  # N x H x W x C
    left = pixels.index_select(2, x_low)
    # Fresh tensors, updated in place; each step is TF's float32 operation, in its order.
    along_x = pixels.index_select(2, x_high).sub_(left).mul_(x_weight[:, None]).add_(left)  # N x H x size x C
    top = along_x.index_select(1, y_low)
    resized = along_x.index_select(1, y_high).sub_(top).mul_(y_weight[:, None, None]).add_(top)
    return resized.permute(0, 3, 1, 2)
