"""Command line: a thin layer that parses arguments, calls the library and prints."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from ._version import __version__
from .api import evaluate, fid, inception_score, kid, save_statistics
from .errors import InceptionScoreError, InceptionScoreWarning
from .maths.limits import check_seed
from .options import Options
from .parallel import launch as distributed
from .pipeline import weights as weights_module
from .pipeline.cache import DEFAULT_SIZE_LIMIT, FeatureCache, parse_size
from .pipeline.extractors import NORMALIZATIONS, REGISTRY, RESIZE_METHODS
from .pipeline.sources import DEFAULT_MAX_PIXELS, open_source
from .pipeline.statistics import read_statistics
from .report import check_report_path, read_class_names, save_report
from .report.plots import require_matplotlib


def _int_at_least(minimum: int):
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


_positive_int, _non_negative_int = _int_at_least(1), _int_at_least(0)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except InceptionScoreError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _value_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (0,1 or -1,1 or 0,255), got {text!r}") from None
    return low, high


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    """How sources are read: arrays (.npy/.npz), the pixel limit, and what to do with broken files."""
    parser.add_argument(
        "--npz-key", metavar="NAME", help="the array of an .npz file to score (needed when it holds several)"
    )
    parser.add_argument(
        "--value-range",
        type=_value_range,
        metavar="LOW,HIGH",
        help="range of float arrays: 0,1 (default), -1,1 or 0,255",
    )
    parser.add_argument(
        "--layout",
        choices=("NHWC", "NCHW"),
        help="axis order of image arrays when the shape does not tell (e.g. N x 3 x 32 x 3)",
    )
    parser.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse images with more pixels (decompression bombs; default {DEFAULT_MAX_PIXELS})",
    )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip files that cannot be read or decoded (listed on stderr) instead of stopping",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inception-score", description="Inception Score, the paper's protocol.")
    parser.add_argument("--version", action="version", version=f"inception-score {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    score = commands.add_parser("score", help="score a folder, image file or array file")
    score.add_argument(
        "source", help="folder of images (recursive), .zip/.tar/.tar.gz/.tgz archive, image file, .npy or .npz file"
    )
    score.add_argument("--splits", type=_positive_int, default=10, help="number of splits (default 10)")
    score.add_argument(
        "--order",
        choices=("shuffled", "given"),
        default="shuffled",
        help="shuffled: permute with --seed before splitting (torch-fidelity); given: input order (paper)",
    )
    score.add_argument("--seed", type=int, default=2020, help="seed of the permutation (default 2020)")
    _add_run_options(score)
    score.add_argument(
        "--fid", metavar="REF", help="also FID against REF (images, a statistics .npz or a catalog NAME), same pass"
    )
    score.add_argument(
        "--kid", metavar="REF", help="also KID against REF (images, a .npz with features or a catalog NAME), same pass"
    )
    _add_kid_options(score, "--kid-")

    evaluate_command = commands.add_parser(
        "evaluate",
        help="every number of a paper's table (IS, FID, sFID, KID, precision/recall, density/coverage, "
        "IS/FID-infinity, FD_DINOv2, FD_CLIP, CMMD) of SAMPLES against REF, one pass per side through every network",
    )
    evaluate_command.add_argument(
        "source", metavar="SAMPLES", help="the generated images (any source, or an ADM batch)"
    )
    evaluate_command.add_argument(
        "--ref",
        required=True,
        metavar="REF",
        help="reference: images, an archive, an ADM batch .npz, a statistics .npz or a catalog NAME (refs list)",
    )
    evaluate_command.add_argument(
        "--metrics",
        metavar="LIST",
        help="comma-separated choice of is,fid,sfid,kid,pr,dc,inf,cmmd,fd_dinov2,fd_clip (default: is to inf as REF "
        "can serve); cmmd, fd_dinov2, fd_clip add CLIP ViT-L/14@336px, DINOv2 ViT-L/14, CLIP ViT-B/32 to the same "
        "pass (each image decoded once) unless --classifier is of their space (cmmd: any --classifier)",
    )
    evaluate_command.add_argument(
        "--ref-for",
        action="append",
        default=[],
        metavar="METRIC=REF",
        help="a reference for one metric over --ref, e.g. fd_dinov2=ref_dinov2.npz (statistics written with "
        "--classifier dinov2-vitl14) while FID uses --ref (repeatable)",
    )
    evaluate_command.add_argument(
        "--extractor",
        action="append",
        default=[],
        metavar="METRIC=NAME",
        help="another registry extractor for fd_dinov2, fd_clip or cmmd, e.g. fd_dinov2=dinov2-vitg14 (repeatable)",
    )
    evaluate_command.add_argument(
        "--protocol",
        choices=("default", "adm"),
        default="default",
        help="adm: the ADM evaluator's conventions (IS over chunks of 5,000 in the given order; an ADM reference "
        "batch's mu/sigma/mu_s/sigma_s win)",
    )
    evaluate_command.add_argument("--splits", type=_positive_int, default=10, help="IS splits (default 10)")
    evaluate_command.add_argument("--order", choices=("shuffled", "given"), default="shuffled", help="IS split order")
    evaluate_command.add_argument("--seed", type=int, default=2020, help="seed of the IS permutation (default 2020)")
    _add_kid_options(evaluate_command, "--kid-")
    evaluate_command.add_argument("--report", metavar="HTML", help="also write a self-contained HTML report")
    _add_run_options(evaluate_command)

    fid_command = commands.add_parser("fid", help="FID between A and B (images or statistics .npz files)")
    fid_command.add_argument("a", help="folder, image file, or statistics .npz")
    fid_command.add_argument("b", help="folder, image file, statistics .npz, or a catalog NAME (refs list)")
    _add_run_options(fid_command)

    kid_command = commands.add_parser("kid", help="KID between A and B (images or .npz files with features)")
    kid_command.add_argument("a", help="folder, image file, or statistics .npz written with --with-features")
    kid_command.add_argument(
        "b", help="folder, image file, statistics .npz written with --with-features, or a catalog NAME"
    )
    _add_kid_options(kid_command, "--")
    _add_run_options(kid_command)

    stats = commands.add_parser("stats", help="write pool3 statistics of SOURCE (pytorch-fid .npz format)")
    stats.add_argument("source")
    stats.add_argument("-o", "--output", required=True, metavar="FILE.npz")
    stats.add_argument(
        "--with-features",
        action="store_true",
        help="also store every image's features (N x 2048), needed for KID, precision/recall and "
        "density/coverage against the file",
    )
    stats.add_argument(
        "--max-features",
        type=_int_at_least(2),
        metavar="N",
        help="store the features of at most N images (a seeded random choice when there are more)",
    )
    stats.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="the same statistics in another feature space from the same pass, e.g. dinov2-vitl14=ref_dinov2.npz "
        "(for evaluate --ref-for fd_dinov2=ref_dinov2.npz; repeatable)",
    )
    _add_run_options(stats, json_option=False)
    score.add_argument(
        "--bootstrap",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="add a seeded 95%% bootstrap interval of the 1-split score from N resamples (e.g. 1000)",
    )
    score.add_argument("--report", metavar="HTML", help="also write a self-contained HTML report to this file")
    score.add_argument(
        "--class-names",
        metavar="FILE",
        help="text file with one class name per line (line i names class i) for the report",
    )

    weights = commands.add_parser("weights", help="manage the Inception weights file")
    weights_commands = weights.add_subparsers(dest="weights_command", required=True)
    install = weights_commands.add_parser("install", help="verify FILE and copy it into the cache")
    install.add_argument("file")
    path = weights_commands.add_parser("path", help="where the weights are, or would be installed")
    path.add_argument(
        "--classifier",
        choices=tuple(REGISTRY),
        default="inception-2015",
        help="whose weights file (default: %(default)s)",
    )

    _add_refs_parser(commands)

    cache = commands.add_parser("cache", help="the per-image feature cache")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True)
    cache_commands.add_parser("info", help="where the cache is, its entries and size")
    cache_commands.add_parser("clear", help="delete every cached feature (the weights file stays)")
    return parser


def _add_kid_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    parser.add_argument(f"{prefix}subsets", type=_positive_int, default=100, help="KID subsets (default 100)")
    parser.add_argument(
        f"{prefix}subset-size", type=_positive_int, default=1000, help="images per KID subset (default 1000)"
    )
    parser.add_argument(f"{prefix}seed", type=int, default=2020, help="seed of the KID subsets (default 2020)")


def _add_run_options(parser: argparse.ArgumentParser, json_option: bool = True) -> None:
    """How images become features (the fields of `Options`), for every command that may run images."""
    parser.add_argument(
        "--weights", metavar="PATH", help="the classifier's weights file (default: resolved automatically)"
    )
    parser.add_argument(
        "--classifier",
        metavar="SPEC",
        help="inception-2015 (default, the paper's), torchvision (torchvision's ImageNet weights), "
        "dinov2-vitl14 (FD_DINOv2; also -vits14, -vitb14, -vitg14, -vitl14-dgm-eval), clip-vit-l-14-336 (CMMD), "
        "clip-vit-b-32 (FD_CLIP), a TorchScript FILE.pt, or package.module:factory",
    )
    parser.add_argument("--input-size", type=_positive_int, metavar="N", help="custom classifier: input is N x N")
    parser.add_argument(
        "--resize",
        choices=RESIZE_METHODS,
        help="custom classifier: resize method (default bilinear, half-pixel centres)",
    )
    parser.add_argument(
        "--normalize",
        metavar="NAME",
        help=f"custom classifier: value scaling, one of {', '.join(NORMALIZATIONS)} or MEAN,STD of x/255",
    )
    parser.add_argument("--channels", type=int, choices=(1, 3), help="custom classifier: 1 (grayscale) or 3 (RGB)")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="run the unoptimised reference approach (batch norm not folded, NCHW, decoding inline): "
        "same numbers, slower; for timing comparisons",
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, help="images per forward pass (default: 8 on CPU, 200 on CUDA)"
    )
    parser.add_argument("--workers", type=int, help="image decoding threads (default: up to 4; 0 decodes inline)")
    parser.add_argument("--fast", action="store_true", help="on CUDA allow TF32 and float16: faster, approximate")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    parser.add_argument(
        "--cache-size",
        type=_size,
        default=DEFAULT_SIZE_LIMIT,
        metavar="SIZE",
        help="feature cache limit, e.g. 500M or 10G (default 2G)",
    )
    parser.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    if json_option:
        parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--allow-other-protocol",
        action="store_true",
        help="accept a catalog reference computed with another protocol (e.g. clean-fid's resize); still warns",
    )
    _add_input_options(parser)


def _options(args: argparse.Namespace) -> Options:
    """The command's options as the library's one options object."""
    return Options(
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


def _print_skipped(names) -> None:
    for name in names:
        print(f"inception-score: skipped: {name}", file=sys.stderr)


def _print_result(result, json_document: dict, as_json: bool) -> int:
    if not distributed.is_main_process():
        return 0
    for warning in result.warnings:
        print(f"inception-score: warning: {warning}", file=sys.stderr)
    print(json.dumps(json_document, indent=2, allow_nan=False) if as_json else result.summary())
    return 0


def _fid(args: argparse.Namespace) -> int:
    result = fid(args.a, args.b, options=_options(args))
    return _print_result(result, result.to_dict(), args.json)


def _kid(args: argparse.Namespace) -> int:
    result = kid(
        args.a, args.b, subsets=args.subsets, subset_size=args.subset_size, seed=args.seed, options=_options(args)
    )
    return _print_result(result, {"kid": result.to_dict()}, args.json)


def _stats(args: argparse.Namespace) -> int:
    also = _pairs(args.also, "--also NAME=FILE", "dinov2-vitl14=ref_dinov2.npz")
    written = save_statistics(
        args.source,
        args.output,
        with_features=args.with_features,
        max_features=args.max_features,
        also=also,
        options=_options(args),
    )
    if not distributed.is_main_process():
        return 0
    _print_skipped(written.skipped_names)
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


def _evaluate_with_references(args: argparse.Namespace):
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
        options=_options(args),
    )


def _evaluate(args: argparse.Namespace) -> int:
    if args.report:
        require_matplotlib()  # before minutes of scoring, not after
    evaluation = evaluate(
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
        extractors=_pairs(args.extractor, "--extractor METRIC=NAME", "fd_dinov2=dinov2-vitg14"),
        reference_for=_pairs(args.ref_for, "--ref-for METRIC=REF", "fd_dinov2=ref_dinov2.npz"),
        options=_options(args),
    )
    if not distributed.is_main_process():
        return 0
    if evaluation.inception_score is not None:
        _print_skipped(evaluation.inception_score.skipped_names)
    for warning in evaluation.warnings:
        print(f"inception-score: warning: {warning}", file=sys.stderr)
    print(json.dumps(evaluation.metrics_dict(), indent=2) if args.json else evaluation.summary())
    if args.report:
        if evaluation.inception_score is None:
            raise InceptionScoreError("--report needs the Inception Score of SAMPLES: include is in --metrics")
        source = open_source(args.source, npz_key=args.npz_key, value_range=args.value_range, layout=args.layout)
        path = save_report(evaluation, args.report, source=source)
        print(f"inception-score: report written to {path}", file=sys.stderr)
    return 0


def _pairs(given: list[str], usage: str, example: str) -> dict[str, str]:
    """Repeated METRIC=VALUE options (--extractor, --ref-for) as a dict; evaluate checks the metrics and values."""
    chosen = {}
    for item in given:
        metric, equals, value = item.partition("=")
        if not equals or not metric.strip() or not value.strip():
            option, _, form = usage.partition(" ")
            raise InceptionScoreError(f"{option} takes {form}, e.g. {example}; got {item!r}")
        chosen[metric.strip()] = value.strip()
    return chosen


def _score(args: argparse.Namespace) -> int:
    check_seed(args.kid_seed, "kid_seed (--kid-seed)")  # a bad seed is refused even when no KID is asked for
    class_names = read_class_names(args.class_names) if args.class_names else None
    if args.report:
        check_report_path(args.report, inputs=(args.source, args.fid, args.kid, args.class_names))
        require_matplotlib()  # before minutes of scoring, not after
    if args.fid or args.kid:
        evaluation = _evaluate_with_references(args)
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
            options=_options(args),
        )
        if not distributed.is_main_process():
            return 0
        distances, notes, document, summary = {}, result.warnings, result.to_dict(), result.summary()
    _print_skipped(result.skipped_names)
    for warning in notes:
        print(f"inception-score: warning: {warning}", file=sys.stderr)
    print(json.dumps(document, indent=2, allow_nan=False) if args.json else f"{summary}\n{result.explain()}")
    if args.report:
        source = open_source(args.source, npz_key=args.npz_key, value_range=args.value_range, layout=args.layout)
        path = save_report(result, args.report, source=source, class_names=class_names, **distances)
        print(f"inception-score: report written to {path}", file=sys.stderr)
    return 0


def _weights(args: argparse.Namespace) -> int:
    if args.weights_command == "install":
        known = tuple(dict.fromkeys(entry.weights for entry in REGISTRY.values()))
        print(weights_module.install_weights(args.file, known))
        return 0
    spec = REGISTRY[args.classifier].weights
    found = weights_module.find_weights(spec)
    if found is None:
        print(f"{weights_module.installed_path(spec)} (not installed yet; ${spec.env_weights} or {spec.urls[0]})")
    else:
        path, origin = found
        print(f"{path} (from {origin})")
    return 0


def _add_refs_parser(commands) -> None:
    """`refs list | info NAME | fetch NAME | install NAME FILE | build NAME --data DIR`."""
    refs = commands.add_parser("refs", help="the catalog of named references (FID/KID statistics)")
    refs_commands = refs.add_subparsers(dest="refs_command", required=True)
    refs_commands.add_parser("list", help="every catalog entry, its protocol and whether it is here")
    info = refs_commands.add_parser("info", help="everything known about NAME: provenance, URLs, hash")
    info.add_argument("name")
    fetch = refs_commands.add_parser("fetch", help="download NAME into the cache (resumable, verified)")
    fetch.add_argument("name")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.add_argument("--allow-other-protocol", action="store_true", help="fetch an entry of another protocol")
    install = refs_commands.add_parser("install", help="verify FILE (a copy of NAME) and copy it into the cache")
    install.add_argument("name")
    install.add_argument("file")
    build = refs_commands.add_parser("build", help="compute NAME from your copy of its dataset (our protocol)")
    build.add_argument("name")
    build.add_argument("--data", required=True, metavar="DIR", help="the dataset folder")
    _add_run_options(build, json_option=False)


def _refs(args: argparse.Namespace) -> int:
    from .pipeline import references

    if args.refs_command == "list":
        for entry in references.CATALOG:
            here = "installed" if references.installed_path(entry).is_file() else "build" if entry.build else "-"
            print(f"{entry.name:30} {entry.protocol.name:26} {'+'.join(entry.metrics):12} {here:9} {entry.dataset}")
        return 0
    entry = references.entry_named(args.name)
    if args.refs_command == "info":
        print(json.dumps(references.describe(entry), indent=2))
    elif args.refs_command == "fetch":
        references.check_protocol(entry, args.allow_other_protocol)
        path = references.fetch(entry, progress=not args.quiet)
        print(f"{path} sha256 {references.sha256_file(path)} ({references.expected_sha256(entry)[1]})")
    elif args.refs_command == "install":
        path = references.install(entry, args.file)
        print(f"{path} sha256 {references.sha256_file(path)} ({references.expected_sha256(entry)[1]})")
    else:
        destination = references.build_destination(entry)
        data = references.read_cifar10_batches(args.data) if entry.build == "cifar10-python" else args.data
        written = save_statistics(data, destination, with_features=True, options=_options(args))
        if distributed.is_main_process():
            sha256 = references.record_build(entry, written.path)
            print(f"built {written.path}: {written.n} images, sha256 {sha256} (pinned)")
    return 0


def _cache(args: argparse.Namespace) -> int:
    cache = FeatureCache()
    if args.cache_command == "clear":
        print(f"removed {cache.clear()} cached images from {cache.folder}")
        return 0
    info = cache.info()
    print(f"{info.folder}: {info.entries} cached images, {info.bytes / 1e6:.1f} MB")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_attach_value_range(sys.argv[1:] if argv is None else list(argv)))
    code = _run(args)
    distributed.finish_cli(code)
    return code


def _attach_value_range(argv: list[str]) -> list[str]:
    """Let `--value-range -1,1` through: argparse would read the range as an option, so join the two."""
    joined: list[str] = []
    for word in argv:
        if joined and joined[-1] == "--value-range" and word.startswith("-"):
            joined[-1] = f"--value-range={word}"
        else:
            joined.append(word)
    return joined


def _run(args: argparse.Namespace) -> int:
    try:
        _join_torchrun(args)
        handlers = {
            "score": _score,
            "evaluate": _evaluate,
            "weights": _weights,
            "cache": _cache,
            "fid": _fid,
            "kid": _kid,
            "stats": _stats,
            "refs": _refs,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InceptionScoreWarning)  # results carry them; printed once
            return handlers[args.command](args)
    except InceptionScoreError as error:
        print(f"inception-score: error: {_in_command_words(str(error), args.command)}", file=sys.stderr)
        distributed.exit_with_on_terminate(2)
        return 2
    except KeyboardInterrupt:
        print("inception-score: interrupted", file=sys.stderr)
        return 130


def _in_command_words(message: str, command: str) -> str:
    """The library names the KID options as `score` spells them (--kid-subsets); `kid` spells them --subsets."""
    return message.replace("--kid-", "--") if command == "kid" else message


def _join_torchrun(args: argparse.Namespace) -> None:
    """Under torchrun, join the process group; rank 0 says so and alone shows progress and output."""
    if args.command in ("weights", "cache", "refs") or not distributed.launched_by_torchrun():
        return
    distributed.init_from_env(getattr(args, "device", None))
    group = distributed.join(True)
    if group is not None and group.rank == 0:
        print(f"inception-score: distributed: {group.describe()}", file=sys.stderr)
