"""KID (Bińkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel over random subsets of the
feature vectors; in another extractor's feature space it is KD_DINOv2, KD_CLIP (dgm-eval's "kd")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..maths.kernel import kid_shortfall, kid_subset_values
from ..maths.limits import MAX_KID_SUBSETS
from .base import FEATURES, Card, Inputs, Metric, Option, Result, against, catalog, features_named, seed, space_label
from .base import whole as whole_number
from .registry import register_metric


@dataclass(frozen=True)
class KIDResult(Result):
    """A Kernel Inception Distance: mean and population std over random subsets."""

    mean: float
    std: float
    subsets: int
    subset_size: int
    seed: int
    n_a: int
    n_b: int
    a: str | None = None
    b: str | None = None
    reference: dict[str, Any] | None = None  # catalog reference: name, sha256 and its origin, protocol, N

    @property
    def name(self) -> str:
        """What the distance is called in its feature space: KID, KD_DINOv2, KD_CLIP (dgm-eval's "kd")."""
        label = space_label(self.feature_space)
        return f"KD_{label}" if label else "KID"

    def summary(self) -> str:
        return (
            f"{self.name} = {self.mean:.6f} ± {self.std:.6f} ({self.subsets} subsets of {self.subset_size}, "
            f"seed {self.seed}; {self.n_a} vs {self.n_b} images){against(self.reference)}"
        )


def kernel_inception_distance(
    features_a: np.ndarray, features_b: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> KIDResult:
    """KID: unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, over random subsets, in float64.

    Parameters
    ----------
    features_a, features_b
        N_a x d and N_b x d finite feature vectors (at least `subset_size` each).
    subsets, subset_size, seed
        Each round draws `subset_size` rows of a, then of b, without replacement, from one
        ``numpy.random.RandomState(seed)`` (torch-fidelity's order).

    Returns
    -------
    KIDResult
        Mean and population std over the `subsets` rounds.

    Notes
    -----
    torch-fidelity's defaults, and the usual published protocol, are 100 subsets of 1000.
    """
    values = kid_subset_values(features_a, features_b, subsets=subsets, subset_size=subset_size, seed=seed)
    return KIDResult(
        mean=float(np.mean(values)),
        std=float(np.std(values)),
        subsets=int(subsets),
        subset_size=int(subset_size),
        seed=int(seed),
        n_a=len(features_a),
        n_b=len(features_b),
    )


class KernelDistance(Metric):
    """KID between the samples' and the reference's feature vectors."""

    order = 40
    name = "kid"
    title = "KID"
    about = "unbiased MMD^2 of the feature vectors with the kernel (x.y/d + 1)^3, over random subsets"
    aliases = ("kernel_inception_distance",)
    outputs = ("kernel_inception_distance_mean", "kernel_inception_distance_std")
    samples = (FEATURES,)
    reference = (FEATURES,)
    options = (
        Option("kid_subsets", 100, whole_number(1, MAX_KID_SUBSETS, "100 is the convention"), "random subsets"),
        Option("kid_subset_size", 1000, whole_number(2), "images per subset (each side needs at least as many)"),
        Option("kid_seed", 2020, seed, "seed of the subsets' numpy RandomState"),
    )
    result_type = KIDResult
    default = True
    in_all = True

    def too_few(self, side: str, count: int, options: Any, protocol: str, parts: frozenset[str]) -> str:
        size = options["kid_subset_size"]
        return kid_shortfall(count, "a" if side == "samples" else "b", size) if count < size else ""

    def compute(self, inputs: Inputs) -> KIDResult:
        samples, reference, options = inputs.samples, inputs.reference, inputs.options
        assert reference is not None and samples.features is not None and reference.features is not None
        found = kernel_inception_distance(
            samples.features,
            reference.features,
            subsets=options["kid_subsets"],
            subset_size=options["kid_subset_size"],
            seed=options["kid_seed"],
        )
        notes = []
        if (found.subsets, found.subset_size) != (100, 1000):
            notes.append(
                f"KID with {found.subsets} subsets of {found.subset_size}: published KIDs use 100 subsets of 1000"
            )
        return KIDResult(
            found.mean,
            found.std,
            found.subsets,
            found.subset_size,
            found.seed,
            found.n_a,
            found.n_b,
            a=samples.description,
            b=reference.description,
            reference=catalog(reference.reference, found.n_b),
            warnings=[*inputs.warnings, *notes],
            provenance=inputs.provenance,
        )

    def values(self, result: KIDResult) -> dict[str, Any]:
        label = space_label(result.feature_space)
        prefix = f"kd_{label.lower()}" if label else "kernel_inception_distance"
        return {f"{prefix}_mean": result.mean, f"{prefix}_std": result.std}

    def cards(self, result: KIDResult) -> list[Card]:
        against_text = f" against {result.b}" if result.b else ""
        return [
            Card(
                "kid",
                result.name,
                result.mean,
                f"{result.mean:.5f}",
                f"kernel distance of {features_named(result.feature_space)}{against_text}; lower is better, 0 is "
                "identical.",
                spread=result.std,
                spread_key="kid_std",
                detail=f"{result.subsets} subsets of {result.subset_size}, seed {result.seed}",
            )
        ]


register_metric(KernelDistance())
