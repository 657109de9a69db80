"""The metric declarations: one registry every front asks; names, options, one servability rule, extension."""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import run_cli

from inception_score import Evaluation, InceptionScoreError, Metric, Need, Option, evaluate, register_metric
from inception_score.errors import InceptionScoreWarning
from inception_score.metrics import Result, metric_named, registered
from inception_score.metrics.base import Card, whole
from inception_score.metrics.registry import _METRICS


def test_every_output_key_is_also_an_input_name():
    for metric in registered():
        for name in metric.names():
            assert metric_named(name)[0] is metric, name
    assert metric_named("precision") == (metric_named("pr")[0], frozenset({"pr"}))
    assert metric_named("coverage")[1] == frozenset({"dc"}) and metric_named("manifold")[1] == {"pr", "dc"}
    assert metric_named("monge_inception_distance")[0].name == "mind"
    keys = [metric.key for metric in registered()]
    assert len(keys) == len(set(keys))


def test_names_and_options_of_the_package_metrics():
    names = {metric.name: metric for metric in registered()}
    assert list(names)[:6] == ["is", "fid", "sfid", "kid", "manifold", "inf"]
    assert {"fd_dinov2", "fd_clip", "cmmd", "vendi", "mind"} <= set(names)
    assert [option.name for option in names["mind"].options] == ["mind_num_projections", "mind_seed"]
    assert names["mind"].options[0].default == 1000 and names["kid"].options[1].default == 1000


@pytest.fixture(scope="module")
def twenty(data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("twenty")
    for name in "ab":
        (folder / name).mkdir()
        for path in sorted((data / "images" / name).glob("*.png"))[:20]:
            shutil.copy(path, folder / name / path.name)
    return folder


def test_the_default_and_all_leave_out_what_the_inputs_cannot_serve_the_same_way(twenty, weights_path):
    common = dict(reference=twenty / "b", weights=weights_path, progress=False, splits=2)
    for metrics in (None, "all"):
        with pytest.warns(InceptionScoreWarning, match=r"only \(KID: .*KID subsets of 1000 need at least 1000"):
            found = evaluate(twenty / "a", metrics=metrics, **common)
        assert found.kid is None and found.fid is not None and found.inception_score is not None
    with pytest.raises(InceptionScoreError, match="KID subsets of 1000 need at least 1000 images"):
        evaluate(twenty / "a", metrics=("is", "kid"), **common)


def test_metrics_asked_for_by_their_output_names(twenty, weights_path):
    found = evaluate(
        twenty / "a",
        reference=twenty / "b",
        metrics=("is", "frechet_inception_distance", "precision"),
        weights=weights_path,
        progress=False,
        splits=2,
    )
    keys = found.metrics_dict()
    assert {"inception_score_mean", "frechet_inception_distance", "precision", "recall", "f_score"} <= set(keys)
    assert "density" not in keys and found.manifold.metrics == ["pr"]


def test_unknown_names_and_bad_options_are_refused_with_the_choices(twenty, weights_path):
    with pytest.raises(InceptionScoreError, match="metrics must be a non-empty choice of is, fid"):
        evaluate(twenty / "a", metrics=("lpips",), weights=weights_path)
    with pytest.raises(InceptionScoreError, match=r"mind_num_projections \(--mind-num-projections\) must be"):
        evaluate(twenty / "a", reference=twenty / "b", metrics=("mind",), mind_num_projections=0)


@dataclass(frozen=True)
class CentroidResult(Result):
    distance: float
    n_a: int
    n_b: int

    def summary(self) -> str:
        return f"centroid distance = {self.distance:.4f}"


class CentroidDistance(Metric):
    """A test metric: the distance between the two sides' mean feature vectors, from streamed moments."""

    name = "centroid_test"
    title = "centroid distance"
    about = "distance between the mean feature vectors"
    outputs = ("centroid_test_distance",)
    samples = (Need("features", "moments"),)
    reference = (Need("features", "moments"),)
    options = (Option("centroid_test_scale", 1, whole(1)),)
    minimum = (2, 2)

    def compute(self, inputs: Any) -> CentroidResult:
        a, b = inputs.samples.moments, inputs.reference.moments
        scale = inputs.options["centroid_test_scale"]
        distance = scale * float(np.linalg.norm(a.mean - b.mean))
        return CentroidResult(distance, a.n, b.n, warnings=list(inputs.warnings), provenance=inputs.provenance)

    def values(self, result: CentroidResult) -> dict[str, Any]:
        return {"centroid_test_distance": result.distance}

    def cards(self, result: CentroidResult) -> list[Card]:
        return [Card("centroid_test", "Centroid", result.distance, f"{result.distance:.3f}", "lower is closer")]


@pytest.fixture
def centroid():
    metric = register_metric(CentroidDistance())
    yield metric
    del _METRICS[metric.name]


def test_a_metric_registered_from_outside_runs_everywhere(centroid, twenty, weights_path, tmp_path):
    found = evaluate(
        twenty / "a",
        reference=twenty / "b",
        metrics=("fid", "centroid_test"),
        centroid_test_scale=2,
        weights=weights_path,
        progress=False,
    )
    moments_a = found.fid  # the same pass: FID's moments and the centroid's are the same state
    assert found.centroid_test.distance > 0 and found["centroid_test"].n_a == moments_a.n_a
    assert found.metrics_dict()["centroid_test_distance"] == found.centroid_test.distance
    assert "weights_sha256" in found.to_dict()["centroid_test"]
    done = run_cli(
        "evaluate",
        twenty / "a",
        "--ref",
        twenty / "b",
        "--metrics",
        "centroid_test",
        "--weights",
        weights_path,
        "--quiet",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert '"centroid_test_distance"' in done.stdout


def test_registering_refuses_clashes_and_incomplete_declarations(centroid):
    with pytest.raises(InceptionScoreError, match="registered already"):
        register_metric(CentroidDistance())

    class Clash(CentroidDistance):
        name = "other_test"
        outputs = ("precision",)

    with pytest.raises(InceptionScoreError, match="uses the name"):
        register_metric(Clash())

    class Empty(Metric):
        name = "empty_test"
        title = "empty"

    with pytest.raises(InceptionScoreError, match="does not define compute"):
        register_metric(Empty())


def test_an_evaluation_is_a_mapping_of_results_in_registry_order():
    from inception_score.metrics import FIDResult, KIDResult

    evaluation = Evaluation(kid=KIDResult(0.1, 0.01, 10, 5, 2020, 5, 5), fid=FIDResult(1.0, 5, 5))
    assert list(evaluation) == ["fid", "kid"] and evaluation["fid"].fid == 1.0 and evaluation.sfid is None
    assert list(evaluation.metrics_dict())[:3] == [
        "frechet_inception_distance",
        "kernel_inception_distance_mean",
        "kernel_inception_distance_std",
    ]
    with pytest.raises(InceptionScoreError, match="no registered metric"):
        Evaluation(lpips=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Evaluation().to_dict() == {} and Evaluation() == Evaluation()
