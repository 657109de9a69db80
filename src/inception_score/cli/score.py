"""`score SOURCE`: the Inception Score, with FID/KID against a reference in the same pass and the report."""

from __future__ import annotations

import argparse
import json
import sys

from ..api import evaluate, inception_score
from ..maths.limits import check_seed
from ..parallel import launch as distributed
from ..pipeline.sources import open_source
from ..report import check_report_path, read_class_names, save_report
from ..report.plots import require_matplotlib
from .common import (
    Commands,
    add_command,
    add_is_options,
    add_kid_options,
    add_run_options,
    non_negative_int,
    options_of,
    print_skipped,
    print_warnings,
)


def register(commands: Commands) -> None:
    score = add_command(commands, "score", "score a folder, image file or array file")
    score.add_argument(
        "source", help="folder of images (recursive), .zip/.tar/.tar.gz/.tgz archive, image file, .npy or .npz file"
    )
    score_options = add_is_options(
        score,
        "number of splits (default 10)",
        "shuffled: permute with --seed before splitting (torch-fidelity); given: input order (paper)",
    )
    against = score.add_argument_group("against a reference (same pass)")
    against.add_argument(
        "--fid", metavar="REF", help="also FID against REF (images, a statistics .npz or a catalog NAME), same pass"
    )
    against.add_argument(
        "--kid", metavar="REF", help="also KID against REF (images, a .npz with features or a catalog NAME), same pass"
    )
    add_kid_options(score, "--kid-")
    score_options.add_argument(
        "--bootstrap",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="add a seeded 95%% bootstrap interval of the 1-split score from N resamples (e.g. 1000)",
    )
    report = score.add_argument_group("report")
    report.add_argument("--report", metavar="HTML", help="also write a self-contained HTML report to this file")
    report.add_argument(
        "--class-names",
        metavar="FILE",
        help="text file with one class name per line (line i names class i) for the report",
    )
    add_run_options(score)
    score.set_defaults(handler=run, joins_torchrun=True)


def run(args: argparse.Namespace) -> int:
    check_seed(args.kid_seed, "kid_seed (--kid-seed)")  # a bad seed is refused even when no KID is asked for
    class_names = read_class_names(args.class_names) if args.class_names else None
    if args.report:
        check_report_path(args.report, inputs=(args.source, args.fid, args.kid, args.class_names))
        require_matplotlib()  # before minutes of scoring, not after
    if args.fid or args.kid:
        evaluation = _with_references(args)
        if not distributed.is_main_process():
            return 0
        result, distances = evaluation.inception_score, {"fid": evaluation.fid, "kid": evaluation.kid}
        notes, document, summary = evaluation.warnings, evaluation.to_dict(), evaluation.summary()
    else:
        result = inception_score(
            args.source,
            splits=args.splits,
            order=args.order,
            seed=args.seed,
            bootstrap=args.bootstrap,
            options=options_of(args),
        )
        if not distributed.is_main_process():
            return 0
        distances, notes, document, summary = {}, result.warnings, result.to_dict(), result.summary()
    print_skipped(result.skipped_names)
    print_warnings(notes)
    print(json.dumps(document, indent=2, allow_nan=False) if args.json else f"{summary}\n{result.explain()}")
    if args.report:
        source = open_source(args.source, npz_key=args.npz_key, value_range=args.value_range, layout=args.layout)
        path = save_report(result, args.report, source=source, class_names=class_names, **distances)
        print(f"inception-score: report written to {path}", file=sys.stderr)
    return 0


def _with_references(args: argparse.Namespace):
    metrics = ("is",) + (("fid",) if args.fid else ()) + (("kid",) if args.kid else ())
    return evaluate(
        args.source,
        metrics=metrics,
        fid_reference=args.fid,
        kid_reference=args.kid,
        splits=args.splits,
        order=args.order,
        seed=args.seed,
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
        kid_seed=args.kid_seed,
        bootstrap=args.bootstrap,
        options=options_of(args),
    )
