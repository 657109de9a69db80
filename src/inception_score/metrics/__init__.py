"""Metrics as declared objects, one module per metric or family, and their registry.

A declaration (`base.Metric`) says everything the rest of the package needs: its names (every output
key is also an input name), the states it needs of each side (an extractor output as rows or streamed
moments, each with its reduction across ranks), its options and their checks, its minimum N, its
computation (a pure function of `maths/`), its result type and its report cards. The engine's plan,
`evaluate`, `Evaluator`, the CLI's --metrics, the JSON and the report read the registry.
"""

from .base import FEATURES, LOGITS, MOMENTS, SPATIAL_MOMENTS, Card, Inputs, Metric, Need, Option, Provenance, Result
from .base import SideData as SideData
from .cmmd import CMMDMetric, CMMDResult
from .evaluation import Evaluation
from .frechet import CLIPDistance, DINOv2Distance, FIDResult, FrechetDistance, SFIDResult, SpatialFrechetDistance
from .inception import InceptionScoreMetric, ISResult
from .infinity import Infinity, InfinityResult
from .kernel import KernelDistance, KIDResult
from .manifold import Manifold, ManifoldResult
from .mind import MIND, MINDResult
from .registry import all_names, metric_named, option_named, register_metric, registered
from .vendi import Vendi, VendiResult

for _declaration in (
    InceptionScoreMetric(),
    FrechetDistance(),
    SpatialFrechetDistance(),
    KernelDistance(),
    Manifold(),
    Infinity(),
    DINOv2Distance(),
    CLIPDistance(),
    CMMDMetric(),
    Vendi(),
    MIND(),
):
    register_metric(_declaration)

__all__ = [
    "FEATURES",
    "LOGITS",
    "MOMENTS",
    "SPATIAL_MOMENTS",
    "CMMDResult",
    "Card",
    "Evaluation",
    "FIDResult",
    "ISResult",
    "InfinityResult",
    "Inputs",
    "KIDResult",
    "MINDResult",
    "ManifoldResult",
    "Metric",
    "Need",
    "Option",
    "Provenance",
    "Result",
    "SFIDResult",
    "SideData",
    "VendiResult",
    "all_names",
    "metric_named",
    "option_named",
    "register_metric",
    "registered",
]
