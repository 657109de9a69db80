"""Inception v3 as frozen by Google on 2015-12-05 (the graph behind the paper), in torch.

Differences from torchvision's inception_v3: 1008 classes, average pools that exclude
padding in the A, C and first E blocks, a 3x3 max pool in the last E block, no aux head.
One forward pass gives the unbiased logits (pool3 @ fc.weight.T) and the 2048-d pool3, and
when asked the sFID spatial features (`spatial=True`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InceptionScoreError, escaped
from .state_dicts import load_failure, state_problems

NUM_CLASSES = 1008
INPUT_SIZE = 299
# sFID (Nash et al. 2021, as ADM's evaluator takes them): the first 7 channels of Mixed_6d.branch1x1
# (TF: mixed_6/conv:0) after its batch norm and ReLU, 17 x 17 x 7 values flattened in H, W, C order.
SPATIAL_CHANNELS = 7
SPATIAL_DIMS = 17 * 17 * SPATIAL_CHANNELS
# The 3x3 stride-1 pool in the A, C and E blocks: the 2015 graph averages without the padding
# ("avg-exclude-pad") and max-pools in its last block; torchvision averages counting the padding ("avg").
Pooling = Literal["avg-exclude-pad", "avg", "max"]


ModelT = TypeVar("ModelT", bound=nn.Module)


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU.

    After `fold_batchnorm` and `fuse_relu` (what `optimise_for_inference` does), a CPU float32
    forward without gradients runs as one oneDNN convolution with the ReLU applied to its
    output in the same pass, on weights reordered once into oneDNN's blocked layout.
    """

    def __init__(self, in_channels: int, out_channels: int, **conv_options) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_options)
        self.bn: nn.Module = nn.BatchNorm2d(out_channels, eps=0.001)
        self.fused = False
        self._packed: tuple[tuple, torch.Tensor] | None = None  # (what it was made from, oneDNN weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused and x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled():
            return self._conv_relu_onednn(x)
        return F.relu(self.bn(self.conv(x)), inplace=not torch.is_grad_enabled())

    def fold_batchnorm(self) -> None:
        """Fold the (frozen) batch norm into the convolution's weights and a bias, in float64."""
        if isinstance(self.bn, nn.Identity):
            return
        bn, conv = self.bn, self.conv
        assert isinstance(bn, nn.BatchNorm2d) and bn.running_var is not None and bn.running_mean is not None
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        weight = conv.weight.double() * scale[:, None, None, None]
        bias = bn.bias.double() - bn.running_mean.double() * scale
        conv.weight = nn.Parameter(weight.to(conv.weight.dtype), requires_grad=False)
        conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=False)
        self.bn = nn.Identity()

    def fuse_relu(self) -> None:
        """Run convolution, bias and ReLU as one oneDNN call on CPU (needs `fold_batchnorm` first)."""
        if not isinstance(self.bn, nn.Identity):
            raise ValueError("fold the batch norm before fusing the ReLU into the convolution")
        self.fused = True

    def _conv_relu_onednn(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        geometry = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        # The blocked layout oneDNN picks depends on the input's shape: reorder again when it changes.
        made_from = (tuple(x.shape), conv.weight.data_ptr(), conv.weight._version)
        packed = self._packed
        if packed is None or packed[0] != made_from:
            weight = torch._C._nn.mkldnn_reorder_conv2d_weight(  # type: ignore[call-arg]  # private op, stubs lag
                conv.weight.to_mkldnn(), *geometry, list(x.shape)
            )
            packed = self._packed = (made_from, weight)
        return torch.ops.mkldnn._convolution_pointwise(x, packed[1], conv.bias, *geometry, "relu", [], "")


def _pool(x: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    if pooling == "max":
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=pooling == "avg")


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int, pooling: Pooling = "avg-exclude-pad") -> None:
        super().__init__()
        self.pooling = pooling
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_pool(x, self.pooling)),
            ],
            1,
        )


class InceptionB(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            1,
        )


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int, pooling: Pooling = "avg-exclude-pad") -> None:
        super().__init__()
        self.pooling = pooling
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_branch1x1(x)[0]

    def forward_with_branch1x1(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its 1x1 branch's own output (after batch norm and ReLU), one pass."""
        one = self.branch1x1(x)
        double = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            double = layer(double)
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        return torch.cat([one, seven, double, self.branch_pool(_pool(x, self.pooling))], 1), one


class InceptionD(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            seven = layer(seven)
        return torch.cat(
            [
                self.branch3x3_2(self.branch3x3_1(x)),
                seven,
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            1,
        )


class InceptionE(nn.Module):
    def __init__(self, in_channels: int, pooling: Pooling = "avg-exclude-pad") -> None:
        super().__init__()
        self.pooling = pooling
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        three = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _pool(x, self.pooling)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(three),
                self.branch3x3_2b(three),
                self.branch3x3dbl_3a(double),
                self.branch3x3dbl_3b(double),
                self.branch_pool(pooled),
            ],
            1,
        )


class Inception2015(nn.Module):
    """The 2015-12-05 Inception v3; forward takes normalised N x 3 x 299 x 299 float input.

    `variant` says how it runs: "plain" (the state dict's modules as loaded, NCHW) or
    "optimised" (batch norm folded into the convolutions, channels-last weights, on CPU each
    convolution and its ReLU as one oneDNN call).
    """

    def __init__(
        self, num_classes: int = NUM_CLASSES, pooling: Pooling = "avg-exclude-pad", last_pooling: Pooling = "max"
    ) -> None:
        super().__init__()
        self.variant = "plain"
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32, pooling=pooling)
        self.Mixed_5c = InceptionA(256, pool_features=64, pooling=pooling)
        self.Mixed_5d = InceptionA(288, pool_features=64, pooling=pooling)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128, pooling=pooling)
        self.Mixed_6c = InceptionC(768, channels_7x7=160, pooling=pooling)
        self.Mixed_6d = InceptionC(768, channels_7x7=160, pooling=pooling)
        self.Mixed_6e = InceptionC(768, channels_7x7=192, pooling=pooling)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pooling=pooling)
        self.Mixed_7c = InceptionE(2048, pooling=last_pooling)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor, spatial: bool = False) -> tuple[torch.Tensor, ...]:
        """Return (unbiased logits N x 1008, pool3 features N x 2048), and with spatial=True also the
        sFID features N x 2023 (`SPATIAL_DIMS`) of the same pass."""
        if not spatial:
            pool3 = self.pool3(x)
            return pool3 @ self.fc.weight.T, pool3
        pool3, spatial_features = self.pool3_and_spatial(x)
        return pool3 @ self.fc.weight.T, pool3, spatial_features

    def pool3(self, x: torch.Tensor) -> torch.Tensor:
        """The 2048-d globally average-pooled features of the last block."""
        return self._features(x, spatial=False)[0]

    def pool3_and_spatial(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pool3 and the sFID features: Mixed_6d.branch1x1's first 7 channels, flattened H, W, C."""
        pool3, maps = self._features(x, spatial=True)
        assert maps is not None
        return pool3, maps[:, :SPATIAL_CHANNELS].permute(0, 2, 3, 1).reshape(maps.shape[0], -1)

    def _features(self, x: torch.Tensor, spatial: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        maps = None
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            if spatial and block is self.Mixed_6d:
                x, maps = self.Mixed_6d.forward_with_branch1x1(x)
            else:
                x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1), maps


def optimise_for_inference(model: Inception2015) -> Inception2015:
    """Fold every batch norm into its convolution, store weights channels-last and, where this
    torch has oneDNN's fused convolution, run each convolution with its ReLU as one call; in place."""
    fuse = onednn_conv_relu_works()
    for module in model.modules():
        if isinstance(module, BasicConv2d):
            module.fold_batchnorm()
            if fuse:
                module.fuse_relu()
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it
    model.variant = "optimised"
    return model


def onednn_conv_relu_works() -> bool:
    """Whether oneDNN's fused convolution + ReLU runs here and gives convolution-then-ReLU's numbers.

    It is a private torch operator (the one torch.compile uses on CPU); without it, or if it
    misbehaves in some torch build, the optimised network keeps separate convolution and ReLU.
    """
    global _onednn_checked
    if _onednn_checked is None:
        _onednn_checked = _check_onednn_conv_relu()
    return _onednn_checked


_onednn_checked: bool | None = None


def _check_onednn_conv_relu() -> bool:
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")):
        return False
    generator = torch.Generator().manual_seed(0)
    layer = BasicConv2d(8, 16, kernel_size=(3, 1), stride=(2, 1), padding=(1, 0))
    layer.bn = nn.Identity()
    with torch.no_grad():
        layer.conv.weight.copy_(torch.randn(layer.conv.weight.shape, generator=generator))
        layer.conv.bias = nn.Parameter(torch.randn(16, generator=generator), requires_grad=False)
    layer = layer.eval().requires_grad_(False).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    inputs = torch.randn(2, 8, 9, 7, generator=generator).contiguous(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            expected = layer(inputs)
            layer.fuse_relu()
            fused = layer(inputs)
    except (RuntimeError, TypeError):  # a torch without the operator's schema or kernel
        return False
    return fused.shape == expected.shape and torch.allclose(fused, expected, rtol=1e-5, atol=1e-5)


def load_inception(weights_path: str | Path, *, plain: bool = False) -> Inception2015:
    """Build the network, load a state dict file strictly (all keys, all shapes), in eval mode.

    By default the network is optimised for inference once here (`optimise_for_inference`);
    plain=True keeps the unfolded NCHW modules, the reference approach, for comparisons.
    """
    model = load_state_file(
        Inception2015(),
        weights_path,
        layout="the 2015 Inception layout",
        expected_file="pt_inception-2015-12-05-6726825d.pth",
    )
    return model if plain else optimise_for_inference(model)


def load_state_file(model: ModelT, weights_path: str | Path, *, layout: str, expected_file: str) -> ModelT:
    """Load a state dict file into `model` strictly (all keys, all shapes); eval mode, no gradients.

    `num_batches_tracked` entries may be absent (published files predate them).
    """
    path = Path(weights_path)
    shown = escaped(path)
    advice = (
        f"It should be the PyTorch state dict {expected_file}; use a good copy (see 'inception-score weights path')"
    )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or foreign files
        raise InceptionScoreError(f"cannot read weights file {shown}: {load_failure(error)}. {advice}") from None
    if not isinstance(state, dict):
        raise InceptionScoreError(f"weights file {shown} holds a {type(state).__name__}, not a state dict. {advice}")
    expected = model.state_dict()
    for key, value in expected.items():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, value)
    details = state_problems(state, expected)
    if details:
        raise InceptionScoreError(f"weights file {shown} does not have {layout} ({details}). {advice}")
    model.load_state_dict(state, strict=True)
    model.eval().requires_grad_(False)
    return model
