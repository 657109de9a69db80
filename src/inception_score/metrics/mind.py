"""MIND (Monge Inception Distance, Berthet et al. 2026): the sliced squared 2-Wasserstein distance of the
feature vectors (pool3 by default; any extractor's), with torch-fidelity's draws for the same seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..maths.sliced import sliced_wasserstein
from .base import FEATURES, Card, Inputs, Metric, Option, Result, against, catalog, features_named, seed, whole
from .registry import register_metric


@dataclass(frozen=True)
class MINDResult(Result):
    """A Monge Inception Distance: 3 d x the mean over random unit directions of the squared 1-d
    Wasserstein distance of the projected features (both sides cut to the smaller size)."""

    mind: float
    projections: int
    seed: int
    n_a: int
    n_b: int
    n: int  # images per side after cutting the larger side to the smaller one's size
    a: str | None = None
    b: str | None = None
    reference: dict[str, Any] | None = None

    def summary(self) -> str:
        return (
            f"MIND = {self.mind:.4f} ({self.projections} projections, seed {self.seed}; {self.n_a} vs {self.n_b} "
            f"images){against(self.reference)}"
        )


def drawn_sets(
    samples: np.ndarray, reference: np.ndarray, projections: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both sets cut to the smaller size and the unit directions, drawn as torch-fidelity draws them: one CPU
    generator seeded with `seed`; randperm(N)[:n] for each larger set, first side first; then
    randn(M, d) in float32, each row divided by its norm (clamped at 1e-12)."""
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    n = min(len(samples), len(reference))
    cut = []
    for features in (samples, reference):
        if len(features) > n:
            features = features[torch.randperm(len(features), generator=generator)[:n].numpy()]
        cut.append(features)
    directions = torch.randn(projections, samples.shape[1], generator=generator, dtype=torch.float32)
    directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return cut[0], cut[1], directions.numpy()


class MIND(Metric):
    """MIND between the samples' and the reference's feature vectors."""

    order = 110
    name = "mind"
    title = "MIND"
    about = "the Monge Inception Distance: a sliced squared 2-Wasserstein distance of the feature vectors"
    aliases = ("monge_inception_distance",)
    outputs = ("monge_inception_distance",)
    samples = (FEATURES,)
    reference = (FEATURES,)
    options = (
        Option("mind_num_projections", 1000, whole(1, 1_000_000, "1000 is the default"), "random unit directions"),
        Option("mind_seed", 2020, seed, "seed of the directions and of the cut (torch-fidelity's rng_seed)"),
    )
    result_type = MINDResult

    def compute(self, inputs: Inputs) -> MINDResult:
        samples, reference, options = inputs.samples, inputs.reference, inputs.options
        assert reference is not None and samples.features is not None and reference.features is not None
        projections, drawn = options["mind_num_projections"], options["mind_seed"]
        x, y, directions = drawn_sets(samples.features, reference.features, projections, drawn)
        n_b = len(reference.features)
        return MINDResult(
            sliced_wasserstein(x, y, directions),
            projections,
            drawn,
            len(samples.features),
            n_b,
            len(x),
            a=samples.description,
            b=reference.description,
            reference=catalog(reference.reference, n_b),
            warnings=list(inputs.warnings),
            provenance=inputs.provenance,
        )

    def values(self, result: MINDResult) -> dict[str, Any]:
        return {"monge_inception_distance": result.mind}

    def cards(self, result: MINDResult) -> list[Card]:
        against_text = f" against {result.b}" if result.b else ""
        return [
            Card(
                "mind",
                "MIND",
                result.mind,
                f"{result.mind:.4f}",
                f"sliced Wasserstein distance of {features_named(result.feature_space)}{against_text}; lower is "
                "better, 0 is identical.",
                detail=f"{result.projections} projections, seed {result.seed}, {result.n} images a side",
            )
        ]


register_metric(MIND())
