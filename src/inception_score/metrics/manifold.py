"""Precision/recall (Kynkäänniemi et al. 2019, k = 3) and density/coverage (Naeem et al. 2020, k = 5), with
the per-sample realism score: one family, computed together from the k-NN balls of the feature vectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..maths.neighbours import manifold_metrics
from .base import FEATURES, Card, Inputs, Metric, Result, against, catalog, space_key, space_label
from .registry import register_metric

K_PR, K_DC = 3, 5  # the papers' neighbour ranks


@dataclass(frozen=True)
class RealismDetails:
    """Per-sample arrays (input order), kept out of to_dict(): realism score, inside the reference manifold,
    nearest reference image, and the samples' names when known."""

    scores: np.ndarray
    inside: np.ndarray
    nearest_reference: np.ndarray
    names: list[str] | None = None


@dataclass(frozen=True)
class ManifoldResult(Result):
    """Precision, recall, F-score (Kynkäänniemi et al. 2019, k = 3), density and coverage (Naeem et al. 2020,
    k = 5) and the per-sample realism score, from exact distances between feature vectors.

    `a` is the samples' side (generated images), `b` the reference (real images).
    """

    precision: float  # share of samples inside some reference image's k-NN ball
    recall: float  # share of reference images inside some sample's k-NN ball
    f_score: float  # 2 P R / max(1e-5, P + R), torch-fidelity's
    density: float
    coverage: float
    metrics: list[str]  # which of "pr", "dc" were asked for (all five numbers are computed together)
    n_a: int
    n_b: int
    k_pr: int = K_PR
    k_dc: int = K_DC
    realism: dict[str, Any] = field(default_factory=dict)  # summary: outside_count, median, ...
    a: str | None = None
    b: str | None = None
    reference: dict[str, Any] | None = None
    distances: str = "exact: squared Euclidean distances with float64 products of the float32 features"
    details: RealismDetails | None = field(default=None, compare=False, repr=False)

    def summary(self) -> str:
        parts = []
        if "pr" in self.metrics:
            parts.append(f"precision = {self.precision:.4f}, recall = {self.recall:.4f}, F = {self.f_score:.4f}")
        if "dc" in self.metrics:
            parts.append(f"density = {self.density:.4f}, coverage = {self.coverage:.4f}")
        label = space_label(self.feature_space)
        features = f"{label} features, " if label else ""
        return f"{'; '.join(parts)} ({features}{self.n_a} vs {self.n_b} images){against(self.reference)}"


class Manifold(Metric):
    """Precision/recall ("pr") and density/coverage ("dc") of the samples against the reference."""

    order = 50
    name = "manifold"
    title = "precision/recall and density/coverage"
    about = "k-NN precision/recall (k = 3) and density/coverage (k = 5) of the feature vectors"
    outputs = ("precision", "recall", "f_score", "density", "coverage")
    parts = {"pr": ("precision", "recall", "f_score"), "dc": ("density", "coverage")}
    samples = (FEATURES,)
    reference = (FEATURES,)
    result_type = ManifoldResult
    in_all = True

    def title_of(self, parts: frozenset[str]) -> str:
        return " and ".join(TITLES[part] for part in sorted(parts, reverse=True))

    def too_few(self, side: str, count: int, options: Any, protocol: str, parts: frozenset[str]) -> str:
        least = K_PR + 1 if side == "samples" else K_DC + 1  # the maths take every radius at once
        if count >= least:
            return ""
        wanted = self.title_of(parts)
        return (
            f"{wanted} need at least {least} images on the {side}' side (a radius is the distance to the "
            f"{K_PR if side == 'samples' else K_DC}th nearest other image), got {count}"
        )

    def compute(self, inputs: Inputs) -> ManifoldResult:
        samples, reference = inputs.samples, inputs.reference
        assert reference is not None and samples.features is not None and reference.features is not None
        found = manifold_metrics(reference.features, samples.features, k_pr=K_PR, k_dc=K_DC)
        pr, dc, realism = found.precision_recall, found.density_coverage, found.realism
        return ManifoldResult(
            pr.precision,
            pr.recall,
            pr.f_score,
            dc.density,
            dc.coverage,
            [part for part in ("pr", "dc") if part in inputs.parts],
            n_a=pr.fake_count,
            n_b=pr.real_count,
            k_pr=pr.k,
            k_dc=dc.k,
            realism=realism.to_dict(),
            a=samples.description,
            b=reference.description,
            reference=catalog(reference.reference, pr.real_count),
            warnings=list(inputs.warnings),
            provenance=inputs.provenance,
            details=RealismDetails(realism.scores, realism.inside, realism.nearest_real, samples.names),
        )

    def values(self, result: ManifoldResult) -> dict[str, Any]:
        return {space_key(name, result.feature_space): value for name, value in _numbers(result).items()}

    def cards(self, result: ManifoldResult) -> list[Card]:
        sizes = f"{result.n_a} samples vs {result.n_b} reference images"
        if result.feature_space not in (None, "inception-2015", "torchvision"):
            sizes += f", {result.feature_space} features"
        meanings = {
            "precision": f"share of samples inside some reference image's {result.k_pr}-NN ball (fidelity); "
            "0 to 1, higher is better.",
            "recall": f"share of reference images inside some sample's {result.k_pr}-NN ball (diversity); "
            "0 to 1, higher is better.",
            "f_score": "2 P R / (P + R) of precision and recall; 0 to 1, higher is better.",
            "density": f"reference {result.k_dc}-NN balls holding each sample, over {result.k_dc}: about 1 when "
            "the samples are distributed like the reference, above 1 when they crowd its dense regions.",
            "coverage": f"share of reference images whose {result.k_dc}-NN ball holds a sample; 0 to 1, higher "
            "is better.",
        }
        return [
            Card(key, key.replace("_", "-").capitalize(), value, f"{value:.4f}", meanings[key], detail=sizes)
            for key, value in _numbers(result).items()
        ]


def _numbers(result: ManifoldResult) -> dict[str, float]:
    """The numbers of the parts that were asked for, under their plain names."""
    numbers: dict[str, float] = {}
    if "pr" in result.metrics:
        numbers.update(precision=result.precision, recall=result.recall, f_score=result.f_score)
    if "dc" in result.metrics:
        numbers.update(density=result.density, coverage=result.coverage)
    return numbers


TITLES = {"pr": "precision/recall", "dc": "density/coverage"}


register_metric(Manifold())
