"""Peak memory of the Inception Score of N images when the network costs nothing.

    PYTHONPATH=src python benchmarks/memory.py --images 50000

A tiny stand-in classifier (one linear layer on 8 x 8 images, 1008 classes like the 2015
network, so each image's logits are 4 KB in float32) scores N random images drawn from a
callable, so neither the images nor the network take memory: what grows with N is what the
engine keeps per image. The run happens in a fresh subprocess, which reports its peak resident
memory (ru_maxrss) and its resident memory after importing the package (the start-up cost).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CLASSES = 1008
SIZE = 8


def run(images: int, batch: int) -> dict:
    import numpy as np
    import torch

    from inception_score import inception_score

    class Tiny(torch.nn.Module):
        input_contract = {"input_size": SIZE, "resize": "none", "normalize": "0-1", "channels": 3}

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.fc = torch.nn.Linear(3 * SIZE * SIZE, CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.flatten(1)) * 8

    rng = np.random.default_rng(0)
    start_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def sample(count: int) -> np.ndarray:
        return rng.integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)

    began = time.perf_counter()
    result = inception_score(
        sample,
        num_samples=images,
        classifier=Tiny(),
        splits=10,
        progress=False,
        cache=False,
        batch_size=batch,
        device="cpu",
    )
    return {
        "images": images,
        "mean": result.mean,
        "seconds": time.perf_counter() - began,
        "start_mb": start_mb,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=50000, help="images to score (default 50000)")
    parser.add_argument("--batch-size", type=int, default=500, help="images per forward pass (default 500)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.images, args.batch_size)))
        return
    command = [sys.executable, __file__, "--child", "--images", str(args.images), "--batch-size", str(args.batch_size)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    grown = figures["peak_mb"] - figures["start_mb"]
    print(
        f"{figures['images']} images, {CLASSES} classes, stand-in classifier: peak RSS {figures['peak_mb']:.0f} MiB "
        f"({figures['start_mb']:.0f} MiB after import, +{grown:.0f} MiB = "
        f"{grown * 2**20 / figures['images'] / 1024:.1f} KiB per image; logits are "
        f"{CLASSES * 4 / 1024:.1f} KiB), {figures['seconds']:.1f} s, IS {figures['mean']:.6f}"
    )


if __name__ == "__main__":
    main()
