"""`stats SOURCE -o FILE.npz`: reference statistics (pytorch-fid's format), in one or more feature spaces;
`--format adm`: a batch for the ADM evaluator (the images, and for a reference batch its statistics)."""

from __future__ import annotations

import argparse
import sys

from ..api import save_statistics
from ..errors import InceptionScoreError
from ..export import save_adm_batch
from ..parallel import launch as distributed
from ..pipeline.adm_batch import read_labels
from ..pipeline.statistics import read_statistics
from .common import (
    Commands,
    add_command,
    add_run_options,
    int_at_least,
    options_of,
    pairs,
    positive_int,
    print_skipped,
)

ADM_ONLY = ("images_only", "resolution", "labels")
NPZ_ONLY = ("with_features", "max_features", "also")


def register(commands: Commands) -> None:
    stats = add_command(commands, "stats", "write pool3 statistics of SOURCE (pytorch-fid .npz format)")
    stats.add_argument("source")
    written = stats.add_argument_group("what is written")
    written.add_argument("-o", "--output", required=True, metavar="FILE.npz")
    written.add_argument(
        "--with-features",
        action="store_true",
        help="also store every image's features (N x 2048), needed for KID, precision/recall and "
        "density/coverage against the file",
    )
    written.add_argument(
        "--max-features",
        type=int_at_least(2),
        metavar="N",
        help="store the features of at most N images (a seeded random choice when there are more)",
    )
    written.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="the same statistics in another feature space from the same pass, e.g. dinov2-vitl14=ref_dinov2.npz "
        "(for evaluate --ref-for fd_dinov2=ref_dinov2.npz; repeatable)",
    )
    written.add_argument(
        "--format",
        choices=("npz", "adm"),
        default="npz",
        help="npz (default): mu, sigma (pytorch-fid's format) and ours; adm: a batch for the ADM evaluator, "
        "arr_0 = the images (N x H x W x 3 uint8) with mu, sigma, mu_s, sigma_s",
    )
    adm = stats.add_argument_group("ADM batch (--format adm)")
    adm.add_argument(
        "--images-only", action="store_true", help="a sample batch: arr_0 (and --labels) only; no network runs"
    )
    adm.add_argument(
        "--resolution",
        type=positive_int,
        metavar="R",
        help="make each image R x R as guided-diffusion's dataset code does (box halvings, bicubic, centre crop); "
        "without it every image must have the same size",
    )
    adm.add_argument("--labels", metavar="FILE.npy", help="class labels to store as arr_1 (N whole numbers)")
    add_run_options(stats, json_option=False)
    stats.set_defaults(handler=run, joins_torchrun=True)


def run(args: argparse.Namespace) -> int:
    given = [name for name in (ADM_ONLY if args.format == "npz" else NPZ_ONLY) if getattr(args, name)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise InceptionScoreError(f"{flags}: not for --format {args.format}")
    if args.format == "adm":
        return _adm_batch(args)
    also = pairs(args.also, "--also NAME=FILE", "dinov2-vitl14=ref_dinov2.npz")
    written = save_statistics(
        args.source,
        args.output,
        with_features=args.with_features,
        max_features=args.max_features,
        also=also,
        options=options_of(args),
    )
    if not distributed.is_main_process():
        return 0
    print_skipped(written.skipped_names)
    if written.skipped_names:
        print(
            f"inception-score: warning: {len(written.skipped_names)} undecodable files were skipped (--skip-bad); "
            "the statistics are of the other images",
            file=sys.stderr,
        )
    for statistics in (written, *(read_statistics(file) for file in also.values())):
        shape = statistics.features_shape
        features = f", features {shape[0]} x {shape[1]}" if shape is not None else ""
        spatial = f", mu_s {statistics.mu_s.shape[0]}" if statistics.mu_s is not None else ""
        space = f" ({statistics.extractor})" if statistics is not written else ""
        print(
            f"wrote {statistics.path}{space}: {statistics.n} images, mu {statistics.mu.shape[0]}, sigma "
            f"{statistics.sigma.shape[0]} x {statistics.sigma.shape[1]}{features}{spatial}"
        )
    return 0


def _adm_batch(args: argparse.Namespace) -> int:
    """An ADM evaluator batch (save_adm_batch), and one line saying what it holds."""
    info = save_adm_batch(
        args.source,
        args.output,
        statistics=not args.images_only,
        resolution=args.resolution,
        labels=read_labels(args.labels) if args.labels else None,
        options=options_of(args),
    )
    parts = [f"arr_0 {info.count} x {info.height} x {info.width} x 3 uint8"]
    parts += ["arr_1 labels"] if info.has_labels else []
    parts += list(info.statistics)
    print(f"wrote {info.path}: an ADM {'sample' if args.images_only else 'reference'} batch, {', '.join(parts)}")
    return 0
