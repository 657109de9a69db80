"""Peak memory of scoring N images streamed from a callable vs the same images held as one array.

    PYTHONPATH=src python benchmarks/stream_memory.py --images 5000 --size 128
    PYTHONPATH=src python benchmarks/stream_memory.py --images 500 --size 128 --weights W.pth

Each mode runs in a fresh subprocess, which reports its peak resident memory (ru_maxrss). The
images are random uint8 (seeded per batch, so both modes score the same pixels). Without
--weights a small stand-in classifier (one convolution, input 32 x 32) does the scoring, so
5,000 images take seconds on a CPU; the sources and the pipeline are the same as with the 2015
network, whose fixed cost (~100 MB of weights, activations per batch) adds to both modes alike.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

BATCH = 64


def batch_of(start: int, count: int, size: int) -> np.ndarray:
    return np.random.default_rng(start).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


class Tiny(torch.nn.Module):
    """A stand-in classifier with an input contract: 32 x 32, values 0..1, 10 classes."""

    input_contract = {"input_size": "32", "resize": "bilinear", "normalize": "0-1", "channels": "3"}

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 5, stride=4)
        self.fc = torch.nn.Linear(8 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def run_one(mode: str, images: int, size: int, weights: str | None) -> dict:
    from inception_score import inception_score

    model = dict(weights=weights) if weights else dict(classifier=Tiny())
    began = time.perf_counter()
    if mode == "callable":
        drawn = [0]

        def sample(count: int) -> np.ndarray:
            start = drawn[0]
            drawn[0] += count
            return np.concatenate(
                [batch_of(s, min(BATCH, start + count - s), size) for s in range(start, start + count, BATCH)]
            )

        source, options = sample, dict(num_samples=images)
    else:
        source = np.empty((images, size, size, 3), np.uint8)  # filled in place: no second copy
        for start in range(0, images, BATCH):
            source[start : start + BATCH] = batch_of(start, min(BATCH, images - start), size)
        options = {}
    result = inception_score(
        source, splits=10, progress=False, cache=False, batch_size=BATCH, device="cpu", **options, **model
    )
    return {
        "mode": mode,
        "images": images,
        "size": size,
        "mean": result.mean,
        "seconds": time.perf_counter() - began,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--weights", help="score with the 2015 network from this weights file")
    parser.add_argument("--mode", choices=("callable", "array"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_one(args.mode, args.images, args.size, args.weights)))
        return
    held_mb = args.images * args.size * args.size * 3 / 2**20
    print(
        f"{args.images} images of {args.size}x{args.size} uint8 ({held_mb:.0f} MiB as one array), "
        f"{'2015 network' if args.weights else 'stand-in classifier'}, batches of {BATCH}"
    )
    results = []
    for mode in ("callable", "array"):
        command = [sys.executable, __file__, "--mode", mode, "--images", str(args.images), "--size", str(args.size)]
        if args.weights:
            command += ["--weights", args.weights]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"  {mode:8s}: peak RSS {r['peak_rss_mb']:7.0f} MiB, {r['seconds']:6.1f} s, IS {r['mean']:.6f}")
    assert abs(results[0]["mean"] - results[1]["mean"]) < 1e-9 * results[1]["mean"], "modes scored different images"


if __name__ == "__main__":
    main()
