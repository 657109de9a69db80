"""What the commands share: the help layout, argument types, the image options (as option groups),
the options object built from them, and how results and skipped files are printed."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import InceptionScoreError
from ..metrics import registered
from ..options import Options
from ..parallel import launch as distributed
from ..pipeline.cache import DEFAULT_SIZE_LIMIT, parse_size
from ..pipeline.extractors import NORMALIZATIONS, RESIZE_METHODS
from ..pipeline.files import Output, check_outputs, path_exists
from ..pipeline.sources import DEFAULT_MAX_PIXELS

HELP_WIDTH = 100
Commands = Any  # argparse's private _SubParsersAction, what add_subparsers() returns


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout, at most HELP_WIDTH columns wide whatever the terminal (narrower if it is)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 30, width: int | None = None):
        columns = width if width is not None else shutil.get_terminal_size().columns - 2
        super().__init__(prog, indent_increment, max_help_position, max(min(columns, HELP_WIDTH), 40))


def add_command(commands: Commands, name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A (sub)command's parser with the shared help layout; its description is its one-line help."""
    return commands.add_parser(name, help=help, description=help, formatter_class=HelpFormatter, **kwargs)


def int_at_least(minimum: int):
    """An argparse type: a whole number >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


positive_int, non_negative_int = int_at_least(1), int_at_least(0)


def size(text: str) -> int:
    """An argparse type: a size in bytes, '500M', '2G'."""
    try:
        return parse_size(text)
    except InceptionScoreError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def value_range(text: str) -> tuple[float, float]:
    """An argparse type: LOW,HIGH."""
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (0,1 or -1,1 or 0,255), got {text!r}") from None
    return low, high


def add_is_options(parser: argparse.ArgumentParser, splits_help: str, order_help: str) -> argparse._ArgumentGroup:
    """--splits, --order, --seed: how the Inception Score cuts the images (the group, for more of its options)."""
    group = parser.add_argument_group("Inception Score")
    group.add_argument("--splits", type=positive_int, default=10, metavar="N", help=splits_help)
    group.add_argument("--order", choices=("shuffled", "given"), default="shuffled", help=order_help)
    group.add_argument("--seed", type=int, default=2020, help="seed of the IS permutation (default 2020)")
    return group


def add_metric_options(parser: argparse.ArgumentParser) -> None:
    """A flag for every option a registered metric declares that the command has no flag for yet
    (--infinity-points, --mind-num-projections, ...), in a group of its metric; None when not given."""
    taken = {action.dest for action in parser._actions}
    generated = []
    for metric in registered():
        wanted = [option for option in metric.options if option.name not in taken]
        generated += [option.name for option in wanted]
        if not wanted:
            continue
        group = parser.add_argument_group(metric.title)
        for option in wanted:
            kind = int if isinstance(option.default, int) and not isinstance(option.default, bool) else str
            group.add_argument(
                option.flag or "--" + option.name.replace("_", "-"),
                dest=option.name,
                type=kind,
                default=None,
                metavar="N" if kind is int else "VALUE",
                help=f"{option.about} (default {option.default})".replace("%", "%%"),
            )
    parser.set_defaults(metric_options=tuple(generated))


def metric_options_of(args: argparse.Namespace) -> dict[str, Any]:
    """The metric options given on the command line by the flags `add_metric_options` made."""
    return {name: getattr(args, name) for name in args.metric_options if getattr(args, name) is not None}


def add_kid_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    """KID's subsets: --kid-subsets ... (score, evaluate) or --subsets ... (kid)."""
    group = parser.add_argument_group("KID")
    group.add_argument(
        f"{prefix}subsets", type=positive_int, default=100, metavar="N", help="KID subsets (default 100)"
    )
    group.add_argument(
        f"{prefix}subset-size",
        type=positive_int,
        default=1000,
        metavar="N",
        help="images per KID subset (default 1000)",
    )
    group.add_argument(
        f"{prefix}seed", type=int, default=2020, metavar="SEED", help="seed of the KID subsets (default 2020)"
    )


def add_run_options(parser: argparse.ArgumentParser, json_option: bool = True) -> None:
    """How images become features (the fields of `Options`), for every command that may run images:
    three option groups, the classifier, the run and the image input."""
    _add_classifier_options(parser.add_argument_group("classifier", "the network that turns images into features"))
    run = parser.add_argument_group("run", "device, speed, the feature cache, output")
    run.add_argument(
        "--batch-size", type=positive_int, metavar="N", help="images per forward pass (default: 8 on CPU, 200 on CUDA)"
    )
    run.add_argument(
        "--workers", type=int, metavar="N", help="image decoding threads (default: up to 4; 0 decodes inline)"
    )
    run.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    run.add_argument("--fast", action="store_true", help="on CUDA allow TF32 and float16: faster, approximate")
    run.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    run.add_argument(
        "--cache-size",
        type=size,
        default=DEFAULT_SIZE_LIMIT,
        metavar="SIZE",
        help="feature cache limit, e.g. 500M or 10G (default 2G)",
    )
    if json_option:
        run.add_argument("--json", action="store_true", help="print the full result as JSON")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--allow-other-protocol",
        action="store_true",
        help="accept a catalog reference computed with another protocol (e.g. clean-fid's resize); still warns",
    )
    _add_input_options(parser.add_argument_group("image input", "how sources are read"))


def _add_classifier_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--weights", metavar="PATH", help="the classifier's weights file (default: resolved automatically)"
    )
    group.add_argument(
        "--classifier",
        metavar="SPEC",
        help="inception-2015 (default, the paper's), torchvision (torchvision's ImageNet weights), "
        "dinov2-vitl14 (FD_DINOv2; also -vits14, -vitb14, -vitg14, -vitl14-dgm-eval), clip-vit-l-14-336 (CMMD), "
        "clip-vit-b-32 (FD_CLIP), vgg16 (torch-fidelity's precision/recall), a TorchScript FILE.pt, or "
        "package.module:factory",
    )
    group.add_argument("--input-size", type=positive_int, metavar="N", help="custom classifier: input is N x N")
    group.add_argument(
        "--resize",
        choices=RESIZE_METHODS,
        metavar="METHOD",
        help=f"custom classifier: resize method, one of {', '.join(RESIZE_METHODS)} "
        "(default bilinear, half-pixel centres)",
    )
    group.add_argument(
        "--normalize",
        metavar="NAME",
        help=f"custom classifier: value scaling, one of {', '.join(NORMALIZATIONS)} or MEAN,STD of x/255",
    )
    group.add_argument("--channels", type=int, choices=(1, 3), help="custom classifier: 1 (grayscale) or 3 (RGB)")
    group.add_argument(
        "--plain",
        action="store_true",
        help="run the unoptimised reference approach (batch norm not folded, NCHW, decoding inline): "
        "same numbers, slower; for timing comparisons",
    )


def _add_input_options(group: argparse._ArgumentGroup) -> None:
    """How sources are read: arrays (.npy/.npz), the pixel limit, and what to do with broken files."""
    group.add_argument(
        "--npz-key", metavar="NAME", help="the array of an .npz file to score (needed when it holds several)"
    )
    group.add_argument(
        "--value-range",
        type=value_range,
        metavar="LOW,HIGH",
        help="range of float arrays: 0,1 (default), -1,1 or 0,255",
    )
    group.add_argument(
        "--layout",
        choices=("NHWC", "NCHW"),
        help="axis order of image arrays when the shape does not tell (e.g. N x 3 x 32 x 3)",
    )
    group.add_argument(
        "--max-pixels",
        type=positive_int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse images with more pixels (decompression bombs; default {DEFAULT_MAX_PIXELS})",
    )
    group.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip files that cannot be read or decoded (listed on stderr) instead of stopping",
    )


def options_of(args: argparse.Namespace) -> Options:
    """The command's options as the library's one options object; a --device this machine lacks is said now,
    before any work."""
    options = Options(
        classifier=args.classifier,
        weights=args.weights,
        input_size=args.input_size,
        resize=args.resize,
        normalize=args.normalize,
        channels=args.channels,
        plain=args.plain,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.quiet,
        fast=args.fast,
        cache=not args.no_cache,
        cache_size=args.cache_size,
        workers=args.workers,
        max_pixels=args.max_pixels,
        npz_key=args.npz_key,
        value_range=args.value_range,
        layout=args.layout,
        on_error="skip" if args.skip_bad else "stop",
        allow_other_protocol=getattr(args, "allow_other_protocol", False),
    )
    if options.device is not None:
        _ = options.torch_device  # checked now
    return options


def pairs(given: list[str], usage: str, example: str) -> dict[str, str]:
    """Repeated METRIC=VALUE options (--extractor, --ref-for, --also) as a dict; the library checks the names
    and values. A name given twice is an error (one of the two would be dropped)."""
    chosen: dict[str, str] = {}
    option, _, form = usage.partition(" ")
    for item in given:
        metric, equals, value = item.partition("=")
        if not equals or not metric.strip() or not value.strip():
            raise InceptionScoreError(f"{option} takes {form}, e.g. {example}; got {item!r}")
        if metric.strip() in chosen:
            raise InceptionScoreError(
                f"{option} names {metric.strip()} twice ({chosen[metric.strip()]} and {value.strip()}); give it once"
            )
        chosen[metric.strip()] = value.strip()
    return chosen


INPUTS = ("source", "a", "b", "ref", "fid", "kid", "class_names", "weights", "data", "file")  # args that are read


def inputs_of(args: argparse.Namespace, *more: object) -> list[object]:
    """Every path the command reads: its positional sources, references, --weights, --class-names, and `more`."""
    return [getattr(args, name) for name in INPUTS if getattr(args, name, None) is not None] + list(more)


def check_outputs_of(args: argparse.Namespace, outputs: list[Output], *more_inputs: object) -> list[Path]:
    """The command's outputs, checked before any work against each other and every input (`check_outputs`)."""
    for value in inputs_of(args, *more_inputs):
        if isinstance(value, (str, os.PathLike)):
            path_exists(value)  # a name too long for the file system is said now, in one line
    return check_outputs([output for output in outputs if output.path is not None], inputs_of(args, *more_inputs))


def print_skipped(names) -> None:
    for name in names:
        print(f"inception-score: skipped: {name}", file=sys.stderr)


def print_warnings(warnings) -> None:
    for warning in warnings:
        print(f"inception-score: warning: {warning}", file=sys.stderr)


def print_result(result, json_document: dict, as_json: bool) -> int:
    """A result's warnings on stderr, then its summary (or JSON) on stdout; on rank 0 only."""
    if not distributed.is_main_process():
        return 0
    print_warnings(result.warnings)
    print(json.dumps(json_document, indent=2, allow_nan=False) if as_json else result.summary())
    return 0
