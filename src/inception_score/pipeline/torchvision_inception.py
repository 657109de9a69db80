"""torchvision's ImageNet Inception v3 (file inception_v3_google-0cc3c7bd.pth), built without torchvision.

The same trunk as the 2015 graph with three differences: 1000 classes, every 3x3 pool in the
A, C and E blocks is an average that counts the padding, and the file carries an auxiliary head
(`AuxLogits.*`, used only in training). The aux keys must be present and shaped right, so the
file loads strictly; the head is dropped after loading. Logits are `fc(pool3)`, with the bias.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .inception2015 import BasicConv2d, Inception2015, load_state_file, optimise_for_inference

NUM_CLASSES = 1000


class InceptionAux(nn.Module):
    """The training-only auxiliary classifier; kept for its state dict keys, never run."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv0 = BasicConv2d(in_channels, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = nn.Linear(768, num_classes)


class TorchvisionInceptionV3(Inception2015):
    """Inception v3 in torchvision's ImageNet-1000 layout; forward takes N x 3 x 299 x 299 in [-1, 1]."""

    def __init__(self, aux_head: bool = True) -> None:
        super().__init__(num_classes=NUM_CLASSES, pooling="avg", last_pooling="avg")
        if aux_head:
            self.AuxLogits = InceptionAux(768, NUM_CLASSES)

    def forward(self, x: torch.Tensor, spatial: bool = False) -> tuple[torch.Tensor, ...]:
        """Return (logits with the fc bias N x 1000, pool3 features N x 2048); no spatial output (sFID is
        defined on the 2015 network)."""
        pool3 = self.pool3(x)
        return self.fc(pool3), pool3


def load_torchvision_inception(weights_path: str | Path, *, plain: bool = False) -> TorchvisionInceptionV3:
    """Build the network, load torchvision's state dict file strictly, drop the aux head; eval mode.

    Optimised for inference like the 2015 network (batch norm folded, channels-last) unless plain=True.
    """
    model = load_state_file(
        TorchvisionInceptionV3(),
        weights_path,
        layout="torchvision's Inception v3 layout",
        expected_file="inception_v3_google-0cc3c7bd.pth",
    )
    del model.AuxLogits
    if not plain:
        optimise_for_inference(model)
    return model
