"""Evaluation: the results of one evaluation, a mapping from each registered metric's key to its result."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import InceptionScoreError
from .registry import metric_with_key, registered


class Evaluation(Mapping[str, Any]):
    """The metrics computed together by `evaluate` or `Evaluator.compute`, by key ("inception_score", "fid",
    "kid", "sfid", "manifold", "infinity", "cmmd", "fd_dinov2", "fd_clip", "vendi", "mind", and those of
    metrics you registered), in the registry's order; `evaluation.fid` is the FID result or None.
    """

    def __init__(self, results: Mapping[str, Any] | None = None, *, protocol: str = "default", **by_key: Any):
        given = {**(results or {}), **by_key}
        unknown = sorted(key for key in given if metric_with_key(key) is None)
        if unknown:
            keys = ", ".join(metric.key for metric in registered())
            raise InceptionScoreError(
                f"no registered metric stores its result under {', '.join(unknown)}; keys: {keys}"
            )
        self._results = {metric.key: given[metric.key] for metric in registered() if given.get(metric.key) is not None}
        self.protocol = protocol

    def __getitem__(self, key: str) -> Any:
        return self._results[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or metric_with_key(name) is None:
            raise AttributeError(name)
        return self._results.get(name)

    def __repr__(self) -> str:
        return f"Evaluation({self._results!r}, protocol={self.protocol!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Evaluation) and (self._results, self.protocol) == (other._results, other.protocol)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """IS fields at the top level (as `inception-score score --json`), every other result under its key
        ("fid", "kid", "sfid", "manifold", "infinity", ...). For torch-fidelity's flat key names use
        `metrics_dict()`."""
        out = self["inception_score"].to_dict() if "inception_score" in self else {}
        out.update((key, result.to_dict()) for key, result in self.items() if key != "inception_score")
        return out

    def metrics_dict(self) -> dict[str, Any]:
        """One flat dict of the numbers under torch-fidelity's key names where it has the metric
        (`inception_score_mean`, `frechet_inception_distance`, `precision`, ...), ours for the rest
        (`fd_dinov2`, `fd_clip`, `cmmd`, `spatial_frechet_inception_distance`, `density`, `coverage`,
        `inception_score_infinity`, `frechet_inception_distance_infinity`, `vendi_score`,
        `monge_inception_distance`), the protocol, and every full result under `details`. In another feature
        space than Inception's the keys say it: FID is `fd_dinov2` / `fd_clip`, KID `kd_dinov2_mean` /
        `kd_dinov2_std`, precision `precision_dinov2`..."""
        out: dict[str, Any] = {}
        for key, result in self.items():
            metric = metric_with_key(key)
            assert metric is not None
            out.update(metric.values(result))
        out["protocol"] = self.protocol
        out["details"] = {key: result.to_dict() for key, result in self.items()}
        return out

    @property
    def warnings(self) -> list[str]:
        """Every warning of every result, once."""
        return list(dict.fromkeys(warning for result in self.values() for warning in result.warnings))

    def summary(self) -> str:
        """One line per result."""
        return "\n".join(result.summary() for result in self.values())
