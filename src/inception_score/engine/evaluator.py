"""The accumulating engine: `Evaluator` plans once, takes images batch by batch, and computes every metric.

`evaluate`, the CLI and the `InceptionScore` object are fronts over it: a source is read in batches
into the same states `update(images)` fills, the reference is resolved and extracted once, and
`compute()` gives the same `Evaluation` on every rank.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import InceptionScoreError, warn
from ..metrics import Evaluation, Metric, SideData, metric_named, registered
from ..metrics.registry import option_defaults
from ..options import Options
from ..parallel.launch import join
from ..parallel.sharding import check_same_inputs, draw_seed, everywhere, on_main
from ..pipeline.arrays import DEFAULT_VALUE_RANGE, check_value_range, is_array
from ..pipeline.batches import pixels_of
from ..pipeline.extract import default_batch_size
from ..pipeline.extractors import Classifier
from ..pipeline.references import is_catalog_name
from ..pipeline.sources import open_source
from .compute import inputs_of, provenance_of, run_warnings, side_data, weights_warnings
from .extract import Job, extract_batch, extract_sources
from .plan import Request, is_metric_option, make_request, named_space, pass_options, passes_of
from .sides import (
    REFERENCE_BATCHES,
    SAMPLE_BATCHES,
    Batches,
    Side,
    check_feature_spaces,
    key_of,
    load_extractor_for,
    open_side,
    why_not_served,
    with_needs,
)
from .states import SideState, Totals


@dataclass
class _Pass:
    """One extractor's part of the evaluation: its metrics, sides (the samples' first), network and states."""

    options: Options
    metrics: list[Metric]
    sides: dict[Any, Side]
    main: Any  # the samples' side key
    references: dict[str, Any]  # metric name -> its reference side's key
    classifier: Classifier | None = None
    states: dict[Any, SideState] = field(default_factory=dict)  # side key -> this process's states

    def key_for(self, real: bool) -> Any:
        """The side `update()` batches go to (real=True: the reference batches' side)."""
        return key_of(REFERENCE_BATCHES) if real else self.main


class Evaluator:
    """Every metric of a paper's table, accumulated batch by batch: `update(images)`, `compute()`, `reset()`.

    Parameters
    ----------
    metrics
        Names as for `evaluate` ("is", "fid", "kid", "pr", "precision", "fd_dinov2", "vendi", "mind",
        "all", ...); default: those of IS, FID and KID the inputs can serve.
    reference
        The other side of the distances: images (folder, archive, array...), a statistics file, an ADM
        batch or a catalog name, resolved and extracted once, when the Evaluator is made. Without one,
        the metrics named in `metrics` that need a reference compare with the images given to
        ``update(images, real=True)``.
    samples
        The samples as one source, read at the first `compute()` in the same pass as the reference
        (each distinct input once); `evaluate(...)` is ``Evaluator(..., samples=source).compute()``.
    reference_for, fid_reference, kid_reference, protocol, extractors
        As for `evaluate`.
    options, **keywords
        Metric options (splits, order, seed, bootstrap, kid_subsets, kid_subset_size, kid_seed,
        infinity_points, infinity_seed, mind_num_projections, mind_seed, and those of the metrics you
        registered) and image options (any field of `Options`: weights, device, batch_size, progress...).

    Notes
    -----
    What is kept per image (float32, on the CPU): IS keeps the logits (4 KB with 1008 classes); KID,
    precision/recall, density/coverage, IS-infinity/FID-infinity, CMMD, Vendi and MIND keep the feature
    vectors (8 KB of pool3); FID and sFID keep streamed moments only (O(d^2) whatever N). `update()`
    batches are not cached; floats are read in `value_range` (default (0, 1)); a CUDA tensor stays on
    its device. The networks see batches of `batch_size` images whatever sizes `update` is given, so the
    numbers equal `evaluate`'s on the same images. Under torch.distributed each rank updates with its own
    images; `compute()` gathers them in rank order and returns the same result on every rank.
    """

    def __init__(
        self,
        metrics: Any = None,
        reference: Any = None,
        *,
        samples: Any = None,
        reference_for: Mapping[str, Any] | None = None,
        fid_reference: Any = None,
        kid_reference: Any = None,
        protocol: str = "default",
        extractors: Mapping[str, str] | None = None,
        options: Options | None = None,
        **keywords: Any,
    ) -> None:
        metric_options = {name: value for name, value in keywords.items() if is_metric_option(name)}
        image_options = {name: value for name, value in keywords.items() if name not in metric_options}
        unknown = sorted(set(image_options) - {item.name for item in dataclasses.fields(Options)})
        if unknown:
            known = sorted({item.name for item in dataclasses.fields(Options)} | set(option_defaults()))
            raise InceptionScoreError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; the options are "
                f"{', '.join(known)}"
            )
        self.options = Options.of(options, **image_options)
        batches = samples is None and metrics is not None  # named metrics may compare with update(real=True)
        references = _references(reference, reference_for, fid_reference, kid_reference, batches=batches)
        request = make_request(metrics, references, metric_options, protocol=protocol, extractors=extractors)
        if reference is not None and not any(metric.reference is not None for metric in request.chosen()):
            raise InceptionScoreError(
                "a reference was given but none of the metrics compares with one: add fid, kid, ... to metrics"
            )
        self._group = join(self.options.distributed)
        self._samples = samples if samples is not None else SAMPLE_BATCHES
        self._request, self._passes = self._plan(request)
        self._pending: list[Job] = []  # sources not read yet
        self._waiting: dict[bool, list[torch.Tensor]] = {False: [], True: []}  # real -> images not run yet
        self._given = {False: 0, True: 0}  # real -> images given to update()
        self._reduced: dict[tuple[int, Any], Totals | None] = {}  # sides no update() adds to, reduced once
        self._fixed: dict[tuple[int, Any], SideData] = {}  # what the metrics see of those sides (rank 0)
        for one in self._passes:
            for key, side in one.sides.items():
                if side.extracted:
                    one.states[key] = SideState(side.extracted)
                    if side.source is not None:
                        assert one.classifier is not None
                        self._pending.append(Job(side, one.classifier, one.states[key]))
        if samples is None:
            self._read_pending()  # the reference, once, before the first batch

    def update(self, images: Any, *, real: bool = False) -> None:
        """Add images to the samples (real=True: to the reference, when none was given).

        Parameters
        ----------
        images
            A uint8 or float array or tensor (floats in `value_range`, default (0, 1)), N x H x W x 3,
            N x 3 x H x W, one channel, or N x H x W, on any device; or any source `evaluate` takes.
        real
            Add to the reference side (the metrics named without a reference compare with these).
        """
        if real and not any(key_of(REFERENCE_BATCHES) in one.sides for one in self._passes):
            raise InceptionScoreError(
                "update(images, real=True) adds reference images when the Evaluator was made without a "
                "reference for the metrics that need one; this one has its own reference (or no such metric)"
            )
        if is_array(images):
            value_range = check_value_range(self.options.value_range or DEFAULT_VALUE_RANGE)
            what = "update(real=True) images" if real else "update() images"
            pixels = pixels_of(
                images, value_range=value_range, layout=self.options.layout, what=what, first_index=self._given[real]
            )
            self._given[real] += len(pixels)
            if len(pixels):
                self._waiting[real].append(pixels)
            self._run_waiting(real, whole=False)
            return
        self._run_waiting(real, whole=True)
        options = self.options
        source = open_source(images, npz_key=options.npz_key, value_range=options.value_range, layout=options.layout)
        jobs = []
        for one in self._passes:
            key = one.key_for(real)
            if key in one.states and one.classifier is not None:
                jobs.append(Job(dataclasses.replace(one.sides[key], source=source), one.classifier, one.states[key]))
        extract_sources(jobs, options, None, cache=False)

    def compute(self) -> Evaluation:
        """Every metric of the images given so far (and of `samples`) against the reference, on every rank.

        Returns
        -------
        Evaluation
            The results by metric key (`.inception_score`, `.fid`, ...), with provenance and warnings (also
            emitted as InceptionScoreWarning, attributed to the caller's line).
        """
        for real in (False, True):
            self._run_waiting(real, whole=True)
        self._read_pending()
        totals = {
            (number, key): self._totals(number, key)
            for number, one in enumerate(self._passes)
            for key in one.sides
            if key in one.states
        }
        group, main = self._group, self._passes[0].sides[self._passes[0].main]
        drawn = main.source is not None and main.source.kind == "sampler"
        sampling = dict(
            world_size=group.world_size if group is not None else 1,
            sample_seed=draw_seed(group, self.options.sample_seed) if drawn else None,
        )
        evaluation, left_out = on_main(group, lambda: self._results(totals, sampling))
        if group is None or group.rank == 0:
            for message in ([left_out] if left_out else []) + evaluation.warnings:
                warn(message)
        return evaluation

    def reset(self) -> None:
        """Forget the samples: what update() gave and a `samples` source not read yet. The reference and
        everything extracted from it are kept."""
        for one in self._passes:
            if one.main in one.states:
                one.states[one.main] = SideState(one.states[one.main].needs)
        main = self._passes[0].main
        self._pending = [job for job in self._pending if job.side.key != main]
        self._waiting[False], self._given[False] = [], 0

    # -- planning --------------------------------------------------------------------------------------

    def _plan(self, request: Request) -> tuple[Request, list[_Pass]]:
        """Every pass's sides, opened and checked before any image is read: what the inputs cannot serve is
        refused (metrics chosen by name) or left out with a warning (the default choice, "all"); each
        extractor loaded (under torch.distributed by rank 0 first, which may download it)."""
        group = self._group
        named = any(is_catalog_name(value) for value in (self._samples, *request.references.values()))
        request, passes, left_out = everywhere(group, lambda: self._served(request), main_first=named)
        message = _left_out(request, left_out)
        if message and (group is None or group.rank == 0):
            warn(message)
        for one in passes:
            needs = _needs(one, request)
            one.sides = {key: with_needs(side, needs.get(key, set()), request) for key, side in one.sides.items()}
            sides = list(one.sides.values())
            check_feature_spaces(sides, named_space(one.options))
            one.classifier = everywhere(group, lambda: load_extractor_for(sides, one.options), main_first=True)  # noqa: B023
        check_same_inputs(group, [(side.count, side.description) for one in passes for side in one.sides.values()])
        return request, passes

    def _served(self, request: Request) -> tuple[Request, list[_Pass], list[tuple[Metric, str]]]:
        """The request less what its inputs cannot serve, its passes, and what was left out and why."""
        opened: dict[tuple[int, Any], Side] = {}
        left_out: list[tuple[Metric, str]] = []
        while True:
            passes = self._open(request, opened)
            unserved = [
                (metric, reason)
                for counts in (False, True)  # what no count can mend first, then the counts
                for one in passes
                for metric in one.metrics
                for reason in [
                    why_not_served(
                        metric,
                        request.metrics[metric.name],
                        one.sides[one.main],
                        one.sides.get(one.references.get(metric.name)),
                        request,
                        one.options,
                        counts=counts,
                    )
                ]
                if reason
            ]
            if not unserved:
                return request, passes, left_out
            if not request.automatic:
                raise InceptionScoreError(unserved[0][1])
            left_out += unserved
            request = request.without({metric.name for metric, _ in unserved})
            if not request.metrics:
                reasons = "; ".join(f"{metric.title}: {reason}" for metric, reason in left_out)
                raise InceptionScoreError(f"none of the metrics can be computed here ({reasons})")

    def _open(self, request: Request, opened: dict[tuple[int, Any], Side]) -> list[_Pass]:
        """Each extractor's pass with its sides, opened with its options (each input once per pass)."""
        found = passes_of(request, self.options)
        planned = []
        for number, (spec, metrics) in enumerate(found.items()):
            options = pass_options(self.options, spec, only=len(found) == 1)

            def side(value: Any, samples: bool = False) -> Side:
                if isinstance(value, Batches):
                    return Side(value, value.description)
                if (number, key_of(value)) not in opened:  # noqa: B023
                    count = options.num_samples if samples else None  # noqa: B023
                    opened[number, key_of(value)] = open_side(value, options, self._group, num_samples=count)  # noqa: B023
                return opened[number, key_of(value)]  # noqa: B023

            main = side(self._samples, samples=True)
            sides, references = {main.key: main}, {}
            for metric in metrics:
                if metric.name in request.references:
                    reference = side(request.references[metric.name])
                    sides.setdefault(reference.key, reference)
                    references[metric.name] = reference.key
            planned.append(_Pass(options, metrics, sides, main.key, references))
        return planned

    # -- extraction ------------------------------------------------------------------------------------

    def _read_pending(self) -> None:
        if self._pending:
            jobs, self._pending = self._pending, []
            extract_sources(jobs, self.options, self._group)

    def _run_waiting(self, real: bool, *, whole: bool) -> None:
        """Run the networks on the waiting images in batches of batch_size (the rest too when `whole`)."""
        waiting = self._waiting[real]
        size = self.options.batch_size or default_batch_size(self.options.torch_device)
        runs = [
            (one.classifier, one.states[one.key_for(real)])
            for one in self._passes
            if one.classifier is not None and one.key_for(real) in one.states
        ]
        while waiting and (whole or sum(len(pixels) for pixels in waiting) >= size):
            chunks, taken = [], 0
            while waiting and taken < size:
                chunk = waiting[0][: size - taken]
                waiting[0] = waiting[0][len(chunk) :]
                if not len(waiting[0]):
                    waiting.pop(0)
                chunks.append(chunk)
                taken += len(chunk)
            first = self._given[real] - taken - sum(len(pixels) for pixels in waiting)
            extract_batch(chunks, runs, self.options, first)

    def _side_data(self, number: int, side: Side, totals: Totals | None) -> SideData:
        """What the metrics see of a side; a side no update() adds to (a statistics file's features, a
        reference read from its source) is read once, not at every compute()."""
        if side.key == self._passes[number].main or isinstance(side.value, Batches):
            return side_data(side, totals)
        if (number, side.key) not in self._fixed:
            self._fixed[number, side.key] = side_data(side, totals)
        return self._fixed[number, side.key]

    def _totals(self, number: int, key: Any) -> Totals | None:
        """A side's states over every rank; a side only its source fills (a reference) is reduced once."""
        one = self._passes[number]
        if key == one.main or isinstance(one.sides[key].value, Batches):
            return one.states[key].totals(self._group)
        if (number, key) not in self._reduced:
            self._reduced[number, key] = one.states[key].totals(self._group)
        return self._reduced[number, key]

    # -- results ---------------------------------------------------------------------------------------

    def _results(
        self, totals: Mapping[tuple[int, Any], Totals | None], sampling: Mapping[str, Any]
    ) -> tuple[Evaluation, str]:
        """Every metric's result from the reduced states (rank 0), and the warning for what was left out."""
        request, results, left_out = self._request, {}, []
        for number, one in enumerate(self._passes):
            mine = {key: found for (index, key), found in totals.items() if index == number and found is not None}
            data = {key: self._side_data(number, side, mine.get(key)) for key, side in one.sides.items()}
            if isinstance(one.sides[one.main].value, Batches) and not data[one.main].count:
                raise InceptionScoreError(
                    f"{type(self).__name__}.compute() called before any update(): no images to score"
                )
            provenance, file_notes = provenance_of(list(one.sides.values()), one.classifier, one.options, sampling)
            for metric in one.metrics:
                parts = request.metrics[metric.name]
                used = [one.sides[one.main]]
                if metric.name in one.references:
                    used.append(one.sides[one.references[metric.name]])
                reason = _too_few(metric, parts, used, data, request)
                if reason and not request.automatic:
                    raise InceptionScoreError(reason)
                if reason:
                    left_out.append((metric, reason))
                    continue
                notes = weights_warnings(provenance) + [note for side in used for note in file_notes[side.key]]
                notes += run_warnings(used, mine, one.options)
                inputs = inputs_of(metric, parts, used, data, request, provenance, notes)
                results[metric.key] = metric.compute(inputs)
        if not results:
            raise InceptionScoreError("nothing to compute (" + "; ".join(reason for _, reason in left_out) + ")")
        computed = request.without({metric.name for metric, _ in left_out})
        return Evaluation(results, protocol=request.protocol), _left_out(computed, left_out)


def _references(
    reference: Any, reference_for: Mapping[str, Any] | None, fid_reference: Any, kid_reference: Any, *, batches: bool
) -> dict[str, Any]:
    """metric name -> its reference: `reference`, overridden per metric; with none and `batches`, the images
    given to update(real=True) (not for a metric whose reference is optional)."""
    found = {}
    for metric in registered():
        if metric.reference is not None:
            fallback = REFERENCE_BATCHES if batches and not metric.reference_optional else None
            found[metric.name] = reference if reference is not None else fallback
    for name, value in (("fid", fid_reference), ("kid", kid_reference)):
        if value is not None:
            found[name] = value
    if reference_for is not None and not isinstance(reference_for, Mapping):
        raise InceptionScoreError(f"reference_for (--ref-for) maps a metric to its reference; got {reference_for!r}")
    for name, value in (reference_for or {}).items():
        metric, _ = metric_named(name) if isinstance(name, str) else metric_named(repr(name))
        if metric.reference is None:
            with_one = ", ".join(m.name for m in registered() if m.reference is not None)
            raise InceptionScoreError(
                f"reference_for (--ref-for) names a metric with a reference ({with_one}); got {name!r}"
            )
        found[metric.name] = value
    return found


def _needs(one: _Pass, request: Request) -> dict[Any, set[str]]:
    """side key -> the states the pass's metrics need of it."""
    needs: dict[Any, set[str]] = {}
    for metric in one.metrics:
        reference = one.references.get(metric.name)
        mine, theirs = metric.needs(request.metrics[metric.name], reference is not None)
        needs.setdefault(one.main, set()).update(need.state for need in mine)
        if reference is not None:
            needs.setdefault(reference, set()).update(need.state for need in theirs)
    return needs


def _too_few(
    metric: Metric, parts: frozenset[str], used: list[Side], data: Mapping[Any, SideData], request: Request
) -> str:
    """Why the extracted counts are too few for the metric (samples first, then its reference), or ""."""
    for label, side in zip(("samples", "reference"), used):
        count = data[side.key].count
        reason = metric.too_few(label, count, request.options, request.protocol, parts) if count is not None else ""
        if reason:
            return f"{side.description}: {reason}"
    return ""


def _left_out(request: Request, left_out: list[tuple[Metric, str]]) -> str:
    """The warning for metrics left out of an automatic choice (none for a missing reference when no reference
    was given at all: then the samples' own metrics are what was asked for)."""
    given = any(not isinstance(value, Batches) for value in request.references.values())
    told = [(metric, reason) for metric, reason in left_out if given or metric.reference is None]
    if not told:
        return ""
    kept = ", ".join(metric.title for metric in request.chosen())
    return f"computing {kept} only (" + "; ".join(f"{metric.title}: {reason}" for metric, reason in told) + ")"
