"""The GPU check, prepared to run in the few minutes a device machine is lent: one JSON file of figures.

    PYTHONPATH=src python3 benchmarks/device_check.py --out $OUT/device_check.json          # on the GPU (< 5 min)
    PYTHONPATH=src python benchmarks/device_check.py --device cpu --images 16 --out check.json   # dry run (CI)

Sections, each timed and each written to --out as soon as it is done (a run stopped at its limit keeps
what it measured; a section that fails records its error and the next one runs):
- environment: device name, memory, torch / CUDA / cuDNN versions, CPUs;
- matmul: the device's float32 matrix product rate, TF32 off (what bounds any float32 network);
- inception_network: the 2015 network alone on prepared batches, float32 with TF32 off, several batch
  sizes, in images/s and against the matmul bound (11.4 GFLOP per image);
- end_to_end: `inception_score` over a folder of PNGs this script writes, decoding workers on, cache off;
- data_path: the same folder through a near-free network against PIL alone decoding in as many processes,
  with the decoding workers `extract_many` picks and with threads and processes each forced;
- numbers_match: IS, FID, KID, sFID, precision/recall (and density/coverage) of two folders on the device
  and on the CPU, each pair equal to 1e-5 relative;
- knn: precision/recall/density/coverage of N x N random 2048-d features on the device (50,000 by
  default) against the three float32 products they need, and the same counts on the device and with numpy
  at a smaller size;
- transformers: DINOv2 ViT-L/14 and CLIP ViT-L/14@336 images/s, network alone (random weights: the speed
  does not depend on them); ViT-S/14 and ViT-B/32 on a CPU;
- peak device memory, overall and per section.
The Inception weights come from --weights, else random weights in the real file's layout (tests/recipe.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from data_path import NearFree, floor
from PIL import Image
from throughput import GFLOP_PER_IMAGE, ROOT, _test_weights, write_images

import inception_score as score
from inception_score.errors import InceptionScoreWarning
from inception_score.maths.neighbours import manifold_metrics
from inception_score.pipeline import extract
from inception_score.pipeline.decoding import ProcessDecoder, ThreadDecoder
from inception_score.pipeline.extractors import InputContract, load_classifier
from inception_score.pipeline.networks import clip, dinov2
from inception_score.pipeline.sources import open_source

HEADLINE = (  # metrics_dict keys compared device against CPU
    "inception_score_mean",
    "frechet_inception_distance",
    "kernel_inception_distance_mean",
    "spatial_frechet_inception_distance",
    "precision",
    "recall",
    "density",
    "coverage",
)


class Check:
    """The figures so far, written to `path` after every section; a deadline keeps the run inside its lease."""

    def __init__(self, path: Path, device: torch.device, budget: float) -> None:
        self.path, self.device, self.deadline = path, device, time.monotonic() + budget
        self.began = time.monotonic()
        self.report: dict = {"device": str(device), "sections": {}, "errors": {}}

    def run(self, name: str, section: Callable[[], dict], share: float = 1.0) -> None:
        """Run one section if time is left (`share`: the fraction of the remaining time it may need at most)."""
        left = self.deadline - time.monotonic()
        if left <= 5:
            self.report["errors"][name] = "skipped: out of time"
            return self.write()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        try:
            found = section()
            found["seconds"] = round(time.perf_counter() - began, 3)
            if self.device.type == "cuda":
                found["peak_device_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
            self.report["sections"][name] = found
        except Exception:  # one failing section must not cost the others their lease time
            self.report["errors"][name] = traceback.format_exc(limit=8)
        print(f"{name}: {json.dumps(self.report['sections'].get(name, self.report['errors'].get(name)))[:400]}")
        self.write()

    def write(self) -> None:
        self.report["elapsed_s"] = round(time.monotonic() - self.began, 1)
        peaks = [s.get("peak_device_memory_mib", 0) for s in self.report["sections"].values()]
        self.report["peak_device_memory_mib"] = max(peaks, default=0)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(self.report, indent=1, sort_keys=True) + "\n")
        partial.replace(self.path)


def synchronised(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def timed(run: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    """Best of `repeats` seconds for run() after one warm-up call, the device synchronised around each."""
    sync = synchronised(device)
    run()
    sync()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        sync()
        best = min(best, time.perf_counter() - began)
    return best


def environment(device: torch.device) -> dict:
    found = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        found.update(
            name=properties.name,
            memory_gib=round(properties.total_memory / 2**30, 1),
            multiprocessors=properties.multi_processor_count,
            capability=f"{properties.major}.{properties.minor}",
        )
    else:
        found["name"] = platform.processor() or platform.machine()
    return found


def matmul_rate(device: torch.device, size: int) -> float:
    """float32 GFLOP/s of a size^3 product with TF32 off."""
    left, right = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    with extract.exact_float32():
        seconds = timed(lambda: left @ right, device)
    return 2 * size**3 / seconds / 1e9


def inception_network(device: torch.device, weights: Path, batch_sizes: list[int], rate: float) -> dict:
    classifier = load_classifier(weights=weights, progress=False)
    model = classifier.module.to(device)
    channels_last = extract.uses_channels_last(model)
    found: dict = {"matmul_gflops": round(rate, 1), "bound_images_per_s": round(rate / GFLOP_PER_IMAGE, 1)}
    with extract.network_mode(device, fast=False):
        for size in batch_sizes:
            pixels = list(np.random.default_rng(size).integers(0, 256, (size, 64, 64, 3), dtype=np.uint8))
            batch = extract.preprocess(pixels, device, channels_last=channels_last)
            seconds = timed(lambda batch=batch: model(batch), device, repeats=2)
            found[f"batch_{size}_images_per_s"] = round(size / seconds, 1)
            found[f"batch_{size}_of_bound"] = round(size / seconds / (rate / GFLOP_PER_IMAGE), 3)
    return found


def end_to_end(device: torch.device, folder: Path, weights: Path, workers: int, batch_size: int) -> dict:
    options = dict(weights=weights, device=str(device), cache=False, progress=False, splits=2)
    run = lambda: score.inception_score(folder, batch_size=batch_size, workers=workers, **options)  # noqa: E731
    count = len(list(folder.iterdir()))
    seconds = timed(run, device, repeats=1)
    return {"images": count, "workers": workers, "batch_size": batch_size, "images_per_s": round(count / seconds, 1)}


def data_path(device: torch.device, folder: Path, workers: int, batch_size: int) -> dict:
    """The folder through a near-free network (native size) against PIL alone decoding in as many processes,
    with the decoding workers `extract_many` picks, and with each kind forced (threads, processes)."""
    paths = sorted(folder.iterdir())
    with Image.open(paths[0]) as first:
        contract = InputContract(size=first.width, resize="none", normalize="0-255")
    source = open_source(folder)

    def ours() -> int:
        found = extract.extract_features(
            source, NearFree(), contract=contract, batch_size=batch_size, device=str(device), progress=False,
            workers=workers, threads=1 if device.type == "cpu" else None,
        )  # fmt: skip
        return len(found.names)

    base = floor(paths, workers, 2, 0.0)  # decoding only, in as many processes
    found: dict = {"workers": workers, "floor_pil_images_per_s": round(base, 1)}
    saved = extract.make_decoder
    kinds = {
        "default": saved,
        "threads": lambda count, limit, size, total=None: ThreadDecoder(count, limit),
        "processes": lambda count, limit, size, total=None: ProcessDecoder(count, limit, size),
    }
    try:
        for kind, make in kinds.items():
            extract.make_decoder = make
            rate = len(paths) / timed(ours, device, repeats=2)
            found[f"{kind}_images_per_s"] = round(rate, 1)
            found[f"{kind}_of_floor"] = round(rate / base, 3)
    finally:
        extract.make_decoder = saved
    return found


def numbers_match(device: torch.device, samples: Path, reference: Path, weights: Path, count: int) -> dict:
    options = dict(
        reference=reference, metrics=("is", "fid", "kid", "sfid", "pr", "dc"), weights=weights, cache=False,
        progress=False, splits=2, kid_subsets=10, kid_subset_size=min(50, count), batch_size=16,
    )  # fmt: skip
    on_device = _headline(score.evaluate(samples, device=str(device), **options))
    on_cpu = _headline(score.evaluate(samples, device="cpu", **options))
    found: dict = {"images_per_side": count, "all_equal_to_1e-5": True}
    for key in HEADLINE:
        if key not in on_device or key not in on_cpu:
            continue
        a, b = on_device[key], on_cpu[key]
        relative = abs(a - b) / max(abs(a), abs(b), 1e-12)
        equal = relative <= 1e-5 or abs(a - b) <= 1e-9
        found[key] = {"device": a, "cpu": b, "relative_difference": relative, "equal": equal}
        found["all_equal_to_1e-5"] &= equal
    return found


def _headline(evaluation) -> dict[str, float]:
    flat = evaluation.metrics_dict() if hasattr(evaluation, "metrics_dict") else evaluation.to_dict()
    return {key: float(value) for key, value in flat.items() if key in HEADLINE and isinstance(value, (int, float))}


def knn(device: torch.device, size: int, check_size: int) -> dict:
    """manifold_metrics of size x size features on the device beside the three float32 products it needs;
    the same counts on the device and with numpy at check_size."""
    generator = torch.Generator(device=device).manual_seed(2020)
    real = torch.randn(size, 2048, device=device, generator=generator).abs_().mul_(0.6)
    fake = torch.randn(size, 2048, device=device, generator=generator).abs_().mul_(0.6)
    sync = synchronised(device)
    with extract.exact_float32():
        sync()
        began = time.perf_counter()
        found = manifold_metrics(real, fake)
        ours = time.perf_counter() - began
        tile = min(size, 16384)
        out = torch.empty(tile, tile, device=device)
        sync()
        began = time.perf_counter()
        for rows, cols in ((real, real), (fake, fake), (fake, real)):
            for i in range(0, size, tile):
                for j in range(0, size, tile):
                    torch.mm(
                        rows[i : i + tile],
                        cols[j : j + tile].T,
                        out=out[: len(rows[i : i + tile]), : len(cols[j : j + tile])],
                    )
        sync()
        gemms = time.perf_counter() - began
        small = manifold_metrics(real[:check_size], fake[:check_size])
    numpy = manifold_metrics(real[:check_size].cpu().numpy(), fake[:check_size].cpu().numpy())
    same = (
        small.precision_recall == numpy.precision_recall
        and small.density_coverage == numpy.density_coverage
        and np.array_equal(small.realism.scores, numpy.realism.scores)
        and np.array_equal(small.realism.nearest_real, numpy.realism.nearest_real)
    )
    pr, dc = found.precision_recall, found.density_coverage
    return {
        "size": size,
        "seconds_ours": round(ours, 2),
        "seconds_three_float32_gemms": round(gemms, 2),
        "ours_over_gemms": round(ours / gemms, 3),
        "precision": pr.precision, "recall": pr.recall, "density": dc.density, "coverage": dc.coverage,
        "check_size": check_size,
        "device_equals_numpy": bool(same),
    }  # fmt: skip


def transformers(device: torch.device, large: bool, batch_size: int) -> dict:
    found = {}
    cases = [
        ("dinov2_" + ("vitl14" if large else "vits14"), dinov2.build_dinov2("vitl14" if large else "vits14"), 224),
        (
            "clip_" + ("vit-l-14-336" if large else "vit-b-32"),
            clip.build_clip("vit-l-14-336" if large else "vit-b-32"),
            0,
        ),
    ]
    for name, network, side in cases:
        side = side or network.config.image_size
        network = network.eval().requires_grad_(False).to(device)
        batch = torch.randn(batch_size, 3, side, side, device=device)
        with extract.network_mode(device, fast=False):
            seconds = timed(lambda network=network, batch=batch: network(batch), device, repeats=2)
        found[f"{name}_images_per_s"] = round(batch_size / seconds, 1)
        del network
    found["batch_size"] = batch_size
    found["blocks"] = "all" if large else 1
    return found


def write_folder(folder: Path, size: int, count: int, workers: int) -> Path:
    """`count` PNGs written by `workers` processes (a GPU machine has many cores; the writing is not timed)."""
    folder.mkdir(parents=True)
    shares = [(folder / f"part{index}", size, len(range(index, count, workers))) for index in range(workers)]
    from multiprocessing import Pool

    with Pool(workers) as pool:
        pool.starmap(write_images, [share for share in shares if share[2]])
    for part in folder.iterdir():
        for path in part.iterdir():
            path.rename(folder / f"{part.name}-{path.name}")
        part.rmdir()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the JSON file to write")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=4000, help="PNGs for the end-to-end run (default 4000)")
    parser.add_argument("--weights", help="Inception weights file (default: random weights in its layout)")
    parser.add_argument("--workers", type=int, default=min(16, extract.available_cpus()), help="decoding workers")
    parser.add_argument("--knn-size", type=int, help="N real = N fake for the k-NN timing (default 50000; CPU: 2000)")
    parser.add_argument("--budget", type=float, default=270, help="seconds for everything (default 270)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", InceptionScoreWarning)  # random weights, few images: every result says so
    device = extract.check_device(args.device)
    gpu = device.type == "cuda"
    check = Check(Path(args.out), device, args.budget)
    with tempfile.TemporaryDirectory(prefix="is-device-check-") as root:
        weights = Path(args.weights) if args.weights else _test_weights(Path(root) / "inception.pth")
        check.report["weights"] = "given: " + str(weights) if args.weights else "random, in the real layout"
        check.run("environment", lambda: environment(device))
        rate = 0.0

        def measure_matmul() -> dict:
            nonlocal rate
            rate = matmul_rate(device, 8192 if gpu else 1024)
            return {"float32_gflops_tf32_off": round(rate, 1), "size": 8192 if gpu else 1024}

        check.run("matmul", measure_matmul)
        batches = [64, 128, 256] if gpu else [2]
        check.run("inception_network", lambda: inception_network(device, weights, batches, rate or 1.0))
        folder = write_folder(Path(root) / "samples", 256 if gpu else 64, args.images, args.workers)
        check.run("end_to_end", lambda: end_to_end(device, folder, weights, args.workers, 200 if gpu else 4))
        check.run("data_path", lambda: data_path(device, folder, args.workers, 200 if gpu else 8))
        compared = min(args.images, 200)
        samples = write_folder(Path(root) / "compare_a", 128 if gpu else 48, compared, args.workers)
        reference = write_folder(Path(root) / "compare_b", 127 if gpu else 47, compared, args.workers)
        check.run("numbers_match", lambda: numbers_match(device, samples, reference, weights, compared))
        size = args.knn_size or (50_000 if gpu else 2000)
        check.run("knn", lambda: knn(device, size, min(size, 4000 if gpu else 500)))
        check.run("transformers", lambda: transformers(device, large=gpu, batch_size=64 if gpu else 2))
    check.write()
    print(f"written {args.out} in {check.report['elapsed_s']} s; errors: {list(check.report['errors']) or 'none'}")
    sys.exit(1 if check.report["errors"] else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    main()
