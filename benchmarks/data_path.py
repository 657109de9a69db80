"""The data path (read, decode, batch, resize) against the decode-only floor: PIL alone, same workers.

    PYTHONPATH=src python benchmarks/data_path.py --images 1000 --wait-idle 60
    PYTHONPATH=src python benchmarks/data_path.py --images 200 --formats png --sizes 32   # quicker

Writes N synthetic images per format (PNG, JPEG quality 90) and size (32, 256 px), then times, each
after waiting for idle CPUs (--wait-idle), best of --repeats:
- floor: PIL alone, `Image.open(path).convert("RGB")` and `numpy.asarray`, in --workers processes
  (multiprocessing.Pool, files read by the workers): what decoding costs and nothing else;
- ours, native: `extract_features` over the folder (listed once beforehand, as the floor's list of
  paths is) with a near-free classifier that takes the images at their own size (no resize, values
  0..255): reading the files, planning (feature cache off), decoding in --workers workers, batching,
  the copy to the device; left on the device: the conversion to float;
- ours, 299 TF1: the same with the 2015 network's input contract (TF1 bilinear to 299, (x - 128) / 128):
  on a GPU the resize runs there; on this CPU it is extra arithmetic that the floor does not do;
- ours with the other kind of decoding workers (processes where `extract_many` picks threads, which it
  does below 6 workers, and threads where it picks processes), native size.
The main process runs torch on --threads threads (default 1): the decoding workers have the CPUs, and
on a loaded machine a parallel torch operation waits for a core per thread.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from throughput import best_of, wait_idle, write_images

import inception_score.pipeline.extract as extract
from inception_score.pipeline.decoding import PROCESS_WORKERS_FROM, ProcessDecoder, ThreadDecoder
from inception_score.pipeline.extractors import INCEPTION_2015_INPUT, InputContract
from inception_score.pipeline.sources import open_source


class NearFree(torch.nn.Module):
    """(logits, features) from one pixel per image: the network costs nothing. Its 4-D weight is
    channels-last, so the pipeline hands it channels-last batches, as it does the real networks."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(2, 3, 2, 2).contiguous(memory_format=torch.channels_last))

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        corner = batch[:, :, 0, 0]
        return corner.repeat(1, 336), corner.repeat(1, 683)[:, :2048]


def pil_decode(path: Path) -> int:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).shape[0]


def floor(paths: list[Path], workers: int, repeats: int, wait: float) -> float:
    with Pool(workers) as pool:
        pool.map(pil_decode, paths[: 4 * workers])  # workers started and warm
        seconds, _ = best_of(repeats, lambda: pool.map(pil_decode, paths, chunksize=16), wait)
    return len(paths) / seconds


def ours(
    folder: Path, contract: InputContract, workers: int, batch_size: int, repeats: int, wait: float, threads: int
) -> float:
    source = open_source(folder)  # the folder listed once, outside the timing (the floor gets a list too)

    def run() -> int:
        found = extract.extract_features(
            source, NearFree(), contract=contract, batch_size=batch_size, device="cpu",
            progress=False, workers=workers, threads=threads,
        )  # fmt: skip
        return len(found.names)

    run()  # warm: imports, first allocations
    seconds, count = best_of(repeats, run, wait)
    return count / seconds


def with_decoder(kind: str, *args) -> float:
    """`ours` with decoding "threads" or "processes", whatever the number of workers."""
    saved = extract.make_decoder
    extract.make_decoder = lambda workers, max_pixels, batch_size, total=None: (
        ThreadDecoder(workers, max_pixels) if kind == "threads" else ProcessDecoder(workers, max_pixels, batch_size)
    )
    try:
        return ours(*args)
    finally:
        extract.make_decoder = saved


def write(folder: Path, size: int, count: int, kind: str) -> Path:
    written = write_images(folder, size, count)
    if kind == "jpeg":
        for path in sorted(written.iterdir()):
            with Image.open(path) as image:
                image.convert("RGB").save(path.with_suffix(".jpg"), quality=90)
            path.unlink()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000, help="images per format and size (default 1000)")
    parser.add_argument("--formats", default="png,jpeg", help="comma-separated: png, jpeg")
    parser.add_argument("--sizes", default="32,256", help="comma-separated image sides (default 32,256)")
    parser.add_argument("--workers", type=int, default=extract.available_cpus(), help="decoding workers, both sides")
    batch = extract.default_batch_size("cpu")
    parser.add_argument("--batch-size", type=int, default=batch, help=f"(default {batch}, the package's on a CPU)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads of the main process (default 1: workers have the CPUs)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs per timing (default 2)")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS", help="wait for idle CPUs per run")
    args = parser.parse_args()
    native = lambda size: InputContract(size=size, resize="none", normalize="0-255")  # noqa: E731
    print(
        f"{os.cpu_count()} CPUs, {args.workers} decoding workers, batch {args.batch_size}, {args.images} images each, "
        f"torch {torch.__version__} ({args.threads} threads in the main process), load average {os.getloadavg()[0]:.1f}"
    )
    forked = args.workers >= PROCESS_WORKERS_FROM  # what `extract_many` picks for this many workers
    print(f"ours decodes in {'processes' if forked else 'threads'} with {args.workers} workers")
    print(f"| images | floor: PIL alone | ours, native | / floor | ours, 299 TF1 | / floor "
          f"| {'threads' if forked else 'processes'} instead, native | / floor | listing the folder, per file "
          "| load average |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="is-data-path-") as root:
        for kind in args.formats.split(","):
            for size in (int(value) for value in args.sizes.split(",")):
                folder = write(Path(root) / f"{kind}{size}", size, args.images, kind)
                paths = sorted(folder.iterdir())
                began = time.perf_counter()
                open_source(folder)
                listing = (time.perf_counter() - began) / len(paths) * 1e6
                wait_idle(args.wait_idle)
                base = floor(paths, args.workers, args.repeats, args.wait_idle)
                timing = (args.workers, args.batch_size, args.repeats, args.wait_idle, args.threads)
                plain = ours(folder, native(size), *timing)
                resized = ours(folder, INCEPTION_2015_INPUT, *timing)
                other = with_decoder("threads" if forked else "processes", folder, native(size), *timing)
                print(
                    f"| {kind.upper()} {size} x {size} | {base:.0f}/s | {plain:.0f}/s | {plain / base:.2f} "
                    f"| {resized:.0f}/s | {resized / base:.2f} | {other:.0f}/s | {other / base:.2f} "
                    f"| {listing:.0f} us | {os.getloadavg()[0]:.1f} |",
                    flush=True,
                )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (a shared machine slows every figure)")


if __name__ == "__main__":
    main()
