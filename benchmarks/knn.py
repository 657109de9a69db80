"""Time and peak memory of our k-NN metrics beside torch-fidelity 0.4's calculate_precision_recall_full.

    PYTHONPATH=src python benchmarks/knn.py --sizes 10000
    PYTHONPATH=src python benchmarks/knn.py --sizes 10000,50000 --peer-python /work/peers/bin/python
    PYTHONPATH=src python benchmarks/knn.py --smoke

Both sides get the same seeded random features (N real and N fake, d = 2048, float32,
half-normal like pool3). Each run happens in a fresh subprocess, which reports its wall time
and its peak resident memory (ru_maxrss) minus its resident memory just before the call, i.e.
above the inputs; for ours also the tracemalloc peak (numpy's allocations, without BLAS's own
buffers). Ours is `manifold_metrics` (precision, recall, F-score, density, coverage, realism,
float64 distances); torch-fidelity's is precision and recall only (float32 torch.cdist), run by
--peer-python (default: this interpreter) when it can import torch_fidelity, and skipped when
its three full N x N float32 distance matrices would not fit in memory. "bound" is the time the
float64 matrix products alone take at this machine's measured float64 GEMM rate; the float32 rate
is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

DIM = 2048
SEED = 2020


def features(count: int, dim: int, seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal((count, dim), dtype=np.float32)
    np.abs(values, out=values)  # in place: no temporary raises the peak before the measured call
    values *= np.float32(0.6)
    return values


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def run_ours(real: np.ndarray, fake: np.ndarray) -> dict:
    import tracemalloc

    from inception_score.maths.neighbours import manifold_metrics

    before = peak_rss_bytes()
    tracemalloc.start()
    began = time.perf_counter()
    result = manifold_metrics(real, fake)
    seconds = time.perf_counter() - began
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return dict(
        seconds=seconds,
        rss_above_inputs=peak_rss_bytes() - before,
        traced=traced,
        precision=result.precision_recall.precision,
        recall=result.precision_recall.recall,
    )


def run_torch_fidelity(real: np.ndarray, fake: np.ndarray) -> dict:
    import torch
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    real_t, fake_t = torch.from_numpy(real), torch.from_numpy(fake)
    before = peak_rss_bytes()
    began = time.perf_counter()
    precision, recall = calculate_precision_recall_full(fake_t, real_t, neighborhood=3, batch_size=10000)
    seconds = time.perf_counter() - began
    return dict(
        seconds=seconds, rss_above_inputs=peak_rss_bytes() - before, traced=None, precision=precision, recall=recall
    )


def worker(which: str, count: int, dim: int) -> None:
    real, fake = features(count, dim, SEED), features(count, dim, SEED + 1)
    run = run_ours if which == "ours" else run_torch_fidelity
    print(json.dumps(run(real, fake)))


def in_subprocess(python: str, which: str, count: int, dim: int) -> dict | str:
    env = dict(os.environ)
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = source + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [python, os.path.abspath(__file__), "--worker", which, "--sizes", str(count), "--dim", str(dim)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])


def can_import_torch_fidelity(python: str) -> bool:
    done = subprocess.run([python, "-c", "import torch_fidelity.metric_prc"], capture_output=True)
    return done.returncode == 0


def gemm_rate(dtype: type, dim: int) -> float:
    """Measured multiply-add rate (FLOP/s, 2 per multiply-add) of a 2048 x dim x 2048 product."""
    rng = np.random.default_rng(0)
    left, right = rng.random((2048, dim)).astype(dtype), rng.random((2048, dim)).astype(dtype)
    out = np.empty((2048, 2048), dtype)
    np.matmul(left, right.T, out=out)
    best = min(_timed(lambda: np.matmul(left, right.T, out=out)) for _ in range(3))
    return 2.0 * 2048 * 2048 * dim / best


def _timed(call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def our_flops(count: int, dim: int, block: int = 2048) -> float:
    """Multiply-adds x 2 of our products: upper-triangle blocks of real x real and fake x fake, all real x fake."""
    sizes = [min(block, count - start) for start in range(0, count, block)]
    triangle = sum(sizes[i] * sizes[j] for i in range(len(sizes)) for j in range(i, len(sizes)))
    return 2.0 * dim * (2 * triangle + count * count)


def available_memory() -> int:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def table(sizes: list[int], dim: int, peer_python: str) -> None:
    rate64, rate32 = gemm_rate(np.float64, dim), gemm_rate(np.float32, dim)
    print(
        f"GEMM on this machine: float64 {rate64 / 1e9:.1f} GFLOP/s, float32 {rate32 / 1e9:.1f} GFLOP/s "
        f"({os.cpu_count()} CPUs); d = {dim}"
    )
    peer = can_import_torch_fidelity(peer_python)
    print(
        "| N real = N fake | ours: time | bound (float64 GEMM) | ours / bound | ours: peak RSS above inputs "
        "| ours: tracemalloc peak | torch-fidelity: time | torch-fidelity: peak RSS above inputs | P, R ours "
        "| P, R torch-fidelity |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for count in sizes:
        ours = in_subprocess(sys.executable, "ours", count, dim)
        bound = our_flops(count, dim) / rate64
        needed = 3 * count * count * 4
        if not peer:
            theirs = "not importable"
        elif needed > 0.8 * available_memory():
            theirs = f"skipped: needs ~{needed / 2**30:.0f} GiB"
        else:
            theirs = in_subprocess(peer_python, "torch-fidelity", count, dim)
        print(_row(count, ours, bound, theirs))


def _row(count: int, ours: dict | str, bound: float, theirs: dict | str) -> str:
    def mib(value) -> str:
        return "-" if value is None else f"{value / 2**20:.0f} MiB"

    if isinstance(ours, str):
        ours_cells = [ours, f"{bound:.1f} s", "-", "-", "-"]
        ours_pr = "-"
    else:
        ours_cells = [
            f"{ours['seconds']:.1f} s",
            f"{bound:.1f} s",
            f"{ours['seconds'] / bound:.2f}",
            mib(ours["rss_above_inputs"]),
            mib(ours["traced"]),
        ]
        ours_pr = f"{ours['precision']:.4f}, {ours['recall']:.4f}"
    if isinstance(theirs, str):
        their_cells, their_pr = [theirs, "-"], "-"
    else:
        their_cells = [f"{theirs['seconds']:.1f} s", mib(theirs["rss_above_inputs"])]
        their_pr = f"{theirs['precision']:.4f}, {theirs['recall']:.4f}"
    return "| " + " | ".join([f"{count:,}", *ours_cells, *their_cells, ours_pr, their_pr]) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000", help="comma-separated N (real and fake each)")
    parser.add_argument("--dim", type=int, default=DIM, help="feature dimension (default 2048, pool3)")
    parser.add_argument("--smoke", action="store_true", help="a quick run: N = 300, d = 64")
    parser.add_argument(
        "--peer-python", default=sys.executable, help="interpreter with torch-fidelity installed (default: this one)"
    )
    parser.add_argument("--worker", choices=["ours", "torch-fidelity"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size]
    if args.worker:
        worker(args.worker, sizes[0], args.dim)
    elif args.smoke:
        table([300], 64, args.peer_python)
    else:
        table(sizes, args.dim, args.peer_python)


if __name__ == "__main__":
    main()
