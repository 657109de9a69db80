"""Sides: each distinct input of an evaluation (images, a statistics file, an ADM batch, a catalog name),
opened and checked before any image is read, with the states its metrics need of it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InceptionScoreError
from ..maths.frechet import Moments
from ..metrics import Metric
from ..metrics.base import feature_family
from ..options import Options
from ..parallel.group import Group
from ..pipeline.adm_batch import is_adm_batch, read_adm_statistics
from ..pipeline.extractors import Classifier
from ..pipeline.references import Resolved, is_catalog_name
from ..pipeline.references import resolve as resolve_reference
from ..pipeline.sources import Source, open_source
from ..pipeline.statistics import Statistics, is_statistics_path, read_statistics, require_features
from .plan import Request, gives, named_space

OUTPUT_OF_STATE = {"logits": "logits", "moments": "features", "features": "features", "spatial_moments": "spatial"}
FILE_KEYS = {"moments": ("mu", "sigma"), "spatial_moments": ("mu_s", "sigma_s")}


class Batches:
    """The images given to `Evaluator.update` (real=True: the reference's): a side without a source."""

    def __init__(self, real: bool) -> None:
        self.real = real
        self.description = "the reference images given to update(real=True)" if real else "the images given to update()"

    def __repr__(self) -> str:
        return f"Batches(real={self.real})"


SAMPLE_BATCHES, REFERENCE_BATCHES = Batches(False), Batches(True)


@dataclass(frozen=True)
class Side:
    """One distinct input, opened: images (`source`) or a statistics file, what its metrics need of it
    ("logits", "features", "moments", "spatial_moments"), and the statistics taken from the file itself."""

    value: Any
    description: str
    source: Source | None = None
    statistics: Statistics | None = None
    file_statistics: Mapping[str, np.ndarray] = field(default_factory=dict)  # an ADM batch's mu, sigma, ...
    reference: Resolved | None = None  # the catalog entry this side was resolved from
    needs: frozenset[str] = frozenset()
    from_file: Mapping[str, Moments] = field(default_factory=dict)  # state -> moments read from the file
    notes: tuple[str, ...] = ()  # what the results should say about this side

    @property
    def key(self) -> Any:
        return key_of(self.value)

    @property
    def count(self) -> int | None:
        """Number of images (a statistics file: its stored features when they are needed, else its n); None
        for a stream not read yet."""
        if self.source is not None:
            return self.source.total
        if self.statistics is None:  # update() batches: counted as they come
            return None
        if "features" in self.needs and self.statistics.has_features:
            return self.statistics.features_shape[0]  # type: ignore[index]  # has_features: a shape
        return self.statistics.n

    @property
    def extracted(self) -> frozenset[str]:
        """The states an extractor pass must produce (an ADM batch's file may give its moments)."""
        return self.needs - set(self.from_file) if self.statistics is None else frozenset()


def key_of(value: Any) -> Any:
    """Equal keys for the same input given twice (same path, or the same object)."""
    if isinstance(value, (str, os.PathLike)):
        return ("path", str(Path(value).resolve()))
    return ("object", id(value))


def open_side(value: Any, options: Options, group: Group | None, *, num_samples: int | None = None) -> Side:
    """The side `value` names, opened with the input options (a catalog name resolved, maybe downloaded)."""
    if is_catalog_name(value):
        resolved = resolve_reference(
            value,
            progress=options.progress,
            allow_other_protocol=options.allow_other_protocol,
            space=named_space(options),
        )
        side = open_side(resolved.path, options, group, num_samples=num_samples)
        return dataclasses.replace(
            side, value=value, reference=resolved, description=f"reference {resolved.entry.name} ({side.description})"
        )
    if is_adm_batch(value):  # images streamed from arr_0, and maybe the evaluator's statistics
        source = _open(value, options, num_samples=None, distributed=group is not None)
        return Side(value, source.description, source=source, file_statistics=read_adm_statistics(value))
    if is_statistics_path(value):
        statistics = read_statistics(value)
        return Side(value, f"statistics {statistics.path}", statistics=statistics)
    source = _open(value, options, num_samples=num_samples, distributed=group is not None)
    return Side(value, source.description, source=source)


def _open(value: Any, options: Options, *, num_samples: int | None, distributed: bool) -> Source:
    """An image side opened with the input options; under torch.distributed, streams are refused.

    A callable source (kind "sampler") can draw any count: each rank draws its share with its own
    seed (sharding.shard_of). A stream can only be read whole, by one process.
    """
    source = open_source(
        value,
        npz_key=options.npz_key,
        value_range=options.value_range,
        layout=options.layout,
        num_samples=num_samples,
        batch_size=options.batch_size,
    )
    if distributed and source.kind == "stream":
        raise InceptionScoreError(
            f"{source.description}: a generator or iterable cannot be split over torch.distributed ranks (every "
            "rank would read the same images); give a callable sample(batch_size) with num_samples (each rank "
            "draws its share with seed sample_seed + rank), score in one process (distributed=False), or save "
            "the images and score the files"
        )
    return source


def with_needs(side: Side, needs: set[str], request: Request) -> Side:
    """The side with what its metrics need, an ADM batch's own mu/sigma and mu_s/sigma_s taken from the file
    under protocol "adm" (as the evaluator does) and for a catalog reference (its published statistics)."""
    if side.statistics is not None and "logits" in needs:
        raise InceptionScoreError(
            f"{side.description} holds statistics, not images: it can be the reference of FID, sFID, KID, "
            "precision/recall and density/coverage, but it has no IS (give the images)"
        )
    from_file, notes = {}, list(side.notes)
    for state, (mean, covariance) in FILE_KEYS.items():
        if state not in needs or mean not in side.file_statistics:
            continue
        if request.protocol == "adm" or side.reference is not None:
            from_file[state] = Moments(side.file_statistics[mean], side.file_statistics[covariance], None)
        else:
            notes.append(
                f"{side.description} holds the ADM evaluator's own statistics, which the default protocol does "
                "not use: they are computed again from its images with this package's pipeline; "
                "--protocol adm (protocol='adm') uses the file's, as the evaluator does"
            )
    return dataclasses.replace(side, needs=frozenset(needs), from_file=from_file, notes=tuple(dict.fromkeys(notes)))


def why_not_served(
    metric: Metric,
    parts: frozenset[str],
    main: Side | None,
    reference: Side | None,
    request: Request,
    options: Options,
    *,
    counts: bool,
) -> str:
    """Why the inputs cannot serve `metric`, or "" when they can; counts=True: only whether the counts are
    enough (where they are known), else every other reason."""
    if counts:
        for label, side in (("samples", main), ("reference", reference)):
            count = side.count if side is not None else None
            reason = metric.too_few(label, count, request.options, request.protocol, parts) if count is not None else ""
            if reason:
                return f"{side.description}: {reason}"  # type: ignore[union-attr]  # a count implies a side
        return ""
    if metric.reference is not None and reference is None and not metric.reference_optional:
        return (
            f"{metric.title} needs a reference: pass reference=... (CLI: --ref REF), or leave {metric.name!r} "
            "out of metrics"
        )
    samples_needs, reference_needs = metric.needs(parts, reference is not None)
    for side, needs in ((main, samples_needs), (reference, reference_needs)):
        if side is None:
            continue
        if side.statistics is not None:
            if any(need.output == "logits" for need in needs):
                return (
                    f"{side.description} holds statistics, not images: it can be the reference of FID, sFID, KID, "
                    "precision/recall and density/coverage, but it has no IS (give the images)"
                )
            missing = _file_lacks(side.statistics, needs, metric.title_of(parts))
            if missing:
                return missing
        else:
            absent = [need.output for need in needs if not gives(options, need.output)]
            if absent:
                return _lacking(named_space(options), absent[0], metric)
    return ""


def _lacking(space: str, output: str, metric: Metric) -> str:
    """Why an extractor that does not give `output` cannot serve `metric`."""
    if output == "spatial":
        return (
            f"the extractor {space} does not give sFID's spatial features (the 2015 network's Mixed_6d.branch1x1 "
            "output): use the default classifier inception-2015 (--classifier inception-2015), or leave sfid out "
            "of --metrics"
        )
    if output == "logits":
        return f"the extractor {space} gives no class logits (a feature network), and {metric.title} needs class logits"
    return f"the extractor {space} gives no feature vectors, and {metric.title} needs them"


def _file_lacks(statistics: Statistics, needs: tuple, title: str) -> str:
    """What a statistics file lacks of `needs`, as a message naming the option that writes it, or ""."""
    states = {need.state for need in needs}
    if "spatial_moments" in states and not statistics.has_spatial:
        return (
            f"{statistics.path} has no spatial statistics (mu_s, sigma_s), which sFID needs: write it again with "
            "'inception-score stats SOURCE -o FILE.npz' (save_statistics; the inception-2015 network writes them), "
            "give the reference images, or leave sfid out of --metrics"
        )
    if "features" in states and not statistics.has_features:
        try:
            require_features(statistics, title)
        except InceptionScoreError as error:
            return str(error)
    return ""


def load_extractor_for(sides: list[Side], options: Options) -> Classifier | None:
    """The extractor for the image sides (None if every side is a statistics file), checked to give what they need."""
    images = [side for side in sides if side.extracted]  # sides whose images are read
    if not images:
        return None
    classifier = options.load_extractor()
    needed = {OUTPUT_OF_STATE[need] for side in images for need in side.extracted}
    missing = sorted(needed - set(classifier.outputs))
    if "spatial" in missing:
        raise InceptionScoreError(
            f"classifier {classifier.identity} does not give sFID's spatial features (the 2015 network's "
            "Mixed_6d.branch1x1 output): use the default classifier inception-2015 (--classifier inception-2015), "
            "or leave sfid out of --metrics"
        )
    if missing:
        raise InceptionScoreError(
            f"classifier {classifier.identity} gives {' and '.join(classifier.outputs)} but not {', '.join(missing)}: "
            + (
                "FID and KID need feature vectors: return (logits, features) from forward, or declare the order "
                "with an `outputs` attribute such as ('logits', 'features')"
                if "features" in missing
                else "the Inception Score needs class logits"
            )
        )
    return classifier


def feature_space_of(sides: list[Side], classifier: Classifier | None) -> str | None:
    """The feature space of a comparison: the extractor's name, else the one its statistics files name."""
    if classifier is not None:
        return classifier.name
    named = [side.statistics.extractor for side in sides if side.statistics is not None and side.statistics.extractor]
    return named[0] if named else None


def check_feature_spaces(sides: list[Side], space: str | None) -> None:
    """Refuse to compare features of different spaces (Inception, DINOv2, CLIP, or two variants of one),
    before any image is read; `space`: the extractor's (ignored when every side is a statistics file)."""
    files = [side for side in sides if side.statistics is not None and side.statistics.extractor is not None]
    images = any(side.extracted for side in sides)
    spaces = ([(space, "the images' features")] if space is not None and images else []) + [
        (side.statistics.extractor, side.description) for side in files if side.statistics is not None
    ]
    known = [(space, what) for space, what in spaces if feature_family(space) not in (None, "inception")]
    for space, what in known:
        for other, other_what in spaces:
            if other != space and (feature_family(other) is not None or other in ("torchscript", "python")):
                raise InceptionScoreError(
                    f"{what} are in the {space} feature space but {other_what} in the {other} space: distances "
                    f"between different feature spaces are meaningless. Compute both with the same extractor "
                    f"(--classifier {space}, or write the statistics again with it); in one evaluate call, "
                    "--ref-for METRIC=REF (reference_for=) gives a metric a reference of its own space"
                )
