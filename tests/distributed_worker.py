"""Run under torchrun by test_distributed.py: a training-loop-like job that initialises its own
process group, feeds its shard of images to the metric object, calls the API inside the group,
and writes what this rank got as JSON. Mode "mistakes" instead makes calls that fail on some
ranks only, and records what each rank raised."""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image

from inception_score import InceptionScore, InceptionScoreError, inception_score

BATCH = 5


def main(weights: str, folder: str, count: int, out: str) -> None:
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    files = sorted(Path(folder).glob("*.png"))[:count]
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])
    start, stop = rank * count // world_size, (rank + 1) * count // world_size
    metric = InceptionScore(weights=weights, splits=4, batch_size=BATCH, device="cpu")
    for first in range(start, stop, BATCH):
        metric.update(torch.from_numpy(images[first:min(first + BATCH, stop)]).permute(0, 3, 1, 2))
    from_metric = metric.compute()
    from_api = inception_score(images, splits=4, batch_size=BATCH, weights=weights, device="cpu", progress=False,
                               cache=False)
    Path(out, f"rank{rank}.json").write_text(json.dumps({"metric": from_metric.to_dict(), "api": from_api.to_dict()}))
    dist.destroy_process_group()


def mistakes(weights: str, folder: str, out: str) -> None:
    """Calls that go wrong on one rank only; every rank must raise, and the group stay usable."""
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in sorted(Path(folder).glob("*.png"))[:6]])
    calls = {
        "missing": lambda: inception_score(folder if rank == 0 else "/no/such/folder", splits=2, weights=weights),
        "different": lambda: inception_score(images[:4 + rank], splits=2, weights=weights),
        "weights": lambda: inception_score(images, splits=2, weights=weights if rank == 0 else "/no/weights.pth"),
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


if __name__ == "__main__":
    if sys.argv[1] == "mistakes":
        mistakes(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
