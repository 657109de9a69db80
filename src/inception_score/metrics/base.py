"""What a metric declaration is made of: the states it needs of each side, its options, the data its
computation receives, the provenance every result carries, and the cards the report shows."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import InceptionScoreError
from ..maths.frechet import Moments
from ..maths.limits import check_cost, check_seed, check_whole

SMALL_N = 5000  # below this a score is flagged as not comparable to published 50k-image scores

# The states a side can hold, by what they keep of an extractor output and how ranks combine them.
REDUCTIONS = {"rows": "gathered to rank 0 in rank order", "moments": "summed (float64, common shift)"}


@dataclass(frozen=True)
class Need:
    """What a metric needs of one side: an extractor output ("logits", "features" or "spatial") kept as
    "rows" (every image's vector; grows with N) or as streamed "moments" (mean and covariance; O(d^2))."""

    output: str
    kind: str = "rows"

    def __post_init__(self) -> None:
        if self.output not in ("logits", "features", "spatial") or self.kind not in REDUCTIONS:
            raise InceptionScoreError(
                f"a Need is an output (logits, features, spatial) and a kind (rows, moments); got {self!r}"
            )
        if (self.output, self.kind) in (("logits", "moments"), ("spatial", "rows")):
            raise InceptionScoreError(f"{self.output} {self.kind} are not a state an extractor pass keeps")

    @property
    def state(self) -> str:
        """The state's name: "logits", "features", "moments" (of the features) or "spatial_moments"."""
        return {"logits": "logits", "features": "features" if self.kind == "rows" else "moments"}.get(
            self.output, "spatial_moments"
        )


LOGITS, FEATURES, MOMENTS, SPATIAL_MOMENTS = (
    Need("logits"),
    Need("features"),
    Need("features", "moments"),
    Need("spatial", "moments"),
)


@dataclass(frozen=True)
class Option:
    """A metric option: its keyword (evaluate's, Evaluator's), default, check and command-line flag.

    check(value, label) raises InceptionScoreError naming `label` ("kid_subsets (--kid-subsets)").
    """

    name: str
    default: Any
    check: Callable[[Any, str], None]
    about: str = ""
    flag: str = ""  # the command line's flag when it is not --name-with-dashes

    @property
    def label(self) -> str:
        return f"{self.name} ({self.flag or '--' + self.name.replace('_', '-')})"


def whole(least: int, limit: int | None = None, advice: str = "") -> Callable[[Any, str], None]:
    """An option check: a whole number >= least (and <= limit, with advice, when given)."""

    def check(value: Any, label: str) -> None:
        check_whole(value, label, least)
        if limit is not None:
            check_cost(value, limit, label, advice)

    return check


def seed(value: Any, label: str) -> None:
    """An option check: a seed numpy accepts."""
    check_seed(value, label)


@dataclass(frozen=True)
class Provenance:
    """Where a result's numbers come from, shared by every result of one extractor's pass."""

    weights_sha256: str | None = None
    reference_weights: bool | None = None
    pipeline_version: str | None = None
    world_size: int = 1  # processes (torch.distributed ranks) that extracted the features
    sample_seed: int | None = None  # a callable's draws: global generators seeded with sample_seed + rank
    feature_space: str | None = None  # the extractor: "inception-2015", "dinov2-vitl14", ...
    classifier: dict[str, Any] | None = None  # name, identity, input contract, logits (Classifier.describe())
    arithmetic: str | None = None  # the network's: "float32" (exact), or "float16+tf32" (fast mode on CUDA)


@dataclass(frozen=True)
class SideData:
    """One side as a metric sees it after extraction (immutable): its description, count, and the states
    the metrics asked for (None where not asked)."""

    description: str
    count: int | None = None
    logits: np.ndarray | None = None
    features: np.ndarray | None = None
    moments: Moments | None = None
    spatial_moments: Moments | None = None
    names: list[str] | None = None
    skipped: tuple[str, ...] = ()
    cached: int = 0
    from_file: tuple[str, ...] = ()  # statistics taken from the file itself (an ADM batch's mu, sigma...)
    reference: dict[str, Any] | None = None  # a catalog reference: name, sha256 and its origin, protocol, N

    def described(self, keys: tuple[str, ...] = ("mu", "sigma")) -> str:
        """The description, saying when the statistics named by `keys` came from the file."""
        if keys[0] in self.from_file:
            return f"{self.description} ({', '.join(keys)} from the file)"
        return self.description


@dataclass(frozen=True)
class Inputs:
    """Everything one metric's computation receives."""

    samples: SideData
    reference: SideData | None
    options: Mapping[str, Any]
    parts: frozenset[str]
    protocol: str
    provenance: Provenance
    warnings: tuple[str, ...] = ()  # what applies to every result of this pass (weights, files, the run)


@dataclass(frozen=True)
class Card:
    """One number as the report shows it: a label, the value, how to read it."""

    key: str  # data-metric of the card (tests and scripts find the value by it)
    label: str
    value: float
    shown: str  # the value as printed
    meaning: str
    spread: float | None = None  # a ± value (KID's std, IS's std)
    spread_key: str = ""  # data-metric of the ± value
    detail: str = ""
    group: str = "distance"  # "score", "diversity", "confidence", "distance", "neutral"


@dataclass(frozen=True, kw_only=True)
class Result:
    """A metric's result: its own fields, the warnings that apply, and the shared provenance record.

    `to_dict()` flattens the provenance into the result's dict (the keys results have always had:
    weights_sha256, reference_weights, pipeline_version, world_size, sample_seed, feature_space...).
    """

    warnings: list[str] = field(default_factory=list)
    provenance: Provenance = field(default_factory=Provenance)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict with the same names as the attributes; per-image `details` are left out."""
        data = {
            item.name: _plain(getattr(self, item.name))
            for item in dataclasses.fields(self)
            if item.repr and item.name != "provenance"
        }
        data.update(dataclasses.asdict(self.provenance))
        return data

    @property
    def weights_sha256(self) -> str | None:
        return self.provenance.weights_sha256

    @property
    def reference_weights(self) -> bool | None:
        return self.provenance.reference_weights

    @property
    def pipeline_version(self) -> str | None:
        return self.provenance.pipeline_version

    @property
    def world_size(self) -> int:
        return self.provenance.world_size

    @property
    def sample_seed(self) -> int | None:
        return self.provenance.sample_seed

    @property
    def feature_space(self) -> str | None:
        return self.provenance.feature_space

    @property
    def classifier(self) -> dict[str, Any] | None:
        return self.provenance.classifier

    def summary(self) -> str:
        raise NotImplementedError


def _plain(value: Any) -> Any:
    """Dataclasses, numpy scalars and arrays as plain JSON-safe values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {key: _plain(item) for key, item in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def finite_or_none(value: float | None) -> float | None:
    """A float for JSON: None for a value that is not finite (JSON has no infinity)."""
    return None if value is None or not math.isfinite(value) else float(value)


class Metric:
    """A metric's declaration: names, output keys, what it needs of each side, options, minimum N, the
    computation (a pure function of `maths/` on the extracted states), its result and its report cards.

    Subclass it and give an instance to `register_metric` (see docs/extending.md). The engine,
    `evaluate`, `Evaluator`, the CLI's --metrics, the JSON keys and the report all read these.
    """

    name: ClassVar[str] = ""  # the input name: metrics=("fid",)
    field: ClassVar[str] = ""  # the Evaluation key and the to_dict() key (default: name)
    title: ClassVar[str] = ""  # how people call it: "FID"
    about: ClassVar[str] = ""  # one line: what it measures
    aliases: ClassVar[tuple[str, ...]] = ()  # other input names (its output keys are input names too)
    outputs: ClassVar[tuple[str, ...]] = ()  # keys of Evaluation.metrics_dict() (torch-fidelity's where it has them)
    parts: ClassVar[Mapping[str, tuple[str, ...]]] = {}  # parts chosen by name (precision/recall, density/coverage)
    samples: ClassVar[tuple[Need, ...]] = (FEATURES,)
    reference: ClassVar[tuple[Need, ...] | None] = None  # None: no reference side
    reference_optional: ClassVar[bool] = False  # computed without a reference too (IS-infinity)
    options: ClassVar[tuple[Option, ...]] = ()
    space: ClassVar[str | None] = None  # the registry extractor it runs on when the classifier is not of `family`
    family: ClassVar[str | None] = None  # the feature family it must be computed in ("dinov2"); None: any
    result_type: ClassVar[type] = Result
    default: ClassVar[bool] = False  # in evaluate's default choice (is, fid, kid)
    in_all: ClassVar[bool] = False  # in metrics="all" (the Inception metrics of the paper table)
    minimum: ClassVar[tuple[int, int]] = (1, 1)  # images needed on the samples' and the reference's side
    order: ClassVar[int] = 1000  # where it comes in JSON, summaries and the report (the package's: 10, 20, ...)

    @property
    def key(self) -> str:
        return self.field or self.name

    def names(self) -> tuple[str, ...]:
        """Every name that asks for this metric: its name, aliases, output keys and parts."""
        return tuple(dict.fromkeys((self.name, *self.aliases, *self.outputs, *self.parts)))

    def title_of(self, parts: frozenset[str]) -> str:
        """What the metric is called for these parts (precision/recall for the manifold metrics' "pr")."""
        return self.title

    def needs(self, parts: frozenset[str], has_reference: bool) -> tuple[tuple[Need, ...], tuple[Need, ...]]:
        """What the samples' side and the reference side must hold for these parts."""
        return self.samples, (self.reference or ()) if has_reference else ()

    def too_few(self, side: str, count: int, options: Mapping[str, Any], protocol: str, parts: frozenset[str]) -> str:
        """Why `count` images on `side` ("samples" or "reference") are too few, or "" when they suffice."""
        least = self.minimum[0 if side == "samples" else 1]
        if count >= least:
            return ""
        return f"{self.title} needs at least {least} images on the {side}' side, got {count}"

    def compute(self, inputs: Inputs) -> Any:
        """The result, from the extracted states (called on rank 0 under torch.distributed)."""
        raise NotImplementedError

    def values(self, result: Any) -> dict[str, Any]:
        """The result's numbers under the metric's output keys (Evaluation.metrics_dict())."""
        raise NotImplementedError

    def cards(self, result: Any) -> list[Card]:
        """How the report shows the result (the IS's own sections are the report's)."""
        return []


# Feature spaces other than Inception's, by the prefix of their extractor's name, as papers label them.
SPACE_LABELS = {"dinov2": "DINOv2", "clip": "CLIP"}


def feature_family(feature_space: str | None) -> str | None:
    """The family of an extractor name ("dinov2-vitl14" -> "dinov2", "clip-vit-b-32" -> "clip",
    "inception-2015" and "torchvision" -> "inception"); None for a custom module or an unknown space."""
    if feature_space in ("inception-2015", "torchvision"):
        return "inception"
    prefix = (feature_space or "").split("-")[0]
    return prefix if prefix in SPACE_LABELS else None


def space_label(feature_space: str | None) -> str | None:
    """The label papers give a feature space other than Inception's ("DINOv2", "CLIP"); None for Inception's
    (and a custom module's), whose metrics keep their usual names (FID, KID, precision...)."""
    family = feature_family(feature_space)
    return SPACE_LABELS[family] if family in SPACE_LABELS else None


def space_key(name: str, feature_space: str | None) -> str:
    """A metric's key in a flat dict, suffixed with the feature space when it is not Inception's
    ("precision" -> "precision_dinov2")."""
    family = feature_family(feature_space)
    return f"{name}_{family}" if family in SPACE_LABELS else name


def features_named(feature_space: str | None) -> str:
    """What a report or message calls the compared vectors: "pool3 features", "dinov2-vitl14 features"."""
    if feature_space in (None, "inception-2015", "torchvision"):
        return "pool3 features"
    return f"{feature_space} features"


def count(n: int | None) -> str:
    return "?" if n is None else str(n)


def against(reference: dict[str, Any] | None) -> str:
    """The reference part of a summary line: catalog name, protocol, sha256 (so two users can compare)."""
    if reference is None:
        return ""
    return f" vs reference {reference['catalog_name']} [{reference['protocol']}, sha256 {reference['sha256']}]"


def catalog(reference: dict[str, Any] | None, n: int | None) -> dict[str, Any] | None:
    """A catalog reference's provenance with the number of images this result compared."""
    return None if reference is None else {**reference, "n": n if n is not None else reference["n"]}


def small_set_warning(name: str, n_a: int | None, n_b: int | None, biased: str = "upwards") -> list[str]:
    """The warning for a distance from fewer than SMALL_N images on a side, naming the distance."""
    sizes = [n for n in (n_a, n_b) if n is not None]
    if sizes and min(sizes) < SMALL_N:
        return [
            f"{name} from {count(n_a)} vs {count(n_b)} images: {name} is biased {biased} for small sets; "
            "compare only numbers computed with the same numbers of images (50,000 is the convention)"
        ]
    return []
