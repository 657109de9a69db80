"""Classifiers: a network that maps a preprocessed batch to logits, with its input contract and identity.

The score is the same formula over any classifier. A `Classifier` holds the module (its forward
returns `(logits, features)`), the `InputContract` that turns decoded uint8 RGB images into the
module's input (channels, size, resize method, value normalisation), and an identity that a
result records: the weights or TorchScript file's sha256, or a Python import path. The 2015
Inception network (the paper's protocol) and torchvision's ImageNet Inception v3 are presets.
"""

from __future__ import annotations

import importlib
import math
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InceptionScoreError, escaped, plural
from .inception2015 import INPUT_SIZE, load_inception
from .networks import clip, dinov2, vgg16
from .networks.common import PublishedWeights, pil_bicubic_resize
from .resize import resize_tf1
from .weights import REFERENCE, TORCHVISION, WeightsFile, resolve_weights, sha256_file

# The last four are the published protocols of DINOv2 and CLIP metrics (docs/feature-spaces.md):
# "bicubic-antialias" EDM2's FD_DINOv2 (torch bicubic with antialias on the float values),
# "pil-bicubic" dgm-eval's (PIL bicubic to 8 bits), "crop-pil-bicubic" CMMD's (centre square of
# the shorter side, then PIL bicubic) and "pil-bicubic-crop" clean-fid's FD_CLIP (PIL bicubic of
# the shorter side, then a centre crop).
RESIZE_METHODS = (
    "tf1-bilinear",
    "bilinear",
    "nearest",
    "none",
    "bicubic-antialias",
    "pil-bicubic",
    "crop-pil-bicubic",
    "pil-bicubic-crop",
)
_PROTOCOL_RESIZES = RESIZE_METHODS[4:]
# name -> (scale applied to 0..255 values first, then (x - mean) / std per channel)
NORMALIZATIONS: dict[str, tuple[float, tuple[float, ...], tuple[float, ...]]] = {
    "tf-inception": (1.0, (128.0,), (128.0,)),  # (x - 128) / 128, the 2015 graph's input
    "minus1-1": (255.0, (0.5,), (0.5,)),  # [-1, 1] as torchvision's ToTensor + Normalize(0.5, 0.5)
    "0-1": (255.0, (0.0,), (1.0,)),
    "0-255": (1.0, (0.0,), (1.0,)),
    "imagenet": (255.0, dinov2.IMAGENET_MEAN, dinov2.IMAGENET_STD),
    "clip": (255.0, clip.CLIP_MEAN, clip.CLIP_STD),
}
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_CONTRACT_KEYS = ("input_size", "resize", "normalize", "channels")
MAX_INPUT_SIZE = 4096  # a classifier input side; one 4096 x 4096 float32 RGB input is 200 MB


@dataclass(frozen=True)
class InputContract:
    """What a classifier's forward expects: channels x size x size, how to resize, how to scale values.

    normalize is a name from NORMALIZATIONS or "MEAN,STD" (applied to x / 255).
    """

    size: int
    resize: str = "bilinear"
    normalize: str = "0-1"
    channels: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise InceptionScoreError(f"input size must be a positive integer, got {self.size!r}")
        if self.size > MAX_INPUT_SIZE:
            raise InceptionScoreError(
                f"input size {self.size} is over the limit of {MAX_INPUT_SIZE} (one {self.size} x {self.size} "
                "image alone would take gigabytes); check the classifier's input_contract or --input-size"
            )
        if self.resize not in RESIZE_METHODS:
            raise InceptionScoreError(f"resize must be one of {', '.join(RESIZE_METHODS)}, got {self.resize!r}")
        if self.channels not in (1, 3):
            raise InceptionScoreError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels!r}")
        _normalization(self.normalize, self.channels)

    def describe(self) -> str:
        return f"{self.channels}x{self.size}x{self.size}, resize {self.resize}, normalize {self.normalize}"

    def prepare(self, pixels: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W float32 RGB values in 0..255 -> the classifier's N x C x size x size input."""
        if self.channels == 1:
            # ITU-R 601 luma like PIL's convert("L"); exact for gray images (integer weights summing to 1000).
            pixels = (pixels[:, 0:1] * 299 + pixels[:, 1:2] * 587 + pixels[:, 2:3] * 114) / 1000
        return self._normalize(self._resize(pixels))

    def _resize(self, pixels: torch.Tensor) -> torch.Tensor:
        height, width = pixels.shape[-2:]
        if self.resize in _PROTOCOL_RESIZES:
            return _protocol_resize(pixels, self.resize, self.size)
        if (height, width) == (self.size, self.size):
            return pixels
        if self.resize == "none":
            raise InceptionScoreError(
                f"an image is {width}x{height} but the classifier takes {self.size}x{self.size} and resize is "
                "'none': pass --resize bilinear (or tf1-bilinear, nearest), or give images of that size"
            )
        if self.resize == "tf1-bilinear":
            return resize_tf1(pixels, self.size)
        if self.resize == "bilinear":
            return F.interpolate(pixels, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return F.interpolate(pixels, size=(self.size, self.size), mode="nearest")

    def _normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        scale, mean, std = _normalization(self.normalize, self.channels)
        if scale != 1.0:
            pixels = pixels / scale
        if len(mean) == 1:
            return (pixels - mean[0]) / std[0] if (mean[0], std[0]) != (0.0, 1.0) else pixels
        shape = (1, len(mean), 1, 1)
        mean_tensor = torch.tensor(mean, dtype=pixels.dtype, device=pixels.device).view(shape)
        std_tensor = torch.tensor(std, dtype=pixels.dtype, device=pixels.device).view(shape)
        return (pixels - mean_tensor) / std_tensor


def _protocol_resize(pixels: torch.Tensor, method: str, size: int) -> torch.Tensor:
    """A published protocol's resize of float 0..255 RGB values (decoded 8-bit images) to size x size."""
    if method == "bicubic-antialias":
        return F.interpolate(pixels, size=(size, size), mode="bicubic", antialias=True)
    images = pixels.round().clamp(0, 255).to(torch.uint8)  # exact: the values are decoded 8-bit pixels
    if method == "pil-bicubic":
        return pil_bicubic_resize(images, (size, size)).float()
    height, width = images.shape[-2:]
    protocol: clip.Protocol = "cmmd" if method == "crop-pil-bicubic" else "clean-fid"
    resize_height, resize_width, top, left, side = clip.crop_box(height, width, size, protocol)
    if protocol == "cmmd":
        cropped = images[..., top : top + side, left : left + side]
        return pil_bicubic_resize(cropped, (size, size)).float()
    resized = pil_bicubic_resize(images, (resize_height, resize_width))
    return resized[..., top : top + side, left : left + side].float()


def _normalization(name: str, channels: int) -> tuple[float, tuple[float, ...], tuple[float, ...]]:
    if name in NORMALIZATIONS:
        scale, mean, std = NORMALIZATIONS[name]
    else:
        try:
            mean_text, std_text = name.split(",")
            scale, mean, std = 255.0, (float(mean_text),), (float(std_text),)
        except ValueError:
            raise InceptionScoreError(
                f"normalize must be one of {', '.join(NORMALIZATIONS)} or MEAN,STD (applied to x/255, "
                f"e.g. 0.1307,0.3081), got {name!r}"
            ) from None
        if not (math.isfinite(mean[0]) and math.isfinite(std[0])) or std[0] <= 0:
            raise InceptionScoreError(
                f"normalize {name!r}: MEAN must be a finite number and STD a finite number above 0 "
                "(e.g. 0.1307,0.3081); NaN, infinity or a zero STD would collapse every image to one input"
            )
    if len(mean) not in (1, channels):
        raise InceptionScoreError(
            f"normalize {name!r} has {len(mean)} channel means but the classifier takes {channels} channel(s)"
        )
    return scale, mean, std


INCEPTION_2015_INPUT = InputContract(size=INPUT_SIZE, resize="tf1-bilinear", normalize="tf-inception")
TORCHVISION_INPUT = InputContract(size=INPUT_SIZE, resize="bilinear", normalize="minus1-1")


# What an extractor can give: class logits (IS), feature vectors (FID, KID, precision/recall, density/coverage)
# and the 2015 network's spatial features (sFID). A module's tuple holds the first two (MODULE_OUTPUTS).
OUTPUTS = ("logits", "features", "spatial")
MODULE_OUTPUTS = OUTPUTS[:2]


@dataclass(frozen=True)
class Classifier:
    """A module whose forward gives (logits, features), its input contract, and what it is.

    `outputs` says which of the two are real: a module that returns only logits gives IS but not
    FID or KID (its features are empty, N x 0).
    """

    module: nn.Module
    contract: InputContract
    name: str  # "inception-2015", "torchvision", "torchscript", "python"
    identity: str  # "sha256:<hex>" of the file, or "python:package.module:factory"
    logits: str  # what the softmax is taken over
    reference: bool = False  # the paper's network and protocol
    weights_sha256: str | None = None
    cache_key: str | None = field(default=None, repr=False)  # None: not content-addressed, never cache
    features: str = "the module's second output"  # what the feature vectors are
    outputs: tuple[str, ...] = MODULE_OUTPUTS  # "spatial": forward(batch, spatial=True) adds the sFID features

    def describe(self) -> dict[str, Any]:
        """JSON-safe summary recorded in every result."""
        return {
            "name": self.name,
            "identity": self.identity,
            "input": self.contract.describe(),
            "input_size": self.contract.size,
            "resize": self.contract.resize,
            "normalize": self.contract.normalize,
            "channels": self.contract.channels,
            "logits": self.logits,
            "features": self.features,
        }


@dataclass(frozen=True)
class ExtractorEntry:
    """A registry entry: a known network with its weights file, builder, input contract and outputs."""

    name: str
    weights: WeightsFile
    build: Callable[[Path, bool], nn.Module]  # (weights file, plain) -> module in eval mode
    contract: InputContract
    logits: str
    features: str
    notes: str
    outputs: tuple[str, ...] = MODULE_OUTPUTS


def _build_inception_2015(path: Path, plain: bool) -> nn.Module:
    return load_inception(path, plain=plain)


def _build_torchvision(path: Path, plain: bool) -> nn.Module:
    from .torchvision_inception import load_torchvision_inception

    return load_torchvision_inception(path, plain=plain)


class FeaturesOnly(nn.Module):
    """A feature network (DINOv2, a CLIP image tower) as a classifier module: (no logits, N x 0; features).

    unit_norm: L2-normalise the features, as CMMD's reference does with CLIP embeddings.
    """

    def __init__(self, network: nn.Module, unit_norm: bool = False) -> None:
        super().__init__()
        self.network = network
        self.unit_norm = unit_norm

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.network(batch).float()
        if self.unit_norm:
            features = F.normalize(features, dim=-1)
        return features.new_zeros((batch.shape[0], 0)), features


def _published_file(published: PublishedWeights, what: str, env_weights: str) -> WeightsFile:
    """A network module's published weights data as the registry's weights file spec."""
    return WeightsFile(
        description=what,
        filename=published.name,
        sha256=published.sha256,
        size=None,
        urls=published.urls,
        hub_filenames=(published.name,),  # torch.hub.load('facebookresearch/dinov2', ...) leaves it there
        env_weights=env_weights,
    )


def _dinov2_entry(variant: str, resize: str = "bicubic-antialias", suffix: str = "") -> ExtractorEntry:
    config, published = dinov2.CONFIGS[variant], dinov2.WEIGHTS[variant]
    protocol = (
        "EDM2's FD_DINOv2 (torch bicubic, antialiased)"
        if resize == "bicubic-antialias"
        else ("dgm-eval's FD_DINOv2 (PIL bicubic)")
    )
    return ExtractorEntry(
        f"dinov2-{variant}{suffix}",
        _published_file(
            published, f"Meta's DINOv2 {variant} weights file", f"INCEPTION_SCORE_DINOV2_{variant.upper()}_WEIGHTS"
        ),
        lambda path, plain: FeaturesOnly(dinov2.load_dinov2(path, variant)),
        InputContract(size=dinov2.INPUT_SIZE, resize=resize, normalize="imagenet"),
        logits="none (a feature network)",
        features=f"CLS token after the final LayerNorm, {config.embed_dim}",
        notes=f"DINOv2 {variant} (LVD-142M): FD_DINOv2 as {protocol}; Meta publishes no checksum, so the "
        "file is checked by its layout only",
        outputs=("features",),
    )


def _clip_entry(variant: str) -> ExtractorEntry:
    config, published = clip.CONFIGS[variant], clip.WEIGHTS[variant]
    cmmd = config.default_protocol == "cmmd"
    return ExtractorEntry(
        f"clip-{variant}",
        _published_file(
            published,
            f"OpenAI's CLIP {variant} weights file",
            f"INCEPTION_SCORE_CLIP_{variant.upper().replace('-', '_')}_WEIGHTS",
        ),
        lambda path, plain: FeaturesOnly(clip.load_clip(path, variant), unit_norm=cmmd),
        InputContract(
            size=config.image_size, resize="crop-pil-bicubic" if cmmd else "pil-bicubic-crop", normalize="clip"
        ),
        logits="none (a feature network)",
        features=f"projected image embedding, {config.embed_dim}" + (", L2-normalised" if cmmd else ""),
        notes="CLIP image tower (OpenAI's weights, sha256 checked): "
        + ("CMMD as google-research/cmmd computes it" if cmmd else "FD_CLIP as clean-fid computes it"),
        outputs=("features",),
    )


REGISTRY: dict[str, ExtractorEntry] = {
    entry.name: entry
    for entry in (
        ExtractorEntry(
            "inception-2015",
            REFERENCE,
            _build_inception_2015,
            INCEPTION_2015_INPUT,
            logits="pool3 @ fc.weight.T, 1008 classes, without the fc bias",
            features="pool3, 2048",
            notes="the paper's network (TF graph of 2015-12-05): IS, FID and KID as published; sFID's "
            "spatial features (Mixed_6d.branch1x1, 7 channels, 2023 values) from the same pass",
            outputs=OUTPUTS,
        ),
        ExtractorEntry(
            "torchvision",
            TORCHVISION,
            _build_torchvision,
            TORCHVISION_INPUT,
            logits="fc(pool3), 1000 classes, with the fc bias",
            features="pool3, 2048",
            notes="torchvision's ImageNet Inception v3: matches PyTorch papers that used it (~9.7 on "
            "CIFAR-10), not the paper's protocol",
        ),
        *(_dinov2_entry(variant) for variant in dinov2.CONFIGS),
        _dinov2_entry("vitl14", "pil-bicubic", "-dgm-eval"),
        *(_clip_entry(variant) for variant in clip.CONFIGS),
        ExtractorEntry(
            "vgg16",
            _published_file(
                vgg16.WEIGHTS, "torchvision's ImageNet VGG-16 weights file", "INCEPTION_SCORE_VGG16_WEIGHTS"
            ),
            lambda path, plain: FeaturesOnly(vgg16.load_vgg16(path)),
            InputContract(size=vgg16.INPUT_SIZE, resize="tf1-bilinear", normalize="imagenet"),
            logits="none (a feature network)",
            features=f"fc2 after its ReLU, {vgg16.FEATURES} (torch-fidelity's fc2_relu)",
            notes="torchvision's ImageNet VGG-16 as torch-fidelity 0.4 runs it for precision/recall (TF1 "
            "bilinear to 224, ImageNet mean and std); file vgg16-397923af.pth, checked by the published prefix",
            outputs=("features",),
        ),
    )
}
_loaded: dict[tuple[str, str, bool], nn.Module] = {}


def register_extractor(
    name: str,
    build: Callable[[Path], nn.Module],
    *,
    contract: InputContract,
    filename: str,
    env_weights: str,
    outputs: tuple[str, ...] = ("features",),
    sha256: str | None = None,
    urls: tuple[str, ...] = (),
    features: str = "the network's output",
    logits: str = "none (a feature network)",
    notes: str = "",
    replace: bool = False,
) -> ExtractorEntry:
    """Add a network to the registry: then `classifier=name` (--classifier NAME), `extractors={metric: name}`
    and statistics files work with it like with the package's own networks.

    build(path) makes the module, in eval mode, from its weights file, which is resolved like every
    registry network's: the `weights` option, the environment variable `env_weights`, the cache
    (`inception-score weights install FILE --classifier NAME`), or a download from `urls`, checked
    against `sha256` when one is given. The module's forward takes the batch as `contract` prepares it
    and returns the feature vectors (outputs=("features",)) or (logits, features) (outputs=("logits",
    "features")). Returns the registry entry.
    """
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name) or name != name.lower():
        raise InceptionScoreError(f"an extractor's name is lower-case letters, digits, '-' and '_'; got {name!r}")
    if name in REGISTRY and not replace:
        raise InceptionScoreError(f"an extractor named {name!r} is registered already (replace=True swaps it)")
    if outputs not in (("features",), ("logits", "features")):
        raise InceptionScoreError(f"outputs must be ('features',) or ('logits', 'features'); got {outputs!r}")
    if not isinstance(contract, InputContract):
        raise InceptionScoreError(f"contract must be an InputContract, got {contract!r}")
    weights = WeightsFile(
        description=f"the {name} weights file",
        filename=filename,
        sha256=sha256,
        size=None,
        urls=tuple(urls),
        hub_filenames=(),
        env_weights=env_weights,
    )
    wrap = (lambda module: FeaturesOnly(module)) if outputs == ("features",) else (lambda module: module)
    entry = ExtractorEntry(
        name, weights, lambda path, plain: wrap(build(path)).eval(), contract, logits, features, notes, outputs
    )
    REGISTRY[name] = entry
    return entry


def registry_classifier(
    entry: ExtractorEntry, weights: str | Path | None = None, *, progress: bool = True, plain: bool = False
) -> Classifier:
    """The entry's network for the resolved weights file, loaded (and optimised) once per process."""
    path = resolve_weights(weights, progress=progress, spec=entry.weights)
    sha256 = sha256_file(path)
    if (entry.name, sha256, plain) not in _loaded:
        _loaded[entry.name, sha256, plain] = entry.build(path, plain)
    reference = entry.name == "inception-2015" and entry.weights.matches(sha256)
    cache_key = sha256 if entry.name == "inception-2015" else f"{entry.name} {sha256} input {entry.contract.describe()}"
    return Classifier(
        _loaded[entry.name, sha256, plain],
        entry.contract,
        entry.name,
        f"sha256:{sha256}",
        logits=entry.logits,
        reference=reference,
        weights_sha256=sha256,
        cache_key=cache_key,
        features=entry.features,
        outputs=entry.outputs,
    )


def inception_2015_classifier(model: nn.Module, sha256: str, reference: bool) -> Classifier:
    """The paper's network: TF1 bilinear to 299, (x - 128) / 128, softmax over pool3 @ fc.weight.T."""
    entry = REGISTRY["inception-2015"]
    return Classifier(
        model,
        INCEPTION_2015_INPUT,
        "inception-2015",
        f"sha256:{sha256}",
        logits=entry.logits,
        reference=reference,
        weights_sha256=sha256,
        cache_key=sha256,
        features=entry.features,
        outputs=entry.outputs,
    )


class LogitsAndFeatures(nn.Module):
    """Wrap a user's module so forward returns (logits N x C, features N x D) whatever it returned.

    The module may return logits alone (features are then N x 0), a tuple (logits, features), or
    declare the order of its tuple in an `outputs` attribute, e.g. ("features", "logits").
    """

    def __init__(self, module: nn.Module, name: str) -> None:
        super().__init__()
        self.module = module
        self.name = name
        self.order = declared_outputs(module, name)

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            output = self.module(batch)
        except InceptionScoreError:
            raise
        except (Exception, SystemExit) as error:  # the user's code: any failure, reported in one line
            raise InceptionScoreError(
                f"classifier {self.name} failed on a batch of {plural(batch.shape[0], 'image')} "
                f"({' x '.join(map(str, batch.shape[1:]))}): {one_line(error)}"
            ) from None
        parts = dict(zip(self.order, output)) if isinstance(output, (tuple, list)) else {"logits": output}
        logits, features = parts.get("logits"), parts.get("features")
        if (
            not isinstance(logits, torch.Tensor)
            or logits.dim() != 2
            or logits.shape[0] != batch.shape[0]
            or logits.shape[1] < 2
        ):
            got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(output).__name__
            raise InceptionScoreError(
                f"classifier {self.name} must return logits as N x C (C >= 2) for a batch of {batch.shape[0]}, "
                f"or a tuple (logits, features); got {got}"
            )
        if features is None:
            return logits, logits.new_zeros((batch.shape[0], 0))
        if not isinstance(features, torch.Tensor) or features.dim() < 2 or features.shape[0] != batch.shape[0]:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise InceptionScoreError(
                f"classifier {self.name} must return features as N x D (or N x ...) for a "
                f"batch of {batch.shape[0]}; got {got}"
            )
        return logits, features.flatten(1)


TORCHSCRIPT_FAILED = "The following operation failed in the TorchScript interpreter"


def one_line(error: BaseException) -> str:
    """An exception from the user's code as 'Type: first line of its message' (sys.exit: its code), with
    the real cause: a TorchScript failure's own error (the last line of its message, after the script's
    traceback), and an exception's `__cause__` when it was raised from one."""
    if isinstance(error, SystemExit):
        return f"it called sys.exit({error.code!r})"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if lines and lines[0].startswith(TORCHSCRIPT_FAILED) and len(lines) > 1:
        where = next((line for line in lines if line.startswith('File "')), None)  # the model's own forward
        cause = lines[-1].removeprefix("builtins.")
        text = f"{escaped(cause[:300])} (in the TorchScript interpreter{', ' + escaped(where[:200]) if where else ''})"
    else:
        text = f"{type(error).__name__}: {escaped(lines[0][:300])}" if lines else type(error).__name__
    cause_of = error.__cause__
    if cause_of is not None and cause_of is not error and not isinstance(cause_of, SystemExit):
        text += f"; caused by {one_line(cause_of)}"
    return text


def declared_outputs(module: Any, name: str) -> tuple[str, ...]:
    """The order of a module's tuple output: its `outputs` attribute, else ("logits", "features")."""
    declared = getattr(module, "outputs", None)
    if declared is None:
        return MODULE_OUTPUTS
    if (
        isinstance(declared, str)
        or not isinstance(declared, (tuple, list))
        or "logits" not in declared
        or not set(declared) <= set(MODULE_OUTPUTS)
        or len(set(declared)) != len(declared)
    ):
        raise InceptionScoreError(
            f"classifier {name}: its outputs attribute must name the tuple it returns, with "
            f"'logits' and optionally 'features' (e.g. ('logits', 'features')); got {declared!r}"
        )
    return tuple(declared)


def probed_outputs(wrapped: LogitsAndFeatures, contract: InputContract) -> tuple[str, ...]:
    """What a module gives, found by running it once on one blank image of its input size."""
    blank = torch.zeros((1, contract.channels, contract.size, contract.size))
    try:
        with torch.inference_mode():
            _, features = wrapped(blank)
    except InceptionScoreError:
        raise
    except Exception as error:  # the user's code: any exception, reported in one line
        raise InceptionScoreError(
            f"classifier {wrapped.name} failed on a blank {contract.describe()} input: {one_line(error)}"
        ) from None
    return wrapped.order if features.shape[1] else ("logits",)


def declared_contract(module: Any) -> dict[str, Any]:
    """The contract a module declares in its `input_contract` attribute (a dict or InputContract), if any."""
    declared = getattr(module, "input_contract", None)
    if declared is None:
        return {}
    if isinstance(declared, InputContract):
        return {
            "input_size": declared.size,
            "resize": declared.resize,
            "normalize": declared.normalize,
            "channels": declared.channels,
        }
    if not isinstance(declared, dict) or not set(declared) <= set(_CONTRACT_KEYS):
        raise InceptionScoreError(
            f"the classifier's input_contract must be a dict with keys among {', '.join(_CONTRACT_KEYS)}, "
            f"got {declared!r}"
        )
    return dict(declared)


def build_contract(
    declared: dict[str, Any],
    name: str,
    *,
    input_size: int | None = None,
    resize: str | None = None,
    normalize: str | None = None,
    channels: int | None = None,
) -> InputContract:
    """The module's declared contract overridden by explicit options; size and normalisation are required."""
    given = {"input_size": input_size, "resize": resize, "normalize": normalize, "channels": channels}
    merged = {**declared, **{key: value for key, value in given.items() if value is not None}}
    for key, option in (
        ("input_size", "--input-size N (API: input_size=N)"),
        ("normalize", "--normalize NAME (API: normalize=NAME)"),
    ):
        if key not in merged:
            raise InceptionScoreError(
                f"classifier {name} does not declare its {key.replace('_', ' ')}: pass {option}, or give the "
                "module an input_contract attribute (see README, 'Scoring other domains')"
            )
    try:
        return InputContract(
            size=int(merged["input_size"]),
            resize=str(merged.get("resize", "bilinear")),
            normalize=str(merged["normalize"]),
            channels=int(merged.get("channels", 3)),
        )
    except (ValueError, TypeError, OverflowError) as error:
        raise InceptionScoreError(f"classifier {name}: bad input contract {merged!r}: {error}") from None


def load_classifier(
    spec: Any = None,
    *,
    weights: str | Path | None = None,
    input_size: int | None = None,
    resize: str | None = None,
    normalize: str | None = None,
    channels: int | None = None,
    progress: bool = True,
    plain: bool = False,
) -> Classifier:
    """The extractor to run: a REGISTRY name ("inception-2015", the default, or "torchvision"), a
    TorchScript file, "package.module:factory", an nn.Module or a Classifier.

    input_size, resize, normalize and channels give a custom module's input contract (unless it
    declares one); plain=True (registry networks only) keeps the unoptimised modules.
    """
    options = {"input_size": input_size, "resize": resize, "normalize": normalize, "channels": channels}
    name = "inception-2015" if spec is None else spec
    if isinstance(name, str) and name in REGISTRY:
        _no_options(
            options,
            "the inception-2015 classifier (the paper's protocol is fixed)"
            if name == "inception-2015"
            else f"the {name} preset (its protocol is fixed)",
        )
        return registry_classifier(REGISTRY[name], weights, progress=progress, plain=plain)
    if plain:
        raise InceptionScoreError(
            "plain (--plain) applies to the registry's networks (inception-2015, torchvision) "
            "only: other classifiers run as they are given"
        )
    if isinstance(spec, Classifier):
        _no_options(options, "a Classifier object (its contract is fixed)")
        return spec
    if weights is not None:
        raise InceptionScoreError(
            "weights applies to the inception-2015 and torchvision classifiers only; a custom classifier "
            "carries its own weights"
        )
    if isinstance(spec, nn.Module):
        name = f"python object {type(spec).__module__}.{type(spec).__qualname__}"
        return _custom(spec, name, f"python:{type(spec).__module__}.{type(spec).__qualname__}", None, options)
    if not isinstance(spec, (str, Path)):
        raise InceptionScoreError(
            f"classifier must be 'inception-2015', 'torchvision', a TorchScript file, 'package.module:factory' "
            f"or an nn.Module, got {type(spec).__name__}"
        )
    text = str(spec)
    if _FACTORY.match(text) and not Path(text).exists():
        return _custom(_call_factory(text), text, f"python:{text}", None, options)
    return _torchscript(Path(text), options)


def _no_options(options: dict[str, Any], what: str) -> None:
    given = [key for key, value in options.items() if value is not None]
    if given:
        flags = ", ".join("--" + key.replace("_", "-") for key in given)
        raise InceptionScoreError(
            f"{flags} cannot be used with {what}; they are for custom classifiers "
            "(--classifier FILE.pt or package.module:factory)"
        )


def _custom(module: nn.Module, name: str, identity: str, sha256: str | None, options: dict[str, Any]) -> Classifier:
    contract = build_contract(declared_contract(module), name, **options)
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    wrapped = LogitsAndFeatures(module, name)
    outputs = probed_outputs(wrapped, contract)
    cache_key = None if sha256 is None else f"torchscript {sha256} input {contract.describe()} outputs {outputs}"
    return Classifier(
        wrapped,
        contract,
        "torchscript" if sha256 else "python",
        identity,
        logits="the module's logits output",
        weights_sha256=sha256,
        cache_key=cache_key,
        features="the module's features output" if "features" in outputs else "none",
        outputs=outputs,
    )


def _torchscript(path: Path, options: dict[str, Any]) -> Classifier:
    if not path.is_file():
        raise InceptionScoreError(
            f"classifier {path}: no such file (expected a TorchScript file, 'package.module:factory', "
            "'inception-2015' or 'torchvision')"
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.* is deprecated", category=DeprecationWarning)
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:  # torch raises RuntimeError, ValueError, zipfile errors...
            raise InceptionScoreError(
                f"cannot load classifier {path} as TorchScript ({one_line(error)}). Save a model with "
                "torch.jit.save(torch.jit.script(model), FILE); for a plain state dict use "
                "--classifier package.module:factory"
            ) from None
    return _custom(module, str(path), f"sha256:{sha256_file(path)}", sha256_file(path), options)


def _call_factory(text: str) -> nn.Module:
    module_name, _, attribute = text.partition(":")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))  # like `python -m`: a factory in the working directory is found
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (Exception, SystemExit) as error:  # importing runs the user's module: any failure
        raise InceptionScoreError(f"cannot import classifier factory {text}: {one_line(error)}") from None
    if not callable(target):
        raise InceptionScoreError(f"classifier factory {text} is a {type(target).__name__}, not a callable")
    try:
        module = target()
    except (Exception, SystemExit) as error:
        raise InceptionScoreError(f"classifier factory {text} failed: {one_line(error)}") from None
    if not isinstance(module, nn.Module):
        raise InceptionScoreError(
            f"classifier factory {text} returned a {type(module).__name__}, not a torch nn.Module"
        )
    return module


def torchvision_classifier(weights: str | Path | None = None, *, progress: bool = True) -> Classifier:
    """torchvision's ImageNet Inception v3: bilinear (half-pixel) to 299, [-1, 1], softmax over fc with bias."""
    return registry_classifier(REGISTRY["torchvision"], weights, progress=progress)
