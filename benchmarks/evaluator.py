"""Evaluator.update on in-memory batches against the bare network forward, and FID-only memory against N.

    PYTHONPATH=src python benchmarks/evaluator.py --images 96 --batch-size 16 --repeats 3 --wait-idle 60
    PYTHONPATH=src python benchmarks/evaluator.py --memory 5000,20000,50000

Throughput: the same uint8 N x 3 x 299 x 299 batches (no resize needed) through (a) the 2015 network's
forward alone on inputs prepared beforehand, and (b) `Evaluator(("is", "fid", "kid")).update(batch)`
(checks, conversion, normalisation, network, logits and features into the states, moments streamed),
in one process, best of --repeats each after the idle wait, the two timed in turn; the ratio is (b) / (a).
A second line does the same with 256 x 256 batches, which (b) also resizes. Weights: --weights, else the tests' random
weights in the real layout.

Memory: FID alone over N images, each N in a fresh process reporting its peak resident memory: a
stand-in classifier whose features are 2048 random-projection values of 8 x 8 thumbnails keeps the
network's cost out, so what grows (or not) with N is the Evaluator's state (streamed moments only).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from throughput import _test_weights, best_of, wait_idle


def throughput(args: argparse.Namespace, weights: Path) -> None:
    from inception_score.pipeline.extractors import load_classifier

    classifier = load_classifier(weights=weights, progress=False)
    torch.set_num_threads(args.threads)
    for side in (299, 256):
        network_rate, update_rate = rates(args, weights, classifier, side)
        print(f"| {side} x {side} | {network_rate:.2f} | {update_rate:.2f} | {update_rate / network_rate:.3f} |")


def rates(args: argparse.Namespace, weights: Path, classifier: Any, side: int) -> tuple[float, float]:
    """Images/s of the bare forward on prepared inputs and of Evaluator.update on the same uint8 batches."""
    from inception_score import Evaluator
    from inception_score.pipeline.extract import network_mode

    generator = torch.Generator().manual_seed(0)
    batches = [
        torch.randint(0, 256, (args.batch_size, 3, side, side), dtype=torch.uint8, generator=generator)
        for _ in range(args.images // args.batch_size)
    ]
    prepared = [
        classifier.contract.prepare(batch.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2).float())
        for batch in batches
    ]
    found = Evaluator(("is", "fid", "kid"), weights=weights, device="cpu", batch_size=args.batch_size, progress=False)

    def bare() -> None:
        with network_mode(torch.device("cpu"), False, args.threads):
            for batch in prepared:
                classifier.module(batch)

    def update() -> None:
        found.reset()
        for batch in batches:  # batch_size images each: every update runs the network at once
            found.update(batch)

    bare(), update()  # warm-up: the first forward of a network allocates and picks its kernels
    count = len(batches) * args.batch_size
    network = through = float("inf")
    for _ in range(max(1, args.repeats)):  # interleaved, so a drift of the machine weighs on both alike
        network = min(network, best_of(1, bare, args.wait_idle)[0])
        through = min(through, best_of(1, update, args.wait_idle)[0])
    return count / network, count / through


def memory_one(images: int, batch: int) -> dict:
    """FID alone over `images` random images through a stand-in classifier (run in a fresh process)."""
    from inception_score import Classifier, Evaluator, InputContract

    torch.manual_seed(0)
    projection = torch.randn(3 * 8 * 8, 2048)

    class Thumbnails(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            features = x.flatten(1) @ projection
            return features[:, :0], features

    classifier = Classifier(
        Thumbnails(), InputContract(size=8), "python", "python:thumbnails", "none", outputs=("features",)
    )
    began = time.perf_counter()
    metric = Evaluator(("fid",), classifier=classifier, device="cpu", batch_size=batch, progress=False)
    generator = np.random.default_rng(0)
    for start in range(0, images, batch):
        count = min(batch, images - start)
        metric.update(generator.integers(0, 256, (count, 8, 8, 3), dtype=np.uint8), real=True)
        metric.update(generator.integers(0, 256, (count, 8, 8, 3), dtype=np.uint8))
    fid = metric.compute().fid
    assert fid is not None
    return {
        "images": images,
        "fid": fid.fid,
        "seconds": time.perf_counter() - began,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96, help="images per side in the throughput runs")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--wait-idle", type=float, default=0, help="wait up to this many seconds for idle CPUs")
    parser.add_argument("--weights", help="the 2015 network's weights (default: the tests' random weights)")
    parser.add_argument("--memory", help="comma-separated image counts: FID-only peak memory against N")
    parser.add_argument("--memory-run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_run:
        print(json.dumps(memory_one(args.memory_run, 500)))
        return
    if args.memory:
        print("| images a side | peak RSS (MiB) | seconds | FID |\n|---|---|---|---|")
        for images in (int(text) for text in args.memory.split(",")):
            done = subprocess.run(
                [sys.executable, __file__, "--memory-run", str(images)], capture_output=True, text=True, check=True
            )
            found = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"| {images} | {found['peak_rss_mb']:.0f} | {found['seconds']:.1f} | {found['fid']:.4f} |", flush=True
            )
        return
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(args.weights) if args.weights else _test_weights(Path(folder) / "random.pth")
        wait_idle(args.wait_idle)
        print(
            f"{args.images} images a side in batches of {args.batch_size}, {args.threads} threads, best of "
            f"{args.repeats}\n| input | network alone (img/s) | Evaluator.update (img/s) | ratio |\n|---|---|---|---|",
            flush=True,
        )
        throughput(args, weights)


if __name__ == "__main__":
    main()
