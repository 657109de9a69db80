"""FID from pool3 moments added up over K shards (what engine.reduce_moments does across ranks)
against one accumulator of all rows, in one process; prints the relative differences.

    python benchmarks/distributed_moments.py
"""

import argparse

import numpy as np

from inception_score.maths.frechet import MomentAccumulator
from inception_score.metrics.frechet import fid_from_moments
from inception_score.parallel.sharding import shard_bounds

ROWS, DIMS, BATCH = 6000, 2048, 200


def accumulate(rows: np.ndarray) -> MomentAccumulator:
    accumulator = MomentAccumulator()
    for first in range(0, len(rows), BATCH):
        accumulator.update(rows[first : first + BATCH])
    return accumulator


def summed_over_shards(rows: np.ndarray, shards: int) -> MomentAccumulator:
    parts = [accumulate(rows[slice(*shard_bounds(len(rows), rank, shards))]) for rank in range(shards)]
    for part in parts:
        part.recentre(parts[0].shift)
    return MomentAccumulator.from_sums(
        len(rows), parts[0].shift, sum(part.sums()[0] for part in parts), sum(part.sums()[1] for part in parts)
    )


def main() -> None:
    rng = np.random.RandomState(0)  # pool3-like: non-negative, with a per-dimension offset
    a = (np.abs(rng.standard_normal((ROWS, DIMS))) * 0.4 + rng.rand(DIMS)).astype(np.float32)
    b = (np.abs(rng.standard_normal((ROWS, DIMS))) * 0.45 + rng.rand(DIMS)).astype(np.float32)
    one_a, one_b = accumulate(a).moments(), accumulate(b).moments()
    one = fid_from_moments(one_a, one_b).fid
    for shards in (2, 3, 8):
        many_a, many_b = summed_over_shards(a, shards).moments(), summed_over_shards(b, shards).moments()
        fid = fid_from_moments(many_a, many_b).fid
        covariance = np.max(np.abs(many_a.covariance - one_a.covariance)) / np.max(np.abs(one_a.covariance))
        print(
            f"{shards} shards: FID {fid:.10f}, one accumulator {one:.10f}, relative difference "
            f"{abs(fid - one) / one:.1e}; covariance {covariance:.1e}"
        )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()  # --help answers without running
    main()
