"""`fidelity`: torch-fidelity 0.4's command (`fidelity --input1 DIR --isc --fid ...`): its flags, its output.

Every flag of its command is accepted with its meaning (`inception-score fidelity --help`); the numbers
come from `inception_score.compat.calculate_metrics`, which honours or refuses each argument. The output
is what its command prints on stdout: `key: value` lines (7 significant digits) or, with --json, the
dict as JSON indented by 4. Unlike torch-fidelity, an unknown flag is an error, not a notice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import torch

from ..compat import ARGUMENTS, FIXED, NO_EFFECT, calculate_metrics
from ..errors import InceptionScoreError
from .common import Commands, add_command

KID_BELOW_ZERO = "KID values slightly less than 0 are valid and indicate that distributions are very similar"
# torch-fidelity's value flags: (flag, type); the destination is the flag's name with underscores
VALUES = (
    ("--input1", str),
    ("--input2", str),
    ("--feature-extractor", str),
    ("--feature-layer-isc", str),
    ("--feature-layer-fid", str),
    ("--feature-layer-kid", str),
    ("--feature-layer-prc", str),
    ("--feature-extractor-weights-path", str),
    ("--isc-splits", int),
    ("--kid-subsets", int),
    ("--kid-subset-size", int),
    ("--kid-kernel", str),
    ("--kid-kernel-poly-degree", int),
    ("--kid-kernel-poly-gamma", float),
    ("--kid-kernel-poly-coef0", float),
    ("--kid-kernel-rbf-sigma", float),
    ("--ppl-epsilon", float),
    ("--ppl-reduction", str),
    ("--ppl-sample-similarity", str),
    ("--ppl-sample-similarity-resize", int),
    ("--ppl-sample-similarity-dtype", str),
    ("--ppl-discard-percentile-lower", int),
    ("--ppl-discard-percentile-higher", int),
    ("--ppl-z-interp-mode", str),
    ("--prc-neighborhood", int),
    ("--prc-batch-size", int),
    ("--samples-find-ext", str),
    ("--samples-ext-lossy", str),
    ("--samples-resize-and-crop", int),
    ("--datasets-root", str),
    ("--cache-root", str),
    ("--input1-cache-name", str),
    ("--input1-model-z-type", str),
    ("--input1-model-z-size", int),
    ("--input1-model-num-classes", int),
    ("--input1-model-num-samples", int),
    ("--input2-cache-name", str),
    ("--input2-model-z-type", str),
    ("--input2-model-z-size", int),
    ("--input2-model-num-classes", int),
    ("--input2-model-num-samples", int),
    ("--rng-seed", int),
    ("--mind-num-projections", int),  # torch-fidelity's development branch
    ("--feature-layer-mind", str),
)
# torch-fidelity's switches: (short flag or None, flag)
SWITCHES = (
    ("-j", "--json"),
    ("-i", "--isc"),
    ("-f", "--fid"),
    ("-k", "--kid"),
    ("-r", "--prc"),
    ("-p", "--ppl"),
    (None, "--feature-extractor-compile"),
    (None, "--no-samples-shuffle"),
    (None, "--samples-find-deep"),
    (None, "--no-datasets-download"),
    (None, "--no-cache"),
    (None, "--save-cpu-ram"),
    (None, "--silent"),
    (None, "--mind"),  # torch-fidelity's development branch
)
CHOICES = {"--feature-extractor-internal-dtype": ("float32", "float64")}
HELP = {
    "input1": "the generated images: a folder (read as torch-fidelity reads it)",
    "input2": "the reference images: a folder (for --fid, --kid, --prc)",
    "batch_size": "images per forward pass (torch-fidelity's default 64)",
    "json": "print the metrics as JSON",
    "isc": "Inception Score (inception_score_mean, inception_score_std)",
    "fid": "FID (frechet_inception_distance)",
    "kid": "KID (kernel_inception_distance_mean, _std)",
    "prc": "precision, recall, f_score (on VGG-16, as torch-fidelity)",
    "feature_extractor": "inception-v3-compat or vgg16",
    "feature_extractor_weights_path": "the network's weights file",
    "isc_splits": "IS splits (default 10)",
    "kid_subsets": "KID subsets (default 100)",
    "kid_subset_size": "images per KID subset (default 1000)",
    "no_samples_shuffle": "split the IS in file order",
    "samples_find_deep": "also read the folder's subfolders",
    "samples_find_ext": "extensions to read (default png,jpg,jpeg)",
    "samples_ext_lossy": "extensions to warn about (default jpg,jpeg)",
    "samples_resize_and_crop": "resize the shorter side to N and crop the centre square (0: off)",
    "no_cache": "do not use the feature cache",
    "rng_seed": "seed of the IS permutation, the KID subsets and MIND's draws (default 2020)",
    "mind": "MIND (monge_inception_distance; torch-fidelity's development branch)",
    "mind_num_projections": "MIND's random directions (default 1000)",
    "silent": "no progress or warnings on stderr",
    "ppl": "perceptual path length: refused here (it needs a generator model and LPIPS)",
    "feature_extractor_internal_dtype": "float32 (float64 runs in float32, as torch-fidelity 0.4 runs it)",
}


def _metavar(name: str, kind: type) -> str:
    if name in ("input1", "input2", "datasets_root", "cache_root"):
        return "DIR"
    if name.endswith("_path"):
        return "FILE"
    return {int: "N", float: "X"}.get(kind, "TEXT")


def help_of(name: str) -> str:
    """A flag's help: what it does here (torch-fidelity's meaning), or why it changes nothing."""
    if name in HELP:
        return HELP[name]
    if name in NO_EFFECT:
        return f"accepted, no effect here: {NO_EFFECT[name]}"
    if name in FIXED:
        return "only torch-fidelity's default is computed here (another value is refused)"
    return "see docs/migrating.md"


def register(commands: Commands) -> None:
    parser = add_command(
        commands,
        "fidelity",
        "torch-fidelity 0.4's command: its flags and its output (key: value lines, or --json), our numbers",
    )
    parser.add_argument(
        "-b", "--batch-size", type=int, default=ARGUMENTS["batch_size"], metavar="N", help=help_of("batch_size")
    )
    device = parser.add_mutually_exclusive_group()
    device.add_argument("-g", "--gpu", metavar="IDS", help="use CUDA, these devices (sets CUDA_VISIBLE_DEVICES)")
    device.add_argument("-c", "--cpu", action="store_true", help="use the CPU even when CUDA is there")
    for flag, kind in VALUES:
        name = flag[2:].replace("-", "_")
        parser.add_argument(flag, type=kind, default=ARGUMENTS[name], metavar=_metavar(name, kind), help=help_of(name))
    for flag, choices in CHOICES.items():
        name = flag[2:].replace("-", "_")
        parser.add_argument(flag, choices=choices, default=ARGUMENTS[name], help=help_of(name))
    for short, flag in SWITCHES:
        name = flag[2:].replace("-", "_")
        about = name if name in ARGUMENTS or name in HELP else name.removeprefix("no_")
        parser.add_argument(*([short] if short else []), flag, action="store_true", help=help_of(about))
    parser.add_argument("--samples-shuffle", action="store_true", help="shuffle before the IS splits (the default)")
    parser.set_defaults(handler=run, joins_torchrun=False)


def run(args: argparse.Namespace) -> int:
    """Run the metrics as torch-fidelity's command does and print what it prints."""
    if args.samples_shuffle and args.no_samples_shuffle:
        raise InceptionScoreError("--samples-shuffle and --no-samples-shuffle contradict each other")
    if not (args.isc or args.fid or args.kid or args.prc or args.ppl or args.mind):
        raise InceptionScoreError("no metrics to compute: give --isc, --fid, --kid, --prc or --mind (fidelity --help)")
    if args.input1 is None and args.input2 is None:
        raise InceptionScoreError("no inputs are given: --input1 DIR (and --input2 DIR for --fid, --kid, --prc)")
    kwargs = {name: value for name, value in vars(args).items() if name in ARGUMENTS}
    kwargs.update(
        verbose=not args.silent,
        datasets_download=not args.no_datasets_download,
        samples_shuffle=not args.no_samples_shuffle,
        cache=not args.no_cache,
    )
    if args.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = args.gpu
    kwargs["cuda"] = not args.cpu and os.environ.get("CUDA_VISIBLE_DEVICES", "") != ""
    if torch.cuda.is_available() and not kwargs["cuda"] and not args.silent:
        print("inception-score: CUDA is available but --gpu is not given: running on the CPU", file=sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = calculate_metrics(**kwargs)
    if not args.silent:
        for warning in dict.fromkeys(str(warning.message) for warning in caught):
            print(f"inception-score: warning: {warning}", file=sys.stderr)
        if metrics.get("kernel_inception_distance_mean", 0.0) < 0:
            print(KID_BELOW_ZERO)
    if args.json:
        print(json.dumps(metrics, indent=4))
    else:
        print("\n".join(f"{key}: {value:.7g}" for key, value in metrics.items()))
    return 0
