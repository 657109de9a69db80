"""Time the distributed steps this package adds: gathering per-image outputs to rank 0, and
adding up the pool3 moments there.

Run under torchrun, e.g.
    OMP_NUM_THREADS=1 torchrun --nproc-per-node 2 benchmarks/distributed_gather.py --images 50000
Each rank holds its shard of N x 1008 float32 logits (and N x 2048 pool3 with --pool3); rank 0
prints the bytes gathered and the seconds the gather took (the median of --repeats runs).
With --moments, each rank instead accumulates the float64 moments of 2,100 random 2048-d rows
(more than d, so only the sums are kept) and rank 0 prints how long engine.reduce_moments takes:
what FID of images costs the network, whatever N.
"""

import argparse
import statistics
import time

import numpy as np
import torch.distributed as dist

from inception_score.engine import reduce_moments
from inception_score.maths.frechet import MomentAccumulator
from inception_score.parallel.group import Group
from inception_score.parallel.sharding import shard_bounds

MOMENT_ROWS = 2100


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--pool3", action="store_true", help="gather pool3 features too (FID/KID)")
    parser.add_argument("--moments", action="store_true", help="time the reduction of pool3 moments instead")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dist.init_process_group("gloo")
    group = Group()
    if args.moments:
        time_moments(group, args.repeats)
    else:
        time_gather(group, args.images, args.pool3, args.repeats)
    dist.destroy_process_group()


def time_gather(group: Group, images: int, pool3: bool, repeats: int) -> None:
    start, stop = shard_bounds(images, group.rank, group.world_size)
    width = 1008 + (2048 if pool3 else 0)
    rows = np.random.default_rng(group.rank).standard_normal((stop - start, width)).astype(np.float32)
    seconds = []
    for _ in range(repeats):
        dist.barrier()
        began = time.perf_counter()
        gathered = group.gather_rows(rows)
        seconds.append(time.perf_counter() - began)
    if group.rank == 0:
        assert gathered.shape == (images, width)
        megabytes = gathered.nbytes / 1e6
        median = statistics.median(seconds)
        print(
            f"{group.world_size} ranks, {images} images x {width} float32 = {megabytes:.0f} MB "
            f"gathered to rank 0 in {median:.2f} s ({megabytes / median:.0f} MB/s, gloo)"
        )


def time_moments(group: Group, repeats: int) -> None:
    rows = np.random.default_rng(group.rank).standard_normal((MOMENT_ROWS, 2048)).astype(np.float32)
    seconds = []
    for _ in range(repeats):
        accumulator = MomentAccumulator()
        accumulator.update(rows)
        dist.barrier()
        began = time.perf_counter()
        merged = reduce_moments(group, accumulator)
        seconds.append(time.perf_counter() - began)
    if group.rank == 0:
        assert merged.n == MOMENT_ROWS * group.world_size
        megabytes = (2048 + 2048 * 2048) * 8 / 1e6
        print(
            f"{group.world_size} ranks: pool3 moments ({megabytes:.1f} MB of float64 sums per rank) added up on "
            f"rank 0 in {statistics.median(seconds):.2f} s (gloo)"
        )


if __name__ == "__main__":
    main()
