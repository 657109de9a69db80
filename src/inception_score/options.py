"""Options: how images are read and turned into features, one typed object for every front.

`inception_score`, `evaluate`, `fid`, `kid`, `save_statistics`, the `InceptionScore` object and
every command take the same options. In Python they are passed as keywords (a misspelt name
is an error, never ignored) or as an `Options` object (`options=Options(device="cuda")`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import InceptionScoreError
from .maths.limits import check_seed, check_whole
from .pipeline.arrays import Layout
from .pipeline.cache import DEFAULT_SIZE_LIMIT
from .pipeline.extract import check_device, default_device
from .pipeline.extractors import Classifier, load_classifier
from .pipeline.sources import DEFAULT_MAX_PIXELS, OnError


@dataclass(frozen=True)
class Options:
    """How images become features.

    Parameters
    ----------
    classifier
        The extractor: "inception-2015" (default, the paper's network), "torchvision", a
        TorchScript file, "package.module:factory", an ``nn.Module`` or a ``Classifier``.
    weights
        Weights file of a registry network (default: resolved from the environment, the cache
        or a verified download).
    input_size, resize, normalize, channels
        A custom classifier's input contract, unless the module declares one.
    plain
        Run the unoptimised reference approach (no folding, NCHW, decoding inline).
    batch_size
        Images per forward pass (default 8 on CPU, 200 on CUDA).
    device
        Torch device (default: CUDA if available). Checked against this machine when it is used
        (a missing GPU is one clear error then), so the options can be made anywhere.
    workers
        Decoding threads (default up to 4; 0 decodes inline).
    fast
        On CUDA, allow TF32 and float16: faster, approximate, recorded in the result.
    cache, cache_size
        Use the per-image feature cache (keyed by content), and its size limit in bytes.
    progress
        Show a progress bar.
    max_pixels
        Refuse larger images (decompression bombs).
    npz_key, value_range, layout
        How arrays and .npz files are read (see the sources page).
    on_error
        "stop" (default) or "skip": leave undecodable files out and name them in the result.
    num_samples, sample_seed
        How many images a callable or iterable gives, and the seed of a callable's draws.
    distributed
        None: use an initialised torch.distributed group if there is one; True: join
        torchrun's; False: this process alone.
    allow_other_protocol
        Accept a catalog reference computed with another protocol (e.g. clean-fid's resize),
        which is refused by default; the result still warns.
    """

    classifier: Any = None
    weights: str | Path | None = None
    input_size: int | None = None
    resize: str | None = None
    normalize: str | None = None
    channels: int | None = None
    plain: bool = False
    batch_size: int | None = None
    device: str | torch.device | None = None
    workers: int | None = None
    fast: bool = False
    cache: bool = True
    cache_size: int = DEFAULT_SIZE_LIMIT
    progress: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    npz_key: str | None = None
    value_range: tuple[float, float] | None = None
    layout: Layout | None = None
    on_error: OnError = "stop"
    num_samples: int | None = None
    sample_seed: int | None = None
    distributed: bool | None = None
    allow_other_protocol: bool = False

    def __post_init__(self) -> None:
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1
        ):
            raise InceptionScoreError(f"batch_size must be at least 1, got {self.batch_size!r}")
        if self.on_error not in ("stop", "skip"):
            raise InceptionScoreError(f"on_error must be 'stop' or 'skip', got {self.on_error!r}")
        check_seed(self.sample_seed, "sample_seed")
        check_whole(self.max_pixels, "max_pixels (--max-pixels)", 1)
        check_whole(self.cache_size, "cache_size (--cache-size)", 0)
        if self.workers is not None:
            check_whole(self.workers, "workers (--workers)", 0)
        if self.device is not None:
            _check_device_name(self.device)  # whether this machine has it is checked when it is used

    @classmethod
    def of(cls, options: Options | None = None, **overrides: Any) -> Options:
        """`options` (or the defaults) with keyword overrides; an unknown name is an error."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise InceptionScoreError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                f"the options are {', '.join(sorted(names))}"
            )
        if options is not None and not isinstance(options, Options):
            raise InceptionScoreError(f"options must be an Options object, got {type(options).__name__}")
        return dataclasses.replace(options or cls(), **overrides)

    @property
    def torch_device(self) -> torch.device:
        """The device to run on, checked to exist on this machine (one clear error if not)."""
        return check_device(self.device) if self.device is not None else default_device()

    def load_extractor(self) -> Classifier:
        """The classifier these options name, with its input contract (loaded once per process); the device
        is checked first, so a missing GPU is said before any weights are read."""
        _ = self.torch_device
        return load_classifier(
            self.classifier,
            weights=self.weights,
            input_size=self.input_size,
            resize=self.resize,
            normalize=self.normalize,
            channels=self.channels,
            progress=self.progress,
            plain=self.plain,
        )


def _check_device_name(device: Any) -> None:
    """Refuse, when the options are made, a device that is no torch device or can never run the network
    ("cdua", "meta"); cuda and mps are accepted here and checked against the machine when used, so options
    written for a GPU machine can be made anywhere."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError, ValueError):
        kind = None
    if kind not in ("cpu", "cuda", "mps"):
        check_device(device)  # raises its message for this device
