"""CMMD (Jayasumana et al. 2024): scale x MMD^2 with a Gaussian RBF kernel on embeddings, by default on
CLIP ViT-L/14@336px's unit-length image embeddings as published (google-research/cmmd)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..maths.cmmd import SCALE, SIGMA, cmmd
from .base import FEATURES, Card, Inputs, Metric, Result, against, catalog
from .registry import register_metric

CMMD_SPACE = "clip-vit-l-14-336"  # CMMD as published (google-research/cmmd)


@dataclass(frozen=True)
class CMMDResult(Result):
    """CMMD (Jayasumana et al. 2024): scale x MMD^2 with a Gaussian RBF kernel on embeddings, float64."""

    value: float
    estimator: str  # "min-variance" (the reference's: i = j pairs included) or "unbiased"
    sigma: float
    scale: float
    n_a: int
    n_b: int
    a: str | None = None
    b: str | None = None
    reference: dict[str, Any] | None = None

    def summary(self) -> str:
        return (
            f"CMMD = {self.value:.4f} ({self.estimator}, sigma {self.sigma:g}, x{self.scale:g}; {self.n_a} vs "
            f"{self.n_b} images, {self.feature_space or 'custom'} features){against(self.reference)}"
        )


class CMMDMetric(Metric):
    """CMMD between the samples' and the reference's embeddings (any extractor's; CLIP's by default)."""

    order = 90
    name = "cmmd"
    title = "CMMD"
    about = "MMD^2 with a Gaussian RBF kernel (sigma 10, x1000) on CLIP ViT-L/14@336px embeddings by default"
    samples = (FEATURES,)
    reference = (FEATURES,)
    outputs = ("cmmd",)
    space = CMMD_SPACE
    result_type = CMMDResult

    def compute(self, inputs: Inputs) -> CMMDResult:
        samples, reference = inputs.samples, inputs.reference
        assert reference is not None and samples.features is not None and reference.features is not None
        space = inputs.provenance.feature_space
        notes = []
        if space != CMMD_SPACE:
            notes.append(
                f"CMMD on {space or 'custom'} features: published CMMDs use {CMMD_SPACE}'s unit-length embeddings "
                f"(--classifier {CMMD_SPACE}); compare only with CMMDs of the same features"
            )
        n_b = len(reference.features)
        return CMMDResult(
            cmmd(samples.features, reference.features),
            "min-variance",
            SIGMA,
            SCALE,
            len(samples.features),
            n_b,
            a=samples.description,
            b=reference.description,
            reference=catalog(reference.reference, n_b),
            warnings=[*inputs.warnings, *notes],
            provenance=inputs.provenance,
        )

    def values(self, result: CMMDResult) -> dict[str, Any]:
        return {"cmmd": result.value}

    def cards(self, result: CMMDResult) -> list[Card]:
        against_text = f" against {result.b}" if result.b else ""
        return [
            Card(
                "cmmd",
                "CMMD",
                result.value,
                f"{result.value:.4f}",
                f"maximum mean discrepancy of {result.feature_space or 'custom'} embeddings{against_text}; lower is "
                "better, 0 is identical.",
                detail=f"{result.n_a} vs {result.n_b} images, RBF sigma {result.sigma:g}, x{result.scale:g}, "
                f"{result.estimator}",
            )
        ]


register_metric(CMMDMetric())
