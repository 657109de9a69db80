"""torch-fidelity 0.4's `calculate_metrics(**kwargs)` over our engine: its argument names, its keys, its numbers.

A script written for torch-fidelity runs unchanged with `from inception_score.compat import calculate_metrics`.
Every argument torch-fidelity 0.4 reads is known here. Those that change a number are honoured, or
refused when the value asks for something we do not compute (another kernel, another layer); those
that only concern torch-fidelity's own machinery (its feature cache files, its data loader, its
dataset downloads) are accepted and change nothing; an unknown name is an error that lists the known
ones (torch-fidelity itself ignores a misspelt name). The inputs are read as torch-fidelity reads
them (the same files in the same order, the same split permutation and KID subset draws), so IS,
FID, KID and precision/recall agree with its own to 1e-4 relative (docs/migrating.md).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import engine
from .errors import InceptionScoreError, escaped, warn
from .metrics import Evaluation
from .options import Options
from .pipeline.sources import Sample, Source

# torch-fidelity 0.4.0's DEFAULTS: every argument calculate_metrics reads, with its default.
DEFAULTS: dict[str, Any] = {
    "input1": None,
    "input2": None,
    "cuda": True,
    "batch_size": 64,
    "isc": False,
    "fid": False,
    "kid": False,
    "prc": False,
    "ppl": False,
    "feature_extractor": None,
    "feature_layer_isc": None,
    "feature_layer_fid": None,
    "feature_layer_kid": None,
    "feature_layer_prc": None,
    "feature_extractor_weights_path": None,
    "feature_extractor_internal_dtype": None,
    "feature_extractor_compile": False,
    "isc_splits": 10,
    "kid_subsets": 100,
    "kid_subset_size": 1000,
    "kid_kernel": "poly",
    "kid_kernel_poly_degree": 3,
    "kid_kernel_poly_gamma": None,
    "kid_kernel_poly_coef0": 1,
    "kid_kernel_rbf_sigma": 10,
    "ppl_epsilon": 1e-4,
    "ppl_reduction": "mean",
    "ppl_sample_similarity": "lpips-vgg16",
    "ppl_sample_similarity_resize": 64,
    "ppl_sample_similarity_dtype": "uint8",
    "ppl_discard_percentile_lower": 1,
    "ppl_discard_percentile_higher": 99,
    "ppl_z_interp_mode": "lerp",
    "prc_neighborhood": 3,
    "prc_batch_size": 10000,
    "samples_shuffle": True,
    "samples_find_deep": False,
    "samples_find_ext": "png,jpg,jpeg",
    "samples_ext_lossy": "jpg,jpeg",
    "samples_resize_and_crop": 0,
    "datasets_root": None,
    "datasets_download": True,
    "cache_root": None,
    "cache": True,
    "input1_cache_name": None,
    "input1_model_z_type": "normal",
    "input1_model_z_size": None,
    "input1_model_num_classes": 0,
    "input1_model_num_samples": None,
    "input2_cache_name": None,
    "input2_model_z_type": "normal",
    "input2_model_z_size": None,
    "input2_model_num_classes": 0,
    "input2_model_num_samples": None,
    "rng_seed": 2020,
    "save_cpu_ram": False,
    "verbose": True,
}
# torch-fidelity's development branch (after 0.4.0): MIND, the Monge Inception Distance.
DEVELOPMENT: dict[str, Any] = {"mind": False, "mind_num_projections": 1000, "feature_layer_mind": None}
ARGUMENTS = {**DEFAULTS, **DEVELOPMENT}
# Renamed in 0.4.0 (torch-fidelity maps the old names with a FutureWarning, and so do we).
DEPRECATED = {
    "kid_degree": "kid_kernel_poly_degree",
    "kid_gamma": "kid_kernel_poly_gamma",
    "kid_coef0": "kid_kernel_poly_coef0",
}
# Arguments honoured: each changes what is computed, and is passed on to the engine.
HONOURED = (
    "input1",
    "input2",
    "cuda",
    "batch_size",
    "isc",
    "fid",
    "kid",
    "prc",
    "mind",
    "mind_num_projections",
    "feature_extractor",
    "feature_extractor_weights_path",
    "isc_splits",
    "kid_subsets",
    "kid_subset_size",
    "samples_shuffle",
    "samples_find_deep",
    "samples_find_ext",
    "samples_ext_lossy",
    "samples_resize_and_crop",
    "cache",
    "rng_seed",
    "verbose",
)
# Arguments accepted only at the value we compute (another value is refused, with the reason).
FIXED = (
    "ppl",
    "feature_layer_isc",
    "feature_layer_fid",
    "feature_layer_kid",
    "feature_layer_prc",
    "feature_layer_mind",
    "feature_extractor_internal_dtype",
    "kid_kernel",
    "kid_kernel_poly_degree",
    "kid_kernel_poly_gamma",
    "kid_kernel_poly_coef0",
    "prc_neighborhood",
)
# Arguments that change no number here, and why.
NO_EFFECT = {
    "feature_extractor_compile": "the network is never compiled (torch-fidelity warns it may cost precision)",
    "prc_batch_size": "distances are exact whatever the block size",
    "save_cpu_ram": "memory is bounded by the engine's own streaming",
    "datasets_root": "torch-fidelity's registered datasets are not read here (give their folders)",
    "datasets_download": "torch-fidelity's registered datasets are not read here (give their folders)",
    "cache_root": "the feature cache is our own, keyed by image content (cache=False turns it off)",
    "input1_cache_name": "the feature cache is keyed by image content, not by a name",
    "input2_cache_name": "the feature cache is keyed by image content, not by a name",
    "kid_kernel_rbf_sigma": "read only with kid_kernel='rbf', which is refused",
    **{f"input{side}_model_{what}": "read only for a generator model input, which is refused"
       for side in (1, 2) for what in ("z_type", "z_size", "num_classes", "num_samples")},
    **{name: "read only with ppl=True, which is refused" for name in DEFAULTS if name.startswith("ppl_")},
}  # fmt: skip
EXTRACTORS = {"inception-v3-compat": "inception-2015", "vgg16": "vgg16"}  # torch-fidelity's name -> our registry's
FEATURE_DIMS = {"inception-2015": 2048, "vgg16": 4096}
LAYERS = {  # the layer each metric reads (torch-fidelity's default); the only one we provide
    ("inception-v3-compat", "isc"): "logits_unbiased",
    ("inception-v3-compat", "fid"): "2048",
    ("inception-v3-compat", "kid"): "2048",
    ("inception-v3-compat", "prc"): "2048",
    ("vgg16", "fid"): "fc2_relu",
    ("vgg16", "kid"): "fc2_relu",
    ("vgg16", "prc"): "fc2_relu",
    ("inception-v3-compat", "mind"): "2048",
    ("vgg16", "mind"): "fc2_relu",
}
DEFAULT_EXTRACTOR = {flag: "inception-v3-compat" for flag in ("isc", "fid", "kid", "mind")} | {"prc": "vgg16"}
METRICS = {"isc": "is", "fid": "fid", "kid": "kid", "mind": "mind", "prc": "pr"}  # its flag -> our metric
KEYS = (
    "inception_score_mean",
    "inception_score_std",
    "frechet_inception_distance",
    "kernel_inception_distance_mean",
    "kernel_inception_distance_std",
    "monge_inception_distance",
    "precision",
    "recall",
    "f_score",
)
REGISTERED_DATASETS = (
    "cifar10-train",
    "cifar10-val",
    "cifar100-train",
    "cifar100-val",
    "stl10-train",
    "stl10-test",
    "stl10-unlabeled",
)


def calculate_metrics(**kwargs: Any) -> dict[str, float]:
    """torch-fidelity 0.4's `calculate_metrics`: the same arguments, keys and numbers (see the module docstring).

    Parameters
    ----------
    **kwargs
        torch-fidelity's arguments (`input1`, `input2`, `isc`, `fid`, `kid`, `prc`, `isc_splits`,
        `kid_subsets`, `kid_subset_size`, `samples_shuffle`, `rng_seed`, `batch_size`, `cuda`,
        `feature_extractor_weights_path`, ...; docs/migrating.md lists each and what it does here).

    Returns
    -------
    dict
        torch-fidelity's keys for the metrics asked for (`inception_score_mean`, `inception_score_std`,
        `frechet_inception_distance`, `kernel_inception_distance_mean`, `kernel_inception_distance_std`,
        `precision`, `recall`, `f_score`), in its order, as Python floats.
    """
    args = checked_arguments(kwargs)
    flags = [flag for flag in METRICS if args[flag]]
    if not flags:
        raise InceptionScoreError("at least one metric must be specified (isc, fid, kid, prc or mind)")
    if args["input1"] is None:
        raise InceptionScoreError("input1 is required for every metric")
    if args["input2"] is None and any(flag != "isc" for flag in flags):
        raise InceptionScoreError("input2 is required for fid, kid, prc and mind (they compare two inputs)")
    groups: dict[str, list[str]] = {}
    for flag in flags:
        extractor = args["feature_extractor"] or DEFAULT_EXTRACTOR[flag]
        groups.setdefault(extractor, []).append(flag)
    if args["feature_extractor_weights_path"] is not None and len(groups) > 1:
        raise InceptionScoreError(
            "feature_extractor_weights_path names one file, but this call runs Inception (isc, fid, kid) and VGG-16 "
            "(prc), and torch-fidelity 0.4 would load that file into both: make one call per network"
        )
    sources = {side: input_source(args[f"input{side}"], args, f"input{side}") for side in (1, 2)}
    found: dict[str, float] = {}
    for extractor, group in groups.items():
        found.update(_metrics_of(_evaluate(sources, args, extractor, group), group))
    return {key: found[key] for key in KEYS if key in found}


def checked_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments with the renamed ones mapped, the defaults filled in, and every value checked."""
    args = dict(kwargs)
    for old, new in DEPRECATED.items():
        if old in args:
            warnings.warn(f'argument "{old}" is deprecated since torch-fidelity 0.4.0; use "{new}"', FutureWarning, 3)
            args[new] = args.pop(old)
    unknown = sorted(set(args) - set(ARGUMENTS))
    if unknown:
        raise InceptionScoreError(
            f"unknown torch-fidelity argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"the arguments are {', '.join(ARGUMENTS)}"
        )
    args = {**ARGUMENTS, **args}
    switches = ("cuda", "isc", "fid", "kid", "prc", "mind", "ppl", "samples_shuffle", "samples_find_deep", "cache")
    for flag in (*switches, "verbose"):
        if not isinstance(args[flag], (bool, np.bool_)) and args[flag] not in (0, 1):
            raise InceptionScoreError(f"{flag} must be True or False, got {args[flag]!r}")
    if args["ppl"]:
        raise InceptionScoreError(
            "ppl (perceptual path length) is not computed here: it needs a generator model and LPIPS; "
            "compute it with torch-fidelity"
        )
    _check_extractor(args)
    _check_kid_kernel(args)
    if args["prc_neighborhood"] != 3:
        raise InceptionScoreError(
            f"prc_neighborhood={args['prc_neighborhood']!r}: precision/recall here use k = 3 neighbours "
            "(Kynkaanniemi et al., torch-fidelity's default) and no other"
        )
    for name in ("samples_find_ext", "samples_ext_lossy"):
        if not isinstance(args[name], str) or (name == "samples_find_ext" and not args[name].strip(",")):
            raise InceptionScoreError(
                f"{name} must be comma-separated extensions such as 'png,jpg', got {args[name]!r}"
            )
    size = args["samples_resize_and_crop"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InceptionScoreError(f"samples_resize_and_crop must be a whole number of pixels (0: off), got {size!r}")
    return args


def _check_extractor(args: dict[str, Any]) -> None:
    name = args["feature_extractor"]
    if name is not None and name not in EXTRACTORS:
        raise InceptionScoreError(
            f"feature_extractor={name!r} is not available here: torch-fidelity's inception-v3-compat and vgg16 are "
            "(its CLIP and DINOv2 extractors preprocess in their own way; for FD_DINOv2 or CLIP features use "
            "inception_score.evaluate with metrics='fd_dinov2' or 'fd_clip')"
        )
    if name == "vgg16" and args["isc"]:
        raise InceptionScoreError("isc on vgg16 features: VGG-16 gives no class logits here; use the default extractor")
    for flag in METRICS:
        layer = args[f"feature_layer_{flag}"]
        extractor = name or DEFAULT_EXTRACTOR[flag]
        if args[flag] and layer is not None and layer != LAYERS[extractor, flag]:
            raise InceptionScoreError(
                f"feature_layer_{flag}={layer!r}: {extractor} gives {flag} its layer {LAYERS[extractor, flag]!r} "
                "here and no other"
            )
    dtype = args["feature_extractor_internal_dtype"]
    if dtype not in (None, "float32", "float64"):
        raise InceptionScoreError(f"feature_extractor_internal_dtype must be 'float32' or 'float64', got {dtype!r}")
    if dtype == "float64":
        warn(
            "feature_extractor_internal_dtype='float64': torch-fidelity 0.4 runs the network in float32 all the "
            "same (its text_to_dtype maps 'float64' to torch.float32), and so does this call"
        )


def _check_kid_kernel(args: dict[str, Any]) -> None:
    if args["kid_kernel"] != "poly":
        raise InceptionScoreError(
            f"kid_kernel={args['kid_kernel']!r}: KID here uses the polynomial kernel (x.y / d + 1)^3 only"
        )
    extractor = EXTRACTORS[args["feature_extractor"] or "inception-v3-compat"]
    gamma, dims = args["kid_kernel_poly_gamma"], FEATURE_DIMS[extractor]
    if (
        args["kid_kernel_poly_degree"] != 3
        or args["kid_kernel_poly_coef0"] != 1
        or not (gamma is None or (isinstance(gamma, (int, float)) and math.isclose(gamma, 1 / dims, rel_tol=1e-12)))
    ):
        raise InceptionScoreError(
            "KID here uses the kernel (x.y / d + 1)^3 (kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None or "
            f"1/{dims}, kid_kernel_poly_coef0=1); got degree {args['kid_kernel_poly_degree']!r}, gamma {gamma!r}, "
            f"coef0 {args['kid_kernel_poly_coef0']!r}"
        )


def input_source(value: Any, args: dict[str, Any], name: str) -> Source | None:
    """torch-fidelity's input as our Source: a folder read as it reads one, or a Dataset of uint8 tensors."""
    if value is None:
        return None
    if isinstance(value, torch.utils.data.Dataset):
        return _dataset_source(value, name)
    if not isinstance(value, (str, os.PathLike)):
        raise InceptionScoreError(
            f"{name} must be a folder of images or a torch Dataset of uint8 3 x H x W tensors, got a "
            f"{type(value).__name__} (generator models are not run here: save their samples, or use "
            "inception_score.evaluate with a callable sample(batch_size))"
        )
    text = str(value)
    if text in REGISTERED_DATASETS:
        raise InceptionScoreError(
            f"{name}={text!r} is one of torch-fidelity's registered datasets, which are not downloaded here: give "
            "a folder of its images (or, for FID, a statistics file: inception-score refs list)"
        )
    if Path(text).is_file() and text.endswith((".onnx", ".pth")):
        raise InceptionScoreError(f"{escaped(text)}: generator models are not run here; give a folder of its samples")
    if not Path(text).is_dir():
        raise InceptionScoreError(f"{name}={escaped(text)}: no such folder (torch-fidelity reads folders of images)")
    files = listed_files(text, args["samples_find_deep"], args["samples_find_ext"])
    lossy = {ext.strip() for ext in args["samples_ext_lossy"].split(",") if ext.strip()}
    if any(_extension(file) in lossy for file in files):
        warn(f"{name}: some images are lossy-compressed ({', '.join(sorted(lossy))}), which may affect the metrics")
    size = args["samples_resize_and_crop"]
    if size:
        return _resized_source(files, size, f"{len(files)} files of {escaped(text)}, resized and cropped to {size}")
    return _files_source(files, f"{len(files)} files of {escaped(text)}")


def listed_files(folder: str, deep: bool, extensions: str) -> list[str]:
    """The image files torch-fidelity reads from a folder, in its order: those whose lowercased extension is in
    `extensions`, of the folder itself or (deep) of every folder under it, by real path, sorted."""
    wanted = [ext.strip() for ext in extensions.split(",") if ext.strip()]
    files = []
    for root, _, names in os.walk(folder):
        if not deep and os.path.realpath(root) != os.path.realpath(folder):
            continue
        files += [os.path.realpath(os.path.join(root, name)) for name in names if _extension(name) in wanted]
    if not files:
        raise InceptionScoreError(
            f"{escaped(folder)}: no images with the extensions {extensions}"
            f"{'' if deep else ' directly in the folder (samples_find_deep=True also reads its subfolders)'}"
        )
    return sorted(files)


def _extension(name: str) -> str:
    return os.path.splitext(name)[1].lower().removeprefix(".")


def _files_source(files: list[str], description: str) -> Source:
    from .pipeline.sources import open_source

    source = open_source([Path(file) for file in files])
    source.description = description
    return source


def _resized_source(files: list[str], size: int, description: str) -> Source:
    """The files decoded with PIL as RGB, resized and centre-cropped as torchvision's Resize(size) and
    CenterCrop(size) do to PIL images (torch-fidelity's samples_resize_and_crop)."""

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        for file in files[start:stop]:
            yield Sample(escaped(file), resize_and_crop(file, size))

    return Source(description, len(files), read)


def resize_and_crop(file: str, size: int) -> np.ndarray:
    """One image as torchvision's Resize(size) then CenterCrop(size) give it for a PIL image: the shorter side
    to `size` (the longer one int(size * long / short)) with PIL's bilinear filter, then the centre square
    (top and left offsets rounded half to even, like Python's round)."""
    try:
        with Image.open(file) as opened:
            image = opened.convert("RGB")
    except Exception as error:  # PIL raises many types for broken files
        raise InceptionScoreError(f"{escaped(file)}: cannot decode image ({error})") from None
    width, height = image.size
    short, long = min(width, height), max(width, height)
    if short != size:
        scaled = int(size * long / short)
        image = image.resize((size, scaled) if width <= height else (scaled, size), Image.Resampling.BILINEAR)
    width, height = image.size
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return np.ascontiguousarray(np.asarray(image)[top : top + size, left : left + size])


def _dataset_source(dataset: torch.utils.data.Dataset, name: str) -> Source:
    """A map-style Dataset whose items are uint8 3 x H x W tensors, read in index order."""
    try:
        count = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise InceptionScoreError(f"{name}: the Dataset has no len(); torch-fidelity needs a sized Dataset") from None

    def read(start: int, stop: int | None) -> Iterator[Sample]:
        for index in range(start, count if stop is None else stop):
            item = dataset[index]
            if not (
                isinstance(item, torch.Tensor) and item.dtype == torch.uint8 and item.dim() == 3 and item.shape[0] == 3
            ):
                got = f"{item.dtype} {tuple(item.shape)}" if isinstance(item, torch.Tensor) else type(item).__name__
                raise InceptionScoreError(
                    f"{name}[{index}]: torch-fidelity's Dataset items are uint8 tensors 3 x H x W; got {got}"
                )
            yield Sample(f"{name}[{index}]", np.ascontiguousarray(item.permute(1, 2, 0).numpy()))

    return Source(f"{name}: a {type(dataset).__name__} of {count} images", count, read)


def _evaluate(sources: dict[int, Source | None], args: dict[str, Any], extractor: str, flags: list[str]) -> Evaluation:
    """One pass of our engine through one network for torch-fidelity's flags."""
    metric_options: dict[str, Any] = dict(
        splits=args["isc_splits"],
        order="shuffled" if args["samples_shuffle"] else "given",
        seed=args["rng_seed"],
        kid_subsets=args["kid_subsets"],
        kid_subset_size=args["kid_subset_size"],
        kid_seed=args["rng_seed"],
        mind_num_projections=args["mind_num_projections"],
        mind_seed=args["rng_seed"],
    )
    options = Options(
        classifier=EXTRACTORS[extractor],
        weights=args["feature_extractor_weights_path"],
        batch_size=args["batch_size"],
        device=_device(args["cuda"]),
        cache=bool(args["cache"]),
        progress=bool(args["verbose"]),
    )
    compares = any(flag != "isc" for flag in flags)
    return engine.Evaluator(
        tuple(METRICS[flag] for flag in flags),
        sources[2] if compares else None,
        samples=sources[1],
        options=options,
        **metric_options,
    ).compute()


def _device(cuda: bool) -> str:
    if not cuda:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    warn("cuda=True but CUDA is not available: running on the CPU")
    return "cpu"


def _metrics_of(evaluation: Evaluation, flags: list[str]) -> dict[str, float]:
    """torch-fidelity's keys for what `evaluation` holds."""
    found: dict[str, float] = {}
    if "isc" in flags:
        found.update(
            inception_score_mean=evaluation.inception_score.mean, inception_score_std=evaluation.inception_score.std
        )
    if "fid" in flags:
        found["frechet_inception_distance"] = evaluation.fid.fid
    if "kid" in flags:
        found.update(
            kernel_inception_distance_mean=evaluation.kid.mean, kernel_inception_distance_std=evaluation.kid.std
        )
    if "mind" in flags:
        found["monge_inception_distance"] = evaluation.mind.mind
    if "prc" in flags:
        manifold = evaluation.manifold
        found.update(precision=manifold.precision, recall=manifold.recall, f_score=manifold.f_score)
    return {key: float(value) for key, value in found.items()}
