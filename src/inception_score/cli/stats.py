"""`stats SOURCE -o FILE.npz`: reference statistics (pytorch-fid's format), in one or more feature spaces."""

from __future__ import annotations

import argparse
import sys

from ..api import save_statistics
from ..parallel import launch as distributed
from ..pipeline.statistics import read_statistics
from .common import Commands, add_command, add_run_options, int_at_least, options_of, pairs, print_skipped


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
    add_run_options(stats, json_option=False)
    stats.set_defaults(handler=run, joins_torchrun=True)


def run(args: argparse.Namespace) -> int:
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
