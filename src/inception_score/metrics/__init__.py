"""Metrics as declared objects, one module per metric or family, and their registry.

A declaration (`base.Metric`) says everything the rest of the package needs: its names (every output
key is also an input name), the states it needs of each side (an extractor output as rows or streamed
moments, each with its reduction across ranks), its options and their checks, its minimum N, its
computation (a pure function of `maths/`), its result type and its report cards. The engine's plan,
`evaluate`, `Evaluator`, the CLI's --metrics, the JSON and the report read the registry.
"""

import importlib
import pkgutil

from .base import FEATURES, LOGITS, MOMENTS, SPATIAL_MOMENTS, Card, Inputs, Metric, Need, Option, Provenance, Result
from .base import SideData as SideData
from .evaluation import Evaluation
from .registry import all_names, metric_named, option_named, register_metric, registered

# Every module of this package but the framework's declares and registers its metrics (one file a metric).
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "evaluation", "registry"):
        importlib.import_module(f"{__name__}.{_module.name}")

from .cmmd import CMMDResult  # noqa: E402  (the result types, for `from inception_score.metrics import ...`)
from .frechet import FIDResult, SFIDResult  # noqa: E402
from .inception import ISResult  # noqa: E402
from .infinity import InfinityResult  # noqa: E402
from .kernel import KIDResult  # noqa: E402
from .manifold import ManifoldResult  # noqa: E402
from .mind import MINDResult  # noqa: E402
from .vendi import VendiResult  # noqa: E402

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
