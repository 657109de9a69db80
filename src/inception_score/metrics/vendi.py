"""The Vendi score (Friedman & Dieng 2023): the effective number of distinct samples, from the cosine
similarities of their feature vectors (pool3 by default; any extractor's). No reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..maths.vendi import vendi_score
from .base import FEATURES, Card, Inputs, Metric, Result, features_named
from .registry import register_metric


@dataclass(frozen=True)
class VendiResult(Result):
    """A Vendi score: exp of the entropy of the eigenvalues of the n x n cosine-similarity matrix over n."""

    vendi_score: float
    n: int
    kernel: str = "cosine similarity of the feature vectors"
    a: str | None = None

    def summary(self) -> str:
        return f"Vendi score = {self.vendi_score:.4f} ({self.n} images, {features_named(self.feature_space)})"


class Vendi(Metric):
    """The Vendi score of the samples' feature vectors."""

    order = 100
    name = "vendi"
    title = "Vendi score"
    about = "the effective number of distinct samples: exp of the eigenvalue entropy of the cosine kernel"
    outputs = ("vendi_score",)
    samples = (FEATURES,)
    result_type = VendiResult

    def compute(self, inputs: Inputs) -> VendiResult:
        features = inputs.samples.features
        assert features is not None
        return VendiResult(
            vendi_score(features),
            len(features),
            a=inputs.samples.description,
            warnings=list(inputs.warnings),
            provenance=inputs.provenance,
        )

    def values(self, result: VendiResult) -> dict[str, Any]:
        return {"vendi_score": result.vendi_score}

    def cards(self, result: VendiResult) -> list[Card]:
        return [
            Card(
                "vendi_score",
                "Vendi score",
                result.vendi_score,
                f"{result.vendi_score:.2f}",
                f"the effective number of distinct images, from 1 (all alike) to {result.n} (all dissimilar), "
                f"by the cosine similarity of {features_named(result.feature_space)}; higher is more diverse.",
                detail=f"{result.n} images",
                group="diversity",
            )
        ]


register_metric(Vendi())
