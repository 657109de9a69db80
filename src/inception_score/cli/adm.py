"""`stats SOURCE -o FILE.npz --format adm`: a batch for the ADM evaluator (guided-diffusion's evaluator.py).

This module extends the `stats` command (registered after it in `cli.COMMANDS`): its flags form their
own group, and `--format adm` hands the run to `save_adm_batch` instead of the statistics writer.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..errors import InceptionScoreError
from ..export import save_adm_batch
from ..pipeline.adm_batch import read_labels
from .common import Commands, options_of, positive_int

ADM_ONLY = ("images_only", "resolution", "labels")
NPZ_ONLY = ("with_features", "max_features", "also")


def register(commands: Commands) -> None:
    stats = commands.choices["stats"]
    statistics_run: Callable[[argparse.Namespace], int] = stats.get_default("handler")
    group = stats.add_argument_group("ADM evaluator batch")
    group.add_argument(
        "--format",
        choices=("npz", "adm"),
        default="npz",
        help="npz (default): mu, sigma (pytorch-fid's format) and ours; adm: a batch for the ADM evaluator, "
        "arr_0 = the images (N x H x W x 3 uint8) with mu, sigma, mu_s, sigma_s",
    )
    group.add_argument(
        "--images-only", action="store_true", help="a sample batch: arr_0 (and --labels) only; no network runs"
    )
    group.add_argument(
        "--resolution",
        type=positive_int,
        metavar="R",
        help="make each image R x R as guided-diffusion's dataset code does (box halvings, bicubic, centre "
        "crop); without it every image must have the same size",
    )
    group.add_argument("--labels", metavar="FILE.npy", help="class labels to store as arr_1 (N whole numbers)")

    def run(args: argparse.Namespace) -> int:
        given = [name for name in (ADM_ONLY if args.format == "npz" else NPZ_ONLY) if getattr(args, name)]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise InceptionScoreError(f"{flags}: not for --format {args.format}")
        return run_adm_batch(args) if args.format == "adm" else statistics_run(args)

    stats.set_defaults(handler=run)


def run_adm_batch(args: argparse.Namespace) -> int:
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
