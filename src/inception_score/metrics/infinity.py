"""IS-infinity and FID-infinity (Chong & Forsyth 2020): each metric on seeded random subsets of the samples,
fitted as value = intercept + slope / n; the intercepts are the values at infinitely many images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..maths.extrapolation import DEFAULT_POINTS, DEFAULT_SEED, extrapolate
from ..maths.frechet import frechet_of_moments, moments_of
from ..maths.inception import LogProbabilities, split_score
from .base import FEATURES, LOGITS, MOMENTS, Card, Inputs, Metric, Need, Option, Result, against, catalog, seed, whole
from .registry import register_metric


@dataclass(frozen=True)
class InfinityResult(Result):
    """IS-infinity and FID-infinity (Chong & Forsyth 2020): each metric on seeded random subsets of the
    samples, fitted as value = intercept + slope / n; the intercepts, with the points and the fits' RMS
    residuals. IS is taken with one split on each subset; FID against the whole reference."""

    inception_score_infinity: float
    frechet_inception_distance_infinity: float | None
    inception_score_fit: dict[str, Any]  # Extrapolation.to_dict(): sizes, values, slope, rms_residual, seed
    frechet_inception_distance_fit: dict[str, Any] | None
    n_a: int
    n_b: int | None = None
    a: str | None = None
    b: str | None = None
    reference: dict[str, Any] | None = None

    def summary(self) -> str:
        fid = self.frechet_inception_distance_infinity
        fid_text = f", FID-infinity = {fid:.4f}" if fid is not None else ""
        sizes = self.inception_score_fit["sizes"]
        return (
            f"IS-infinity = {self.inception_score_infinity:.4f}{fid_text} "
            f"(fit over {len(sizes)} subsets of {sizes[0]} to {sizes[-1]} images){against(self.reference)}"
        )


class Infinity(Metric):
    """IS-infinity of the samples' logits, and FID-infinity against a reference's moments when one is given."""

    order = 60
    name = "inf"
    field = "infinity"
    title = "IS-infinity/FID-infinity"
    about = "IS and FID extrapolated to infinitely many images from seeded subsets (Chong & Forsyth 2020)"
    aliases = ("infinity",)
    outputs = ("inception_score_infinity", "frechet_inception_distance_infinity")
    samples = (LOGITS, FEATURES)
    reference = (MOMENTS,)
    reference_optional = True
    options = (
        Option("infinity_points", DEFAULT_POINTS, whole(2), "subset sizes of the fit (Chong & Forsyth use 15)"),
        Option("infinity_seed", DEFAULT_SEED, seed, "seed of the subsets' numpy RandomState"),
    )
    minimum = (3, 2)  # two subset sizes of at least 2 images; the reference's covariance
    result_type = InfinityResult
    in_all = True

    def needs(self, parts: frozenset[str], has_reference: bool) -> tuple[tuple[Need, ...], tuple[Need, ...]]:
        return (self.samples, self.reference or ()) if has_reference else ((LOGITS,), ())

    def compute(self, inputs: Inputs) -> InfinityResult:
        samples, reference, options = inputs.samples, inputs.reference, inputs.options
        assert samples.logits is not None
        log_probs = LogProbabilities.of_logits(samples.logits)
        count, points, drawn = len(samples.logits), options["infinity_points"], options["infinity_seed"]
        inception = extrapolate(lambda rows: split_score(log_probs.rows(rows)), count, points=points, seed=drawn)
        frechet = None
        if reference is not None:
            features, moments = samples.features, reference.moments
            assert features is not None and moments is not None
            frechet = extrapolate(
                lambda rows: frechet_of_moments(moments_of(features[rows]), moments), count, points=points, seed=drawn
            )
        n_b = reference.moments.n if reference is not None and reference.moments is not None else None
        return InfinityResult(
            inception.intercept,
            frechet.intercept if frechet is not None else None,
            inception.to_dict(),
            frechet.to_dict() if frechet is not None else None,
            n_a=count,
            n_b=n_b,
            a=samples.description,
            b=reference.described(("mu", "sigma")) if reference is not None else None,
            reference=catalog(reference.reference, n_b) if reference is not None else None,
            warnings=list(inputs.warnings),
            provenance=inputs.provenance,
        )

    def values(self, result: InfinityResult) -> dict[str, Any]:
        found = {"inception_score_infinity": result.inception_score_infinity}
        if result.frechet_inception_distance_infinity is not None:
            found["frechet_inception_distance_infinity"] = result.frechet_inception_distance_infinity
        return found

    def cards(self, result: InfinityResult) -> list[Card]:
        sizes = result.inception_score_fit["sizes"]
        fit = f"fit over {len(sizes)} subsets of {sizes[0]} to {sizes[-1]} images"
        cards = [
            Card(
                "inception_score_infinity",
                "IS-infinity",
                result.inception_score_infinity,
                f"{result.inception_score_infinity:.4f}",
                "the one-split IS extrapolated to infinitely many images (free of the small-N bias); higher is better.",
                detail=f"{fit}, RMS residual {result.inception_score_fit['rms_residual']:.3g}",
                group="score",
            )
        ]
        if result.frechet_inception_distance_infinity is not None and result.frechet_inception_distance_fit:
            cards.append(
                Card(
                    "frechet_inception_distance_infinity",
                    "FID-infinity",
                    result.frechet_inception_distance_infinity,
                    f"{result.frechet_inception_distance_infinity:.4f}",
                    "FID extrapolated to infinitely many samples against the whole reference; lower is better.",
                    detail=f"{fit}, RMS residual {result.frechet_inception_distance_fit['rms_residual']:.3g}",
                )
            )
        return cards


register_metric(Infinity())
