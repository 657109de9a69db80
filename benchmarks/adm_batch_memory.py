"""Peak memory of writing an ADM batch of N images: flat in N, far below the pixels' size.

    PYTHONPATH=src python benchmarks/adm_batch_memory.py --images 1000 2000 4000 --size 256
    PYTHONPATH=src:tests python benchmarks/adm_batch_memory.py --images 100 400 --statistics

Each run is a fresh subprocess that writes `save_adm_batch` of N random size x size images drawn
from a callable (so the input itself takes no memory) to a temporary folder, and reports its peak
resident memory (ru_maxrss), its resident memory after importing the package, and the pixels'
size. --statistics writes a reference batch (the 2015 network runs over the written images, with
the fixtures' random weights from tests/recipe.py); without it, a sample batch (no network).
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


def run(images: int, size: int, statistics: bool) -> dict:
    import numpy as np

    from inception_score.export import save_adm_batch

    start_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rng = np.random.default_rng(0)

    def sample(count: int) -> np.ndarray:
        return rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)

    with tempfile.TemporaryDirectory() as folder:
        extra = {}
        if statistics:
            import torch
            from recipe import build_recipe_state_dict

            extra["weights"] = Path(folder) / "recipe.pth"
            torch.save(build_recipe_state_dict(), extra["weights"])
        began = time.perf_counter()
        info = save_adm_batch(
            sample,
            Path(folder) / "batch.npz",
            statistics=statistics,
            num_samples=images,
            progress=False,
            cache=False,
            device="cpu",
            **extra,
        )
        seconds = time.perf_counter() - began
        file_mb = (Path(folder) / "batch.npz").stat().st_size / 1e6
    return {
        "images": info.count,
        "statistics": statistics,
        "pixels_mb": images * size * size * 3 / 1e6,
        "file_mb": file_mb,
        "start_mb": start_mb,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--statistics", action="store_true", help="a reference batch (runs the 2015 network)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.images[0], args.size, args.statistics)))
        return
    print(f"| images | {args.size}² pixels | file | statistics | RSS after import | peak RSS | seconds |")
    print("|---|---|---|---|---|---|---|")
    for count in args.images:
        command = [sys.executable, __file__, "--child", "--images", str(count), "--size", str(args.size)]
        done = subprocess.run(
            command + (["--statistics"] if args.statistics else []), capture_output=True, text=True, check=True
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"| {found['images']} | {found['pixels_mb']:.0f} MB | {found['file_mb']:.0f} MB | "
            f"{'yes' if found['statistics'] else 'no'} | {found['start_mb']:.0f} MB | {found['peak_mb']:.0f} MB | "
            f"{found['seconds']:.1f} |"
        )
    import os

    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
