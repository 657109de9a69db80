"""Command line: a thin layer that parses arguments, calls the library and prints."""
from __future__ import annotations

import argparse
import json
import sys

from . import weights as weights_module
from .api import inception_score
from .errors import InceptionScoreError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inception-score", description="Inception Score, the paper's protocol.")
    commands = parser.add_subparsers(dest="command", required=True)

    score = commands.add_parser("score", help="score a folder, image file or array file")
    score.add_argument("source", help="folder of images (recursive) or an image file")
    score.add_argument("--splits", type=_positive_int, default=10, help="number of splits (default 10)")
    score.add_argument("--order", choices=("shuffled", "given"), default="shuffled",
                       help="shuffled: permute with --seed before splitting (torch-fidelity); given: input order (paper)")
    score.add_argument("--seed", type=int, default=2020, help="seed of the permutation (default 2020)")
    score.add_argument("--weights", metavar="PATH", help="Inception weights file (default: resolved automatically)")
    score.add_argument("--batch-size", type=_positive_int, default=64)
    score.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    score.add_argument("--json", action="store_true", help="print the full result as JSON")
    score.add_argument("--quiet", action="store_true", help="no progress bar")

    weights = commands.add_parser("weights", help="manage the Inception weights file")
    weights_commands = weights.add_subparsers(dest="weights_command", required=True)
    install = weights_commands.add_parser("install", help="verify FILE and copy it into the cache")
    install.add_argument("file")
    weights_commands.add_parser("path", help="where the weights are, or would be installed")
    return parser


def _score(args: argparse.Namespace) -> int:
    result = inception_score(args.source, splits=args.splits, order=args.order, seed=args.seed,
                             weights=args.weights, batch_size=args.batch_size, device=args.device,
                             progress=not args.quiet)
    for warning in result.warnings:
        print(f"inception-score: warning: {warning}", file=sys.stderr)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.summary())
    return 0


def _weights(args: argparse.Namespace) -> int:
    if args.weights_command == "install":
        print(weights_module.install_weights(args.file))
        return 0
    found = weights_module.find_weights()
    if found is None:
        print(f"{weights_module.installed_path()} (not installed yet)")
    else:
        path, origin = found
        print(f"{path} (from {origin})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _score(args) if args.command == "score" else _weights(args)
    except InceptionScoreError as error:
        print(f"inception-score: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("inception-score: interrupted", file=sys.stderr)
        return 130
