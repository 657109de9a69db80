"""`evaluate SAMPLES --ref REF`: every number of a paper's table in one pass per side, and the report."""

from __future__ import annotations

import argparse
import json
import sys

from .. import api
from ..metrics import all_names
from ..parallel import launch as distributed
from ..pipeline.sources import open_source
from ..report import save_report
from ..report.plots import require_matplotlib
from .common import (
    Commands,
    add_command,
    add_is_options,
    add_kid_options,
    add_metric_options,
    add_run_options,
    metric_options_of,
    options_of,
    pairs,
    print_skipped,
    print_warnings,
)


def register(commands: Commands) -> None:
    evaluate = add_command(
        commands,
        "evaluate",
        "every number of a paper's table (IS, FID, sFID, KID, precision/recall, density/coverage, IS/FID-infinity, "
        "FD_DINOv2, FD_CLIP, CMMD, Vendi, MIND) of SAMPLES against REF, one pass per side through every network",
    )
    evaluate.add_argument("source", metavar="SAMPLES", help="the generated images (any source, or an ADM batch)")
    what = evaluate.add_argument_group("what to compute")
    what.add_argument(
        "--ref",
        required=True,
        metavar="REF",
        help="reference: images, an archive, an ADM batch .npz, a statistics .npz or a catalog NAME (refs list)",
    )
    what.add_argument(
        "--metrics",
        metavar="LIST",
        help=f"comma-separated choice of {','.join(all_names())} or any of their output keys (precision, "
        "coverage, ...); default: is to inf, those REF can serve, the others named in a warning. cmmd, fd_dinov2, "
        "fd_clip add CLIP ViT-L/14@336px, DINOv2 ViT-L/14, CLIP ViT-B/32 to the same pass (each image decoded "
        "once) unless --classifier is of their space (cmmd: any --classifier)",
    )
    what.add_argument(
        "--ref-for",
        action="append",
        default=[],
        metavar="METRIC=REF",
        help="a reference for one metric over --ref, e.g. fd_dinov2=ref_dinov2.npz (statistics written with "
        "--classifier dinov2-vitl14) while FID uses --ref (repeatable)",
    )
    what.add_argument(
        "--extractor",
        action="append",
        default=[],
        metavar="METRIC=NAME",
        help="another registry extractor for a metric, in the same pass: fd_dinov2=dinov2-vitg14, vendi=dinov2-vitl14 "
        "(repeatable)",
    )
    what.add_argument(
        "--protocol",
        choices=("default", "adm"),
        default="default",
        help="adm: the ADM evaluator's conventions (IS over chunks of 5,000 in the given order; an ADM reference "
        "batch's mu/sigma/mu_s/sigma_s win)",
    )
    add_is_options(evaluate, "IS splits (default 10)", "IS split order")
    add_kid_options(evaluate, "--kid-")
    add_metric_options(evaluate)
    report = evaluate.add_argument_group("report")
    report.add_argument("--report", metavar="HTML", help="also write a self-contained HTML report")
    add_run_options(evaluate)
    evaluate.set_defaults(handler=run, joins_torchrun=True)


def run(args: argparse.Namespace) -> int:
    if args.report:
        require_matplotlib()  # before minutes of scoring, not after
    evaluation = api.evaluate(
        args.source,
        reference=args.ref,
        metrics=args.metrics if args.metrics else "all",
        splits=args.splits,
        order=args.order,
        seed=args.seed,
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
        kid_seed=args.kid_seed,
        protocol=args.protocol,
        extractors=pairs(args.extractor, "--extractor METRIC=NAME", "fd_dinov2=dinov2-vitg14"),
        reference_for=pairs(args.ref_for, "--ref-for METRIC=REF", "fd_dinov2=ref_dinov2.npz"),
        options=options_of(args),
        **metric_options_of(args),
    )
    if not distributed.is_main_process():
        return 0
    if evaluation.inception_score is not None:
        print_skipped(evaluation.inception_score.skipped_names)
    print_warnings(evaluation.warnings)
    print(json.dumps(evaluation.metrics_dict(), indent=2, allow_nan=False) if args.json else evaluation.summary())
    if args.report:
        source = open_source(args.source, npz_key=args.npz_key, value_range=args.value_range, layout=args.layout)
        path = save_report(evaluation, args.report, source=source)
        print(f"inception-score: report written to {path}", file=sys.stderr)
    return 0
