"""A stateful Inception Score for training loops: update(batch) ... compute(), synchronised across ranks."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .api import load_model, result_from_logits
from .distributed import join
from .errors import InceptionScoreError
from .features import default_device, extract_features
from .metrics import ISResult, Order
from .sources import open_source


class InceptionScore:
    """Collect the logits of image batches with update(); compute() gives the same ISResult as the API.

    Only the 1008 float32 logits of each image are kept (4 KB). Under torch.distributed,
    compute() gathers every rank's logits to rank 0 in rank order (rank 0's updates first),
    computes there and returns the result on every rank; distributed=False keeps it local.
    """

    def __init__(self, *, weights: str | Path | None = None, splits: int = 10, order: Order = "shuffled",
                 seed: int = 2020, device: str | torch.device | None = None, batch_size: int | None = None,
                 distributed: bool | None = None) -> None:
        self.splits, self.order, self.seed = splits, order, seed
        self.device = torch.device(device) if device is not None else default_device()
        self.batch_size = batch_size
        self.distributed = distributed
        self._model, self._sha256 = load_model(weights, progress=False)
        self._logits: list[np.ndarray] = []

    def update(self, images: Any) -> None:
        """Score a batch: a uint8 array/tensor N x H x W x 3 or N x 3 x H x W (or anything the API takes)."""
        source = open_source(images)
        features = extract_features(source.iterate(), self._model, batch_size=self.batch_size, device=self.device,
                                    progress=False, total=source.total, workers=0)
        self._logits.append(features.logits)

    def compute(self) -> ISResult:
        """The IS of every image given to update() since the last reset(), on all ranks."""
        local = np.concatenate(self._logits) if self._logits else np.zeros((0, 1008), np.float32)
        group = join(self.distributed)
        if group is None:
            return self._result(local, world_size=1)
        logits = group.gather_rows(local)
        return group.on_main(lambda: self._result(logits, world_size=group.world_size))

    def reset(self) -> None:
        """Forget the images seen so far."""
        self._logits = []

    def _result(self, logits: np.ndarray, *, world_size: int) -> ISResult:
        if len(logits) == 0:
            raise InceptionScoreError("InceptionScore.compute() called before any update(): no images to score")
        return result_from_logits(logits, self._sha256, splits=self.splits, order=self.order, seed=self.seed,
                                  world_size=world_size)
