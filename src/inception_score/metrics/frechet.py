"""The Fréchet distances: FID (pool3 of the 2015 network), FD_DINOv2 and FD_CLIP (the same distance in
another extractor's feature space), and sFID (ADM's spatial features), from streamed moments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..maths.frechet import Moments, frechet_of_moments, moments_of
from .base import (
    MOMENTS,
    SPATIAL_MOMENTS,
    Card,
    Inputs,
    Metric,
    Result,
    against,
    catalog,
    count,
    features_named,
    small_set_warning,
    space_label,
)
from .registry import register_metric


@dataclass(frozen=True)
class FIDResult(Result):
    """A Fréchet Inception Distance, with the size and origin of both sides."""

    fid: float
    n_a: int | None
    n_b: int | None
    a: str | None = None
    b: str | None = None
    reference: dict[str, Any] | None = None  # catalog reference: name, sha256 and its origin, protocol, N

    @property
    def name(self) -> str:
        """What the distance is called in its feature space: FID, FD_DINOv2, FD_CLIP."""
        return frechet_name(self.feature_space)

    def summary(self) -> str:
        return f"{self.name} = {self.fid:.4f} ({count(self.n_a)} vs {count(self.n_b)} images){against(self.reference)}"


@dataclass(frozen=True)
class SFIDResult(Result):
    """A spatial FID (Nash et al. 2021, as ADM computes it): the Fréchet distance of the 2015 network's
    Mixed_6d.branch1x1 features (first 7 channels, 17 x 17 x 7 = 2023 values in H, W, C order)."""

    sfid: float
    n_a: int | None
    n_b: int | None
    a: str | None = None
    b: str | None = None
    reference: dict[str, Any] | None = None
    features: str = "Mixed_6d.branch1x1 after batch norm and ReLU, channels [:7], H x W x C = 17 x 17 x 7 = 2023"

    def summary(self) -> str:
        return f"sFID = {self.sfid:.4f} ({count(self.n_a)} vs {count(self.n_b)} images){against(self.reference)}"


def fid_from_moments(a: Moments, b: Moments) -> FIDResult:
    """FID between two sets summarised by their moments (see `frechet_distance`).

    Parameters
    ----------
    a, b
        Mean, covariance (ddof=1) and count of each set.

    Returns
    -------
    FIDResult
    """
    return FIDResult(fid=frechet_of_moments(a, b), n_a=a.n, n_b=b.n)


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray) -> FIDResult:
    """FID between two N x d arrays of feature vectors (pool3 for the standard FID).

    Parameters
    ----------
    features_a, features_b
        N_a x d and N_b x d finite feature vectors (N >= 2 each).

    Returns
    -------
    FIDResult
        The distance in float64, never NaN, with the two counts.
    """
    return fid_from_moments(moments_of(features_a), moments_of(features_b))


def frechet_name(feature_space: str | None) -> str:
    """FID in Inception's (or a custom module's) feature space, FD_DINOv2 / FD_CLIP in those."""
    label = space_label(feature_space)
    return f"FD_{label}" if label else "FID"


class FrechetDistance(Metric):
    """The Fréchet distance between the feature moments of the samples and of the reference."""

    order = 20
    name = "fid"
    title = "FID"
    about = "the Fréchet distance of the feature vectors' means and covariances (Heusel et al. 2017)"
    outputs = ("frechet_inception_distance",)
    samples = (MOMENTS,)
    reference = (MOMENTS,)
    minimum = (2, 2)
    result_type = FIDResult
    default = True
    in_all = True

    def compute(self, inputs: Inputs) -> FIDResult:
        samples, reference = inputs.samples, inputs.reference
        assert reference is not None and samples.moments is not None and reference.moments is not None
        found = fid_from_moments(samples.moments, reference.moments)
        return FIDResult(
            found.fid,
            found.n_a,
            found.n_b,
            a=samples.description,
            b=reference.described(("mu", "sigma")),
            reference=catalog(reference.reference, found.n_b),
            warnings=[
                *inputs.warnings,
                *small_set_warning(frechet_name(inputs.provenance.feature_space), found.n_a, found.n_b),
            ],
            provenance=inputs.provenance,
        )

    def values(self, result: FIDResult) -> dict[str, Any]:
        label = space_label(result.feature_space)
        return {f"fd_{label.lower()}" if label else "frechet_inception_distance": result.fid}

    def cards(self, result: FIDResult) -> list[Card]:
        return [
            Card(
                self.key,
                result.name,
                result.fid,
                f"{result.fid:.4f}",
                f"Fréchet distance of {features_named(result.feature_space)}{_against_text(result.b)}; lower is "
                "better, 0 is identical.",
                detail=f"{count(result.n_a)} vs {count(result.n_b)} images",
            )
        ]


class DINOv2Distance(FrechetDistance):
    """FD_DINOv2: the Fréchet distance on DINOv2 ViT-L/14 features (EDM2's protocol)."""

    order = 70
    name = "fd_dinov2"
    title = "FD_DINOv2"
    about = "the Fréchet distance on DINOv2 features (ViT-L/14 by default; EDM2's protocol)"
    outputs = ("fd_dinov2",)
    space = "dinov2-vitl14"
    family = "dinov2"
    default = in_all = False

    def values(self, result: FIDResult) -> dict[str, Any]:
        return {self.name: result.fid}


class CLIPDistance(DINOv2Distance):
    """FD_CLIP: the Fréchet distance on CLIP ViT-B/32 image embeddings (clean-fid's FD_CLIP)."""

    order = 80
    name = "fd_clip"
    title = "FD_CLIP"
    about = "the Fréchet distance on CLIP image embeddings (ViT-B/32 by default)"
    outputs = ("fd_clip",)
    space = "clip-vit-b-32"
    family = "clip"


class SpatialFrechetDistance(Metric):
    """sFID: the Fréchet distance of the 2015 network's spatial features, as ADM computes it."""

    order = 30
    name = "sfid"
    title = "sFID"
    about = "the Fréchet distance of the 2015 network's Mixed_6d spatial features (Nash et al. 2021; ADM)"
    outputs = ("spatial_frechet_inception_distance",)
    samples = (SPATIAL_MOMENTS,)
    reference = (SPATIAL_MOMENTS,)
    minimum = (2, 2)
    result_type = SFIDResult
    in_all = True

    def compute(self, inputs: Inputs) -> SFIDResult:
        samples, reference = inputs.samples, inputs.reference
        assert reference is not None and samples.spatial_moments is not None and reference.spatial_moments is not None
        found = fid_from_moments(samples.spatial_moments, reference.spatial_moments)
        return SFIDResult(
            found.fid,
            found.n_a,
            found.n_b,
            a=samples.description,
            b=reference.described(("mu_s", "sigma_s")),
            reference=catalog(reference.reference, found.n_b),
            warnings=[*inputs.warnings, *small_set_warning("sFID", found.n_a, found.n_b)],
            provenance=inputs.provenance,
        )

    def values(self, result: SFIDResult) -> dict[str, Any]:
        return {"spatial_frechet_inception_distance": result.sfid}

    def cards(self, result: SFIDResult) -> list[Card]:
        return [
            Card(
                "sfid",
                "sFID",
                result.sfid,
                f"{result.sfid:.4f}",
                f"Fréchet distance of the spatial Mixed_6d features{_against_text(result.b)}: sensitive to "
                "layout and texture; lower is better, 0 is identical.",
                detail=f"{count(result.n_a)} vs {count(result.n_b)} images",
            )
        ]


def _against_text(described: str | None) -> str:
    return f" against {described}" if described else ""


register_metric(FrechetDistance())
register_metric(SpatialFrechetDistance())
register_metric(DINOv2Distance())
register_metric(CLIPDistance())
