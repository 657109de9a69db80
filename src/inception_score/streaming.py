"""A stateful Inception Score for training loops: update(batch) ... compute(), synchronised across ranks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .engine import result_from_logits
from .errors import InceptionScoreError
from .options import Options
from .parallel.launch import join
from .pipeline.extract import extract_features
from .pipeline.sources import open_source
from .results import ISResult, Order


class InceptionScore:
    """Collect the logits of image batches with update(); compute() gives the same ISResult as the API.

    Only the float32 logits of each image are kept (4 KB for 1008 classes). Under torch.distributed,
    compute() gathers every rank's logits to rank 0 in rank order (rank 0's updates first),
    computes there and returns the result on every rank; distributed=False keeps it local.
    """

    def __init__(
        self,
        *,
        weights: str | Path | None = None,
        splits: int = 10,
        order: Order = "shuffled",
        seed: int = 2020,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        distributed: bool | None = None,
        options: Options | None = None,
        **image_options: Any,
    ) -> None:
        self.splits, self.order, self.seed = splits, order, seed
        given = dict(weights=weights, device=device, batch_size=batch_size, distributed=distributed)
        self.options = Options.of(
            options,
            progress=False,
            **image_options,
            **{name: value for name, value in given.items() if value is not None},
        )
        self._classifier = self.options.load_extractor()
        self._logits: list[np.ndarray] = []

    def update(self, images: Any) -> None:
        """Score a batch and keep its logits.

        Parameters
        ----------
        images
            A uint8 array or tensor N x H x W x 3 or N x 3 x H x W, or anything the API takes.
        """
        options = self.options
        source = open_source(images, npz_key=options.npz_key, value_range=options.value_range, layout=options.layout)
        features = extract_features(
            source.iterate(),
            self._classifier.module,
            batch_size=options.batch_size,
            device=options.torch_device,
            progress=False,
            total=source.total,
            workers=0,
            max_pixels=options.max_pixels,
            contract=self._classifier.contract,
            keep_features=False,
        )
        assert features.logits is not None
        self._logits.append(features.logits)

    def compute(self) -> ISResult:
        """The IS of every image given to update() since the last reset(), on all ranks.

        Returns
        -------
        ISResult
            The same result the API gives for those images (rank 0's updates first under torch.distributed).
        """
        local = np.concatenate(self._logits) if self._logits else np.zeros((0, 0), np.float32)
        group = join(self.options.distributed)
        if group is None:
            return self._result(local, world_size=1)
        logits = group.gather_rows(local)
        return group.on_main(lambda: self._result(logits, world_size=group.world_size))  # type: ignore[arg-type]  # rank 0

    def reset(self) -> None:
        """Forget the images seen so far."""
        self._logits = []

    def _result(self, logits: np.ndarray, *, world_size: int) -> ISResult:
        if len(logits) == 0:
            raise InceptionScoreError("InceptionScore.compute() called before any update(): no images to score")
        return result_from_logits(
            logits,
            self._classifier.weights_sha256,
            splits=self.splits,
            order=self.order,
            seed=self.seed,
            world_size=world_size,
            classifier=self._classifier,
        )
