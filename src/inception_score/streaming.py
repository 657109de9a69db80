"""A stateful Inception Score for training loops: update(batch) ... compute(), synchronised across ranks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .engine import Evaluator
from .metrics import ISResult
from .metrics.inception import Order
from .options import Options


class InceptionScore(Evaluator):
    """The Inception Score case of `Evaluator`: update(batch) ... compute() gives the same ISResult as the API.

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
        given = dict(weights=weights, device=device, batch_size=batch_size, distributed=distributed)
        super().__init__(
            ("is",),
            splits=splits,
            order=order,
            seed=seed,
            options=Options.of(
                options,
                progress=False,
                **image_options,
                **{name: value for name, value in given.items() if value is not None},
            ),
        )

    def compute(self) -> ISResult:  # type: ignore[override]
        """The IS of every image given to update() since the last reset(), on all ranks.

        Returns
        -------
        ISResult
            The same result the API gives for those images (rank 0's updates first under torch.distributed).
        """
        result = super().compute().inception_score
        assert result is not None
        return result
