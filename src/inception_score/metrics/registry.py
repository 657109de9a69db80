"""The registered metrics, by name: what `evaluate(metrics=...)`, `Evaluator`, the CLI's --metrics, the JSON
keys and the report ask. The package's own metrics register themselves; `register_metric` adds yours."""

from __future__ import annotations

import re
from typing import Any

from ..errors import InceptionScoreError
from .base import Metric, Option

_METRICS: dict[str, Metric] = {}  # by name, in registration order


def register_metric(metric: Metric, *, replace: bool = False) -> Metric:
    """Add `metric` (an instance of a `Metric` subclass) so that every front can compute it by its names.

    Its names, key and options must not clash with another metric's (replace=True swaps in a new
    declaration under the same name). Returns the metric.
    """
    if not isinstance(metric, Metric):
        raise InceptionScoreError(f"register_metric takes an instance of a Metric subclass, got {metric!r}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", metric.name) or metric.name == "all":
        raise InceptionScoreError(
            f"a metric's name is lower-case letters, digits and underscores (not 'all'), got {metric.name!r}"
        )
    for method in ("compute", "values"):
        if getattr(type(metric), method) is getattr(Metric, method):
            raise InceptionScoreError(f"metric {metric.name!r} does not define {method}()")
    if not metric.title:
        raise InceptionScoreError(f"metric {metric.name!r} has no title (what people call it, e.g. 'FID')")
    others = [other for name, other in _METRICS.items() if not (replace and name == metric.name)]
    if metric.name in _METRICS and not replace:
        raise InceptionScoreError(f"a metric named {metric.name!r} is registered already (replace=True swaps it)")
    for other in others:
        clash = set(metric.names()) & set(other.names()) or ({metric.key} & {other.key})
        shared = {option.name for option in metric.options} & {option.name for option in other.options}
        if clash or shared:
            raise InceptionScoreError(
                f"metric {metric.name!r} uses the name(s) {', '.join(sorted(clash | shared))} of metric {other.name!r}"
            )
    _METRICS[metric.name] = metric
    return metric


def registered() -> tuple[Metric, ...]:
    """Every registered metric, by its `order` (then by registration)."""
    return tuple(sorted(_METRICS.values(), key=lambda metric: metric.order))


def metric_named(name: str) -> tuple[Metric, frozenset[str]]:
    """The metric a name asks for, with the parts it asks for (all parts for the metric's own name)."""
    for metric in _METRICS.values():
        if name in metric.names():
            wanted = [part for part, names in metric.parts.items() if name == part or name in names]
            return metric, frozenset(wanted or metric.parts)
    raise InceptionScoreError(f"unknown metric {name!r}; the metrics are {', '.join(all_names())} (or 'all')")


def metric_with_key(key: str) -> Metric | None:
    """The metric whose results are stored under `key` in an Evaluation ("inception_score", "fid", ...)."""
    return next((metric for metric in _METRICS.values() if metric.key == key), None)


def all_names() -> list[str]:
    """The input names of every metric: each metric's name and its parts (what --metrics lists first)."""
    return [name for metric in registered() for name in (list(metric.parts) or [metric.name])]


def option_named(name: str) -> tuple[Metric, Option] | None:
    """The metric that declares option `name`, and the option."""
    for metric in _METRICS.values():
        for option in metric.options:
            if option.name == name:
                return metric, option
    return None


def option_defaults() -> dict[str, Any]:
    """Every registered metric option with its default."""
    return {option.name: option.default for metric in _METRICS.values() for option in metric.options}
