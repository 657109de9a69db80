"""Plan: which metrics, with which options, on which extractor; every check that needs no image.

Metrics are chosen by any of their names (`metrics.registry`); their options are checked by the
declaring metric; each metric runs on the options' classifier or, for a metric of another feature
space (fd_dinov2, fd_clip, cmmd) or one given its own extractor, on a registry extractor of its own
in the same pass over the images. One servability rule decides what the inputs cannot serve: a
metric chosen by name is refused with the reason, one chosen by default or by "all" is left out
with a warning that names it and the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InceptionScoreError
from ..metrics import Metric, all_names, metric_named, option_named, registered
from ..metrics.base import feature_family
from ..options import Options
from ..pipeline.extractors import REGISTRY, Classifier

PROTOCOLS = ("default", "adm")


@dataclass(frozen=True)
class Request:
    """Which metrics (name -> the parts asked for), against what, with which metric options."""

    metrics: Mapping[str, frozenset[str]]
    references: Mapping[str, Any] = field(default_factory=dict)  # metric name -> its reference side
    options: Mapping[str, Any] = field(default_factory=dict)  # every registered metric option, checked
    protocol: str = "default"  # "adm": the ADM evaluator's conventions (see docs/paper-table.md)
    automatic: bool = False  # metrics were not chosen by name: leave out those the inputs cannot serve
    extractors: Mapping[str, str] = field(default_factory=dict)  # metric name -> registry extractor

    def chosen(self) -> list[Metric]:
        return [metric for metric in registered() if metric.name in self.metrics]

    def without(self, left_out: set[str]) -> Request:
        return dataclasses.replace(
            self, metrics={name: parts for name, parts in self.metrics.items() if name not in left_out}
        )


def make_request(
    metrics: Any,
    references: Mapping[str, Any],
    options: Mapping[str, Any],
    *,
    protocol: str = "default",
    extractors: Mapping[str, str] | None = None,
) -> Request:
    """A checked request: `metrics` None (the default choice), "all", names (comma-separated text or a
    sequence); `references`: metric name -> reference for the metrics with one; `options`: metric options."""
    chosen, automatic = choose(metrics)
    if protocol not in PROTOCOLS:
        raise InceptionScoreError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    return Request(
        chosen,
        {name: value for name, value in references.items() if name in chosen and value is not None},
        check_metric_options(options),
        protocol,
        automatic,
        check_extractors(extractors or {}),
    )


def choose(metrics: Any) -> tuple[dict[str, frozenset[str]], bool]:
    """The metrics asked for (name -> parts) and whether they were chosen automatically."""
    if metrics is None or metrics == "all":
        flag = "default" if metrics is None else "in_all"
        return {metric.name: frozenset(metric.parts) for metric in registered() if getattr(metric, flag)}, True
    names = [part.strip() for part in metrics.split(",")] if isinstance(metrics, str) else metrics
    known = {name for metric in registered() for name in metric.names()}
    if not isinstance(names, (tuple, list, set, frozenset)) or not names or not set(names) <= known:
        raise InceptionScoreError(
            f"metrics must be a non-empty choice of {', '.join(all_names())} (or 'all'; an output key such as "
            f"precision or fd_dinov2 asks for its metric); got {metrics!r}"
        )
    chosen: dict[str, frozenset[str]] = {}
    for name in names:
        metric, parts = metric_named(name)
        chosen[metric.name] = chosen.get(metric.name, frozenset()) | parts
    return chosen, False


def check_metric_options(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every registered metric's options: the defaults, with `given` checked by the metric declaring each."""
    options = {option.name: option.default for metric in registered() for option in metric.options}
    for name, value in given.items():
        found = option_named(name)
        if found is None:
            raise InceptionScoreError(f"unknown metric option {name!r}; the options are {', '.join(sorted(options))}")
        found[1].check(value, found[1].label)
        options[name] = value
    return options


def is_metric_option(name: str) -> bool:
    return option_named(name) is not None


def check_extractors(extractors: Mapping[str, str]) -> dict[str, str]:
    """metric -> registry extractor with features; a metric bound to a feature family keeps to it."""
    if not isinstance(extractors, Mapping):
        raise InceptionScoreError(f"extractors maps a metric to a registry extractor name; got {extractors!r}")
    known = {name for metric in registered() for name in metric.names()}
    for name, spec in extractors.items():
        if name not in known:
            raise InceptionScoreError(
                f"extractors maps a metric to a registry extractor name; {name!r} is not a metric "
                f"({', '.join(all_names())})"
            )
        metric, _ = metric_named(name)
        if not isinstance(spec, str) or spec not in REGISTRY or "features" not in REGISTRY[spec].outputs:
            raise InceptionScoreError(
                f"extractors maps a metric to a registry extractor name ({', '.join(REGISTRY)}); got {name!r}: {spec!r}"
            )
        if metric.family is not None and feature_family(spec) != metric.family:
            raise InceptionScoreError(f"{metric.name} is computed on {metric.family} features, not on {spec}'s")
    return {metric_named(name)[0].name: spec for name, spec in extractors.items()}


def extractor_of(metric: Metric, request: Request, options: Options) -> str | None:
    """The registry extractor a metric runs on beside the options' classifier (None: the options' own)."""
    given = options.classifier
    chosen = request.extractors.get(metric.name, metric.space)
    if chosen is None or given == chosen:
        return None
    if metric.name in request.extractors:
        return chosen
    if metric.family is None:
        return chosen if given is None else None  # CMMD on the given classifier's features, else its own network's
    mine = feature_family(named_space(options))  # a Classifier object counts by its name
    return None if mine == feature_family(chosen) else chosen


def named_space(options: Options) -> str:
    """The feature space the options' extractor gives, known before it is loaded (custom modules: "python")."""
    spec = options.classifier
    if spec is None or (isinstance(spec, str) and spec in REGISTRY):
        return spec or "inception-2015"
    return spec.name if isinstance(spec, Classifier) else "python"


def gives(options: Options, output: str) -> bool:
    """Whether the extractor the options name gives an output ("logits", "features", "spatial"), without
    loading it (a TorchScript file or module is taken at its word until it is loaded)."""
    spec = options.classifier
    if spec is None or (isinstance(spec, str) and spec in REGISTRY):
        return output in REGISTRY[spec or "inception-2015"].outputs
    if isinstance(spec, Classifier):
        return output in spec.outputs
    return output != "spatial"


def options_for(options: Options, spec: str, *, weights: Any = None) -> Options:
    """The options for registry extractor `spec` beside the options' own: its contract, these weights
    (None: its environment variable, the cache or a download), the rest (device, batches...) shared."""
    return dataclasses.replace(
        options, classifier=spec, weights=weights, input_size=None, resize=None, normalize=None, channels=None
    )


def passes_of(request: Request, options: Options) -> dict[str | None, list[Metric]]:
    """The metrics of each extractor (None: the options' classifier, first), each extractor's options."""
    passes: dict[str | None, list[Metric]] = {}
    metrics = request.chosen()
    for metric in sorted(metrics, key=lambda metric: (extractor_of(metric, request, options) or "", metric.name)):
        passes.setdefault(extractor_of(metric, request, options), []).append(metric)
    others = [spec for spec in passes if spec is not None]
    # weights are the options' classifier's; with no metric of its own, the one other extractor's
    if options.weights is not None and None not in passes and len(others) > 1:
        raise InceptionScoreError(
            f"weights (--weights) names one file but {', '.join(others)} run here: give each its weights "
            "through its environment variable or the cache (inception-score weights install FILE)"
        )
    return {spec: sorted(found, key=metrics.index) for spec, found in passes.items()}


def pass_options(options: Options, spec: str | None, *, only: bool) -> Options:
    """The options one extractor's pass runs with (a registry extractor of its own: its contract)."""
    if spec is None:
        return options
    return options_for(options, spec, weights=options.weights if only else None)
