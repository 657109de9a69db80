"""Time the distributed step this package adds: gathering per-image outputs to rank 0.

Run under torchrun, e.g.
    OMP_NUM_THREADS=1 torchrun --nproc-per-node 2 benchmarks/distributed_gather.py --images 50000
Each rank holds its shard of N x 1008 float32 logits (and N x 2048 pool3 with --pool3); rank 0
prints the bytes gathered and the seconds the gather took (the median of --repeats runs).
"""
import argparse
import statistics
import time

import numpy as np
import torch.distributed as dist

from inception_score.distributed import Group, shard_bounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--pool3", action="store_true", help="gather pool3 features too (FID/KID)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dist.init_process_group("gloo")
    group = Group()
    start, stop = shard_bounds(args.images, group.rank, group.world_size)
    width = 1008 + (2048 if args.pool3 else 0)
    rows = np.random.default_rng(group.rank).standard_normal((stop - start, width)).astype(np.float32)
    seconds = []
    for _ in range(args.repeats):
        dist.barrier()
        began = time.perf_counter()
        gathered = group.gather_rows(rows)
        seconds.append(time.perf_counter() - began)
    if group.rank == 0:
        assert gathered.shape == (args.images, width)
        megabytes = gathered.nbytes / 1e6
        median = statistics.median(seconds)
        print(f"{group.world_size} ranks, {args.images} images x {width} float32 = {megabytes:.0f} MB "
              f"gathered to rank 0 in {median:.2f} s ({megabytes / median:.0f} MB/s, gloo)")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
