"""Images per second: our optimised path, the plain reference approach, the CLI end to end.

    PYTHONPATH=src python benchmarks/throughput.py --images 64

Writes N synthetic PNG images per size (32, 64, 256) to a temporary folder and scores them
through the public API with the feature cache off: the optimised path (batch norm folded,
channels-last, fused convolution + ReLU, decoding threads) and the plain path (plain=True:
unfolded, NCHW, decoding inline), then the command line in a subprocess, start-up included
(`score` and `score --plain`). Also times the network alone on a preprocessed batch and sets
it against the machine's float32 matmul speed (torch.mm), which bounds what any convolution
network can do: Inception v3 at 299 x 299 is about 11.4 GFLOP per image. torch-fidelity is
timed too when it is importable (same images, same weights). Without --weights it uses the
tests' random weights in the real file's layout, so it runs offline; the speed is the same.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import inception_score
from inception_score import inception_score as score_api
from inception_score.errors import InceptionScoreWarning
from inception_score.pipeline.extract import default_batch_size, preprocess
from inception_score.pipeline.extractors import load_classifier

GFLOP_PER_IMAGE = 11.4
SIZES = (32, 64, 256)
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64, help="images per size (default 64)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="image sizes (default 32 64 256)")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs per timing (default 1)")
    parser.add_argument("--batch-size", type=int, help="images per forward pass (default: the package's)")
    parser.add_argument("--weights", help="weights file (default: the tests' random weights, built here)")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--matmul-size", type=int, default=4096, help="square matrices for torch.mm (default 4096)")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="on a shared machine, wait up to this long before each timing for the CPUs to be idle",
    )
    args = parser.parse_args()
    if args.images < args.splits:
        parser.error(f"--images must be at least --splits ({args.splits})")
    warnings.simplefilter("ignore", InceptionScoreWarning)  # few images, test weights: expected here
    batch_size = args.batch_size or default_batch_size("cpu")
    print(
        f"machine: {_cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, batch size {batch_size}, load average {_load()}"
    )
    with tempfile.TemporaryDirectory(prefix="is-throughput-") as folder:
        folder = Path(folder)
        weights = Path(args.weights) if args.weights else _test_weights(folder / "weights.pth")
        wait_idle(args.wait_idle)
        gflops = matmul_gflops(args.matmul_size)
        bound = gflops / GFLOP_PER_IMAGE
        print(
            f"fp32 matmul (torch.mm {args.matmul_size} x {args.matmul_size}, best of 5): {gflops:.1f} GFLOP/s "
            f"-> upper bound {bound:.2f} images/s at {GFLOP_PER_IMAGE} GFLOP per image"
        )
        network = {
            plain: network_images_per_second(
                weights, plain=plain, batch_size=batch_size, repeats=max(2, args.repeats), wait=args.wait_idle
            )
            for plain in (False, True)
        }
        print(
            f"network only, batch of {batch_size} at 299 x 299: optimised {network[False]:.2f} images/s "
            f"({network[False] / bound:.0%} of the matmul bound), plain {network[True]:.2f} images/s "
            f"({network[True] / bound:.0%}); optimised / plain = {network[False] / network[True]:.2f}x"
        )
        rows = [time_size(size, folder, weights, args) for size in args.sizes]
    print_table(rows, args.images)
    print(f"load average at the end: {_load()}")


def time_size(size: int, folder: Path, weights: Path, args: argparse.Namespace) -> dict[str, float | str]:
    images = write_images(folder / f"size{size}", size, args.images)
    options = dict(weights=weights, splits=args.splits, cache=False, progress=False, batch_size=args.batch_size)
    row: dict[str, float | str] = {"size": size}
    scores = {}
    for label, plain in (("optimised", False), ("plain", True)):
        seconds, scores[label] = best_of(
            args.repeats, lambda plain=plain: score_api(images, plain=plain, **options).mean, args.wait_idle
        )
        row[label] = args.images / seconds
    for label, extra in (("cli", []), ("cli_plain", ["--plain"])):
        seconds, scores[label] = best_of(
            args.repeats, lambda extra=extra: run_cli(images, weights, args, extra), args.wait_idle
        )
        row[label] = args.images / seconds
    fidelity = time_torch_fidelity(images, weights, args)
    if fidelity is not None:
        seconds, scores["torch-fidelity"] = fidelity
        row["torch-fidelity"] = args.images / seconds
    spread = max(scores.values()) / min(scores.values()) - 1
    row["agreement"] = f"{spread:.1e}"
    print(
        f"  {size} x {size}: "
        + ", ".join(f"{key} {value:.2f}/s" for key, value in row.items() if isinstance(value, float))
        + f"; IS spread {spread:.1e}; "
        f"load average {_load()}",
        flush=True,
    )
    return row


def print_table(rows: list[dict[str, float | str]], images: int) -> None:
    fidelity = any("torch-fidelity" in row for row in rows)
    header = ["size", "optimised API", "plain API", "API ratio", "CLI", "CLI --plain", "CLI ratio"]
    header += ["torch-fidelity", "CLI / torch-fidelity"] if fidelity else []
    header += ["IS spread"]
    print(f"\nimages/s, {images} PNG images per size, feature cache off (CLI: a new process, start-up included)\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for row in rows:
        cells = [
            f"{row['size']} x {row['size']}",
            f"{row['optimised']:.2f}",
            f"{row['plain']:.2f}",
            f"{row['optimised'] / row['plain']:.2f}x",
            f"{row['cli']:.2f}",
            f"{row['cli_plain']:.2f}",
            f"{row['cli'] / row['cli_plain']:.2f}x",
        ]
        if fidelity:
            theirs = row.get("torch-fidelity")
            cells += [f"{theirs:.2f}", f"{row['cli'] / theirs:.2f}x"] if theirs else ["-", "-"]
        cells.append(str(row["agreement"]))
        print("| " + " | ".join(cells) + " |")
    if not fidelity:
        print("\n(torch-fidelity is not installed here: not timed)")


def matmul_gflops(size: int = 4096, repeats: int = 5) -> float:
    """The best float32 torch.mm rate over a few runs: what the network's arithmetic can reach at most."""
    left, right = torch.randn(size, size), torch.randn(size, size)
    torch.mm(left, right)
    seconds, _ = best_of(repeats, lambda: torch.mm(left, right))
    return 2 * size**3 / seconds / 1e9


def network_images_per_second(weights: Path, *, plain: bool, batch_size: int, repeats: int, wait: float) -> float:
    """The forward pass alone on a preprocessed batch (best of `repeats`, after a warm-up pass)."""
    model = load_classifier(weights=weights, progress=False, plain=plain).module
    pixels = np.random.default_rng(0).integers(0, 256, (batch_size, 64, 64, 3), dtype=np.uint8)
    batch = preprocess(list(pixels), "cpu", channels_last=not plain)
    with torch.inference_mode():
        model(batch)
        seconds, _ = best_of(repeats, lambda: model(batch), wait)
    return batch_size / seconds


def run_cli(images: Path, weights: Path, args: argparse.Namespace, extra: list[str]) -> float:
    command = [
        sys.executable,
        "-m",
        "inception_score",
        "score",
        str(images),
        "--weights",
        str(weights),
        "--splits",
        str(args.splits),
        "--no-cache",
        "--quiet",
        "--json",
        *extra,
    ]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    package_root = str(Path(inception_score.__file__).resolve().parent.parent)
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the CLI failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)["mean"]


def time_torch_fidelity(images: Path, weights: Path, args: argparse.Namespace) -> tuple[float, float] | None:
    """torch-fidelity's IS on the same folder and weights, when it is installed (it is optional)."""
    try:
        import torch_fidelity
    except ImportError:
        return None

    def run() -> float:
        metrics = torch_fidelity.calculate_metrics(
            input1=str(images),
            isc=True,
            isc_splits=args.splits,
            cuda=False,
            cache=False,
            verbose=False,
            batch_size=args.batch_size or default_batch_size("cpu"),
            feature_extractor_weights_path=str(weights),
        )
        return float(metrics["inception_score_mean"])

    return best_of(args.repeats, run, args.wait_idle)


def write_images(folder: Path, size: int, count: int) -> Path:
    """`count` seeded random RGB PNGs of size x size: smooth gradients plus noise, like generator samples."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(size)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    for index in range(count):
        colours = rng.uniform(0, 255, (2, 3)).astype(np.float32)
        gradient = colours[0] + (colours[1] - colours[0]) * ramp[:, None, None] * ramp[None, :, None]
        pixels = np.clip(gradient + rng.normal(0, 24, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:05d}.png")
    return folder


def _test_weights(path: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from recipe import build_recipe_state_dict  # the tests' random weights, real layout

    torch.save(build_recipe_state_dict(), path)
    return path


def best_of(repeats: int, run, wait: float = 0) -> tuple[float, float]:
    """(best wall-clock seconds, the last value returned) over `repeats` calls of run(), each after wait_idle(wait)."""
    best, value = float("inf"), float("nan")
    for _ in range(max(1, repeats)):
        wait_idle(wait)
        began = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - began)
    return best, value


def wait_idle(limit: float) -> None:
    """Wait (at most `limit` seconds) until other processes leave the CPUs over 85% idle for a second."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = _cpu_times()
        time.sleep(1)
        after = _cpu_times()
        if after[0] == 0 or (after[1] - before[1]) >= 0.85 * max(1, after[0] - before[0]):
            return


def _cpu_times() -> tuple[int, int]:
    """(all, idle) jiffies of every CPU from /proc/stat (Linux); (0, 0) elsewhere, so waiting ends at once."""
    try:
        values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(values), values[3] + values[4]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
