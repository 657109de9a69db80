"""torch-fidelity 0.4's arguments: each with its default, what it does here, and the checks of its value."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..errors import InceptionScoreError, warn

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
FLAG_METRICS = {"isc": "is", "fid": "fid", "kid": "kid", "mind": "mind", "prc": "pr"}  # its flag -> our metric
DEFAULT_EXTRACTOR = {flag: "inception-v3-compat" for flag in FLAG_METRICS} | {"prc": "vgg16"}
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
    for flag in FLAG_METRICS:
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
