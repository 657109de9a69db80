"""Time and peak memory of our k-NN metrics beside the three float32 matrix products they need, and torch-fidelity.

    PYTHONPATH=src python benchmarks/knn.py --sizes 10000 --wait-idle 120
    PYTHONPATH=src python benchmarks/knn.py --sizes 10000,50000 --peer-python /work/peers/bin/python
    PYTHONPATH=src python benchmarks/knn.py --smoke

Every side gets the same seeded random features (N real and N fake, d = 2048, float32,
half-normal like pool3). Each run happens in a fresh subprocess (after waiting for idle CPUs),
which reports its wall time and its peak resident memory (ru_maxrss) minus its resident memory
just before the call, i.e. above the inputs; for ours also the tracemalloc peak (numpy's
allocations, without BLAS's own buffers). Ours is `manifold_metrics` (precision, recall, F-score,
density, coverage, realism: float32 products, exact float64 counts). "3 GEMMs" is the time of the
three full float32 products real x real, fake x fake and fake x real (np.matmul, N x N x d each,
in output tiles of at most 10240 x 10240): the cost the k-NN metrics are measured against.
torch-fidelity's is precision and recall only (float32 torch.cdist), run by --peer-python
(default: this interpreter) when it can import torch_fidelity, and skipped when its three full
N x N float32 distance matrices would not fit in memory.
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
from throughput import wait_idle

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


def run_gemms(real: np.ndarray, fake: np.ndarray) -> dict:
    """The three float32 products N x N x d (real x real, fake x fake, fake x real), tile by tile."""
    tile = 10240
    out = np.empty((min(tile, len(real)), min(tile, len(real))), np.float32)
    began = time.perf_counter()
    for rows, cols in ((real, real), (fake, fake), (fake, real)):
        for i in range(0, len(rows), tile):
            for j in range(0, len(cols), tile):
                left, right = rows[i : i + tile], cols[j : j + tile]
                np.matmul(left, right.T, out=out[: len(left), : len(right)])
    return dict(seconds=time.perf_counter() - began)


def worker(which: str, count: int, dim: int) -> None:
    real, fake = features(count, dim, SEED), features(count, dim, SEED + 1)
    run = {"ours": run_ours, "gemms": run_gemms, "torch-fidelity": run_torch_fidelity}[which]
    print(json.dumps(run(real, fake)))


def in_subprocess(python: str, which: str, count: int, dim: int, wait: float = 0.0) -> dict | str:
    wait_idle(wait)
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
    found = json.loads(done.stdout.strip().splitlines()[-1])
    found["load"] = os.getloadavg()[0]
    return found


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


def available_memory() -> int:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def table(sizes: list[int], dim: int, peer_python: str, wait: float) -> None:
    wait_idle(wait)
    rate32 = gemm_rate(np.float32, dim)
    print(
        f"GEMM on this machine: float32 {rate32 / 1e9:.1f} GFLOP/s ({os.cpu_count()} CPUs); d = {dim}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    peer = can_import_torch_fidelity(peer_python)
    print(
        "| N real = N fake | ours: time | 3 GEMMs (float32) | ours / 3 GEMMs | ours: peak RSS above inputs "
        "| ours: tracemalloc peak | torch-fidelity: time | torch-fidelity: peak RSS above inputs | P, R ours "
        "| P, R torch-fidelity | load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for count in sizes:
        gemms = in_subprocess(sys.executable, "gemms", count, dim, wait)
        ours = in_subprocess(sys.executable, "ours", count, dim, wait)
        needed = 3 * count * count * 4
        if not peer:
            theirs: dict | str = "not importable"
        elif needed > 0.8 * available_memory():
            theirs = f"skipped: needs ~{needed / 2**30:.0f} GiB"
        else:
            theirs = in_subprocess(peer_python, "torch-fidelity", count, dim, wait)
        print(_row(count, ours, gemms, theirs), flush=True)


def _row(count: int, ours: dict | str, gemms: dict | str, theirs: dict | str) -> str:
    def mib(value) -> str:
        return "-" if value is None else f"{value / 2**20:.0f} MiB"

    gemm_cell = gemms if isinstance(gemms, str) else f"{gemms['seconds']:.1f} s"
    loads = [f"{part['load']:.1f}" for part in (gemms, ours, theirs) if isinstance(part, dict)]
    if isinstance(ours, str):
        ours_cells = [ours, gemm_cell, "-", "-", "-"]
        ours_pr = "-"
    else:
        ratio = "-" if isinstance(gemms, str) else f"{ours['seconds'] / gemms['seconds']:.2f}"
        ours_cells = [
            f"{ours['seconds']:.1f} s",
            gemm_cell,
            ratio,
            mib(ours["rss_above_inputs"]),
            mib(ours["traced"]),
        ]
        ours_pr = f"{ours['precision']:.4f}, {ours['recall']:.4f}"
    if isinstance(theirs, str):
        their_cells, their_pr = [theirs, "-"], "-"
    else:
        their_cells = [f"{theirs['seconds']:.1f} s", mib(theirs["rss_above_inputs"])]
        their_pr = f"{theirs['precision']:.4f}, {theirs['recall']:.4f}"
    cells = [f"{count:,}", *ours_cells, *their_cells, ours_pr, their_pr, " / ".join(loads)]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000", help="comma-separated N (real and fake each)")
    parser.add_argument("--dim", type=int, default=DIM, help="feature dimension (default 2048, pool3)")
    parser.add_argument("--smoke", action="store_true", help="a quick run: N = 300, d = 64")
    parser.add_argument(
        "--peer-python", default=sys.executable, help="interpreter with torch-fidelity installed (default: this one)"
    )
    parser.add_argument(
        "--wait-idle", type=float, default=0, metavar="SECONDS", help="wait up to this long for idle CPUs per run"
    )
    parser.add_argument("--worker", choices=["ours", "gemms", "torch-fidelity"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size]
    if args.worker:
        worker(args.worker, sizes[0], args.dim)
    elif args.smoke:
        table([300], 64, args.peer_python, 0.0)
    else:
        table(sizes, args.dim, args.peer_python, args.wait_idle)


if __name__ == "__main__":
    main()
