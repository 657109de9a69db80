"""Run under torchrun by test_distributed.py: a training-loop-like job that initialises its own
process group, feeds its shard of images to the metric object, calls the API inside the group,
and writes what this rank got as JSON. Mode "mistakes" instead makes calls that fail on some
ranks only, and records what each rank raised. Mode "compare" calls fid, kid, evaluate and
save_statistics inside the group, scores a callable source drawn on every rank, and adds up
uneven shards of pool3 moments."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image

from inception_score import (
    Evaluator,
    InceptionScore,
    InceptionScoreError,
    MomentAccumulator,
    evaluate,
    fid,
    inception_score,
    kid,
    save_statistics,
)
from inception_score.engine import reduce_moments
from inception_score.maths.frechet import moments_of
from inception_score.parallel.group import Group

BATCH = 5


def main(weights: str, folder: str, count: int, out: str) -> None:
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    files = sorted(Path(folder).glob("*.png"))[:count]
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])
    start, stop = rank * count // world_size, (rank + 1) * count // world_size
    metric = InceptionScore(weights=weights, splits=4, batch_size=BATCH, device="cpu")
    for first in range(start, stop, BATCH):
        metric.update(torch.from_numpy(images[first : min(first + BATCH, stop)]).permute(0, 3, 1, 2))
    from_metric = metric.compute()
    from_api = inception_score(
        images, splits=4, batch_size=BATCH, weights=weights, device="cpu", progress=False, cache=False
    )
    Path(out, f"rank{rank}.json").write_text(json.dumps({"metric": from_metric.to_dict(), "api": from_api.to_dict()}))
    dist.destroy_process_group()


def mistakes(weights: str, folder: str, out: str) -> None:
    """Calls that go wrong on one rank only; every rank must raise, and the group stay usable."""
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in sorted(Path(folder).glob("*.png"))[:6]])
    calls = {
        "missing": lambda: inception_score(folder if rank == 0 else "/no/such/folder", splits=2, weights=weights),
        "different": lambda: inception_score(images[: 4 + rank], splits=2, weights=weights),
        "weights": lambda: inception_score(images, splits=2, weights=weights if rank == 0 else "/no/weights.pth"),
        "stream": lambda: inception_score(iter([images]), splits=2, weights=weights),
    }
    raised = {}
    for name, call in calls.items():
        try:
            call()
            raised[name] = None
        except InceptionScoreError as error:
            raised[name] = str(error)
    Path(out, f"rank{rank}.json").write_text(json.dumps(raised))
    dist.destroy_process_group()


def compare(weights: str, folder_a: str, folder_b: str, out: str) -> None:
    """FID, KID, IS + FID + KID and statistics files of two folders, with the API inside a process group.

    Each rank writes the statistics file to the same relative path from its own folder out/rank<r>,
    where only rank 0 has the "stats" subfolder: rank 0 alone may check the path and write.
    """
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    options = dict(weights=weights, batch_size=2, device="cpu", progress=False, cache=False)
    got = {
        "fid": fid(folder_a, folder_b, **options).to_dict(),
        "kid": kid(folder_a, folder_b, subsets=5, subset_size=6, **options).to_dict(),
        "evaluate": evaluate(
            folder_a, reference=folder_b, splits=3, kid_subsets=5, kid_subset_size=6, **options
        ).to_dict(),
    }
    os.chdir(Path(out, f"rank{rank}"))
    written = save_statistics(folder_a, "stats/a.npz", with_features=True, **options)
    got["stats"] = {"path": str(written.path), "n": written.n, "features_shape": list(written.features_shape)}
    got["fid_against_file"] = fid(folder_b, Path(out, "rank0", "stats", "a.npz"), **options).to_dict()
    torch.manual_seed(1000 + rank)  # the training loop's own random state, which scoring must not disturb
    got["sampler"] = evaluate(
        draw,
        reference=folder_b,
        metrics=("is", "fid"),
        num_samples=10,
        sample_seed=100,
        splits=2,
        **dict(options, batch_size=1),
    ).to_dict()
    got["after_sampler"] = torch.rand(1).item()
    got["moments"] = uneven_moments(rank, dist.get_world_size())
    Path(out, f"rank{rank}.json").write_text(json.dumps(got))
    dist.destroy_process_group()


def evaluator(weights: str, folder_a: str, folder_b: str, out: str) -> None:
    """A training loop's evaluation: each rank feeds its shard of a's images to an Evaluator in uneven
    batches, against folder b (extracted once, over both ranks); every rank writes what compute() gave."""
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in sorted(Path(folder_a).glob("*.png"))])
    start, stop = rank * len(images) // world_size, (rank + 1) * len(images) // world_size
    metrics = ("is", "fid", "kid", "pr", "dc", "vendi", "mind")
    options = dict(splits=2, kid_subsets=4, kid_subset_size=8, mind_num_projections=64, batch_size=3)
    found = Evaluator(metrics, folder_b, weights=weights, device="cpu", progress=False, cache=False, **options)
    first = start
    for size in [3, 1, 4, 2, 5, 3] * len(images):
        if first >= stop:
            break
        found.update(torch.from_numpy(images[first : min(first + size, stop)]).permute(0, 3, 1, 2))
        first += size
    shown = found.compute().metrics_dict()
    Path(out, f"rank{rank}.json").write_text(
        json.dumps({key: value for key, value in shown.items() if key != "details"})
    )
    dist.destroy_process_group()


def draw(count: int) -> torch.Tensor:
    """A generator's stand-in for a callable source: `count` random 24 x 24 images from torch's global generator."""
    return torch.randint(0, 256, (count, 3, 24, 24), dtype=torch.uint8)


def uneven_moments(rank: int, world_size: int) -> dict:
    """Moments of 40 random 8-d rows with a large offset, shards of uneven size (rank 0 empty) added up
    by engine.reduce_moments, against the moments of all rows at once: largest relative differences."""
    rows = np.random.RandomState(7).standard_normal((40, 8)) * 3 + 1000
    bounds = [0] + [40 * r // (world_size - 1) for r in range(world_size)]
    accumulator = MomentAccumulator()
    for first in range(bounds[rank], bounds[rank + 1], 3):
        accumulator.update(rows[first : min(first + 3, bounds[rank + 1])])
    merged = reduce_moments(Group(), accumulator)
    if merged is None:
        return {}
    got, expected = merged.moments(), moments_of(rows)
    return {
        "n": got.n,
        "mean": float(np.max(np.abs(got.mean - expected.mean) / np.abs(expected.mean))),
        "covariance": float(np.max(np.abs(got.covariance - expected.covariance)) / np.max(np.abs(expected.covariance))),
    }


if __name__ == "__main__":
    if sys.argv[1] == "mistakes":
        mistakes(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "evaluator":
        evaluator(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
