"""TF1 bilinear resize against hand-computed cases and an independent per-pixel loop."""

import math

import numpy as np
import pytest
import torch

from inception_score.pipeline.resize import resize_tf1


def tf1_loop(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 ResizeBilinear pixel by pixel: positions in float32 like TF (o * float32(in / out)), values in float64."""
    in_h, in_w = image.shape
    out = np.zeros((out_h, out_w))
    for oy in range(out_h):
        y = float(np.float32(oy) * (np.float32(in_h) / np.float32(out_h)))
        y0, y1, wy = math.floor(y), min(math.floor(y) + 1, in_h - 1), y - math.floor(y)
        for ox in range(out_w):
            x = float(np.float32(ox) * (np.float32(in_w) / np.float32(out_w)))
            x0, x1, wx = math.floor(x), min(math.floor(x) + 1, in_w - 1), x - math.floor(x)
            top = image[y0, x0] + (image[y0, x1] - image[y0, x0]) * wx
            bottom = image[y1, x0] + (image[y1, x1] - image[y1, x0]) * wx
            out[oy, ox] = top + (bottom - top) * wy
    return out


def run(image: np.ndarray, size: int) -> np.ndarray:
    return resize_tf1(torch.tensor(image, dtype=torch.float32)[None, None], size)[0, 0].numpy()


def test_upscale_2x2_to_4x4_by_hand():
    expected = [[0, 5, 10, 10], [10, 15, 20, 20], [20, 25, 30, 30], [20, 25, 30, 30]]
    assert np.array_equal(run(np.array([[0, 10], [20, 30]]), 4), expected)


def test_downscale_4_to_3_by_hand():
    image = np.tile([0.0, 3.0, 6.0, 9.0], (4, 1))  # columns 0, 3, 6, 9 in every row
    # positions 0, 4/3, 8/3 -> values 0, 3 + 3/3 = 4, 6 + 3 * 2/3 = 8
    np.testing.assert_allclose(run(image, 3), np.tile([0.0, 4.0, 8.0], (3, 1)), atol=1e-5)


def test_single_pixel_becomes_constant():
    assert np.all(run(np.array([[77.0]]), 5) == 77.0)


@pytest.mark.parametrize("shape", [(7, 5), (1, 5), (32, 32), (300, 200)])
def test_matches_pixel_loop(shape):
    image = np.random.RandomState(0).uniform(0, 255, size=shape)
    out_size = 11 if max(shape) < 100 else 29
    np.testing.assert_allclose(run(image, out_size), tf1_loop(image, out_size, out_size), atol=1e-4)


def test_not_half_pixel_interpolation():
    image = np.random.RandomState(1).uniform(0, 255, size=(32, 32)).astype(np.float32)
    ours = run(image, 299)
    torch_default = torch.nn.functional.interpolate(
        torch.from_numpy(image)[None, None], size=(299, 299), mode="bilinear", align_corners=False
    )[0, 0].numpy()
    assert np.abs(ours - torch_default).max() > 1.0


def test_identity_at_target_size_and_batch_independence():
    images = torch.rand(3, 3, 17, 23) * 255
    same = torch.rand(2, 3, 299, 299)
    assert torch.equal(resize_tf1(same, 299), same)
    together = resize_tf1(images, 31)
    alone = torch.cat([resize_tf1(images[i : i + 1], 31) for i in range(3)])
    assert torch.equal(together, alone)


def test_channels_and_layout_do_not_change_values():
    images = torch.from_numpy(np.random.RandomState(1).uniform(0, 255, (2, 3, 37, 53)).astype(np.float32))
    resized = resize_tf1(images, 41)
    assert resized.shape == (2, 3, 41, 41)
    assert torch.equal(resize_tf1(images.contiguous(memory_format=torch.channels_last), 41), resized)
    for channel in range(3):  # each channel resized alone gives the same values, bit for bit
        assert torch.equal(resize_tf1(images[:, channel : channel + 1], 41)[:, 0], resized[:, channel])
    np.testing.assert_allclose(resized[1, 2].numpy(), tf1_loop(images[1, 2].double().numpy(), 41, 41), atol=1e-4)
