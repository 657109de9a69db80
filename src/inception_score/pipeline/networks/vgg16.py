"""VGG-16 in torchvision's layout (file vgg16-397923af.pth), built without torchvision: the network
torch-fidelity computes precision and recall on.

torch-fidelity 0.4 (`feature_extractor_vgg16.py`) loads torchvision's ImageNet VGG-16, drops the last
three classifier modules (ReLU, dropout, the 1000-class layer), resizes uint8 images to 224 x 224 with
the TF1 bilinear resize, normalises with ImageNet's mean and std on the 0..255 scale, and takes the
second fully connected layer after its ReLU ("fc2_relu", 4096 values) as the feature vector.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .common import PublishedWeights, load_strict, read_state_dict

INPUT_SIZE = 224
FEATURES = 4096
# torchvision's "D" configuration: channels of each 3x3 convolution, "M" a 2x2 max pool
LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
WEIGHTS = PublishedWeights(
    name="vgg16-397923af.pth",
    urls=("https://download.pytorch.org/models/vgg16-397923af.pth",),
    sha256="397923af",  # torchvision publishes the first 8 hex digits of the sha256, in the name
    input_size=INPUT_SIZE,
    output_dim=FEATURES,
    notes="torchvision's ImageNet VGG-16 (IMAGENET1K_V1), a plain state dict of 528 MB, float32; "
    "classifier.6 (the 1000 classes) is in the file but not used",
)


class VGG16Features(nn.Module):
    """VGG-16 whose forward maps N x 3 x 224 x 224 (ImageNet-normalised) to fc2 after its ReLU, N x 4096."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in LAYERS:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                assert isinstance(item, int)
                layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, FEATURES),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(FEATURES, FEATURES),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(FEATURES, 1000),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.flatten(self.avgpool(self.features(x)), 1)
        fc1 = self.classifier[2](self.classifier[1](self.classifier[0](pooled)))
        return torch.relu(self.classifier[3](fc1))


def load_vgg16(path: str | Path) -> VGG16Features:
    """The network with the weights of `path` (torchvision's VGG-16 state dict, loaded strictly), eval mode."""
    state = read_state_dict(path, expected_file=WEIGHTS.name)
    with torch.device("meta"):  # no random initialisation of 138 M parameters that the file overwrites
        model = VGG16Features()
    return load_strict(
        model.to_empty(device="cpu"),
        state,
        source=str(path),
        layout="torchvision's VGG-16 layout",
        expected_file=WEIGHTS.name,
    )
