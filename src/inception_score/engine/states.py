"""States: what one side accumulates for one extractor, batch by batch, and how ranks combine them.

Each state is declared by the metrics that need it (`metrics.base.Need`): rows of an output
(logits, features) grow with N and are gathered to rank 0 in rank order; streamed moments of an
output (features, spatial) are O(d^2) and summed. A source's pass and `Evaluator.update` batches
add to the same states; `reduced` gives rank 0 the immutable totals the metrics compute from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..maths.frechet import MomentAccumulator, Moments
from ..parallel.group import Group
from ..pipeline.extract import Features


@dataclass(frozen=True)
class Totals:
    """A side's states over every batch and every rank (rank 0), in input order."""

    logits: np.ndarray | None
    features: np.ndarray | None
    moments: Moments | None
    spatial_moments: Moments | None
    count: int
    names: list[str] | None
    skipped: tuple[str, ...] = ()
    cached: int = 0
    corrupt_cache_entries: int = 0
    cache_problems: tuple[str, ...] = ()
    arithmetic: str | None = None


@dataclass
class SideState:
    """One side's states for one extractor in this process, as batches arrive."""

    needs: frozenset[str]
    logits: list[np.ndarray] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    moments: MomentAccumulator | None = None
    spatial_moments: MomentAccumulator | None = None
    count: int = 0
    names: list[str] | None = field(default_factory=list)  # None once unnamed batches (update) were added
    skipped: list[str] = field(default_factory=list)
    cached: int = 0
    corrupt_cache_entries: int = 0
    cache_problems: list[str] = field(default_factory=list)
    arithmetic: str | None = None

    def __post_init__(self) -> None:
        self.moments = MomentAccumulator() if "moments" in self.needs else None
        self.spatial_moments = MomentAccumulator() if "spatial_moments" in self.needs else None

    def add(self, outputs: dict[str, np.ndarray], arithmetic: str) -> None:
        """One batch of network outputs ("logits", "features", "spatial" float32 rows), in input order."""
        self._add_rows(outputs.get("logits"), outputs.get("features"), len(next(iter(outputs.values()))))
        if self.moments is not None:
            self.moments.update(outputs["features"])
        if self.spatial_moments is not None:
            self.spatial_moments.update(outputs["spatial"])
        self.names, self.arithmetic = None, arithmetic

    def add_pass(self, found: Features) -> None:
        """A source's pass (`extract_many`, whose head streamed into this state's moments)."""
        self._add_rows(found.logits, found.features, len(found.names))
        if self.names is not None:
            self.names += found.names
        self.skipped += found.skipped
        self.cached += len(found.names) - found.computed
        self.corrupt_cache_entries += found.corrupt_cache_entries
        self.cache_problems += found.cache_problems
        self.arithmetic = found.precision

    def _add_rows(self, logits: np.ndarray | None, features: np.ndarray | None, count: int) -> None:
        if "logits" in self.needs and logits is not None:
            self.logits.append(logits)
        if "features" in self.needs and features is not None:
            self.features.append(features)
        self.count += count

    def totals(self, group: Group | None) -> Totals | None:
        """Every batch's states, over every rank: rows gathered in rank order, moments summed (None off rank 0)."""
        logits, features = _joined(self.logits), _joined(self.features)
        moments, spatial = self.moments, self.spatial_moments
        count, names, skipped = self.count, self.names, list(self.skipped)
        cached, corrupt, problems = self.cached, self.corrupt_cache_entries, list(self.cache_problems)
        if group is not None:
            logits = _gathered(group, logits, "logits" in self.needs)
            features = _gathered(group, features, "features" in self.needs)
            moments = reduce_moments(group, moments) if moments is not None else None
            spatial = reduce_moments(group, spatial) if spatial is not None else None
            gathered = group.gather_object((count, names, skipped, cached, corrupt, problems))
            if gathered is None:
                return None
            count, cached, corrupt = (sum(part[index] for part in gathered) for index in (0, 3, 4))
            names = None if any(part[1] is None for part in gathered) else [n for part in gathered for n in part[1]]
            skipped = [name for part in gathered for name in part[2]]
            problems = [problem for part in gathered for problem in part[5]]
        return Totals(
            logits,
            features,
            moments.moments() if moments is not None and moments.n >= 2 else None,  # fewer: refused by count
            spatial.moments() if spatial is not None and spatial.n >= 2 else None,
            count,
            names,
            tuple(skipped),
            cached,
            corrupt,
            tuple(dict.fromkeys(problems)),
            self.arithmetic,
        )


def _joined(blocks: list[np.ndarray]) -> np.ndarray | None:
    if not blocks:
        return None
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _gathered(group: Group, rows: np.ndarray | None, needed: bool) -> np.ndarray | None:
    if not needed:
        return None
    return group.gather_rows(rows if rows is not None else np.zeros((0, 0), np.float32))


def reduce_moments(group: Group, accumulator: MomentAccumulator) -> MomentAccumulator | None:
    """Every rank's streaming feature moments added up on rank 0 (None elsewhere).

    Sums are moved to a common shift (the first non-empty rank's, i.e. the first batch of the
    input) and summed in float64: d + d^2 numbers per rank, whatever N. While the total is at
    most d the rows themselves are gathered too, for the exact low-rank factor.
    """
    seen = group.all_gather_object((accumulator.n, accumulator.shift))
    counts = [count for count, _ in seen]
    shifts = [shift for count, shift in seen if count]
    if not shifts:
        return accumulator if group.rank == 0 else None
    accumulator.recentre(shifts[0])
    total, outer, rows = accumulator.sums()
    summed_total, summed_outer = group.reduce_sum(total), group.reduce_sum(outer)
    keep_rows = sum(counts) <= len(shifts[0])
    rows = group.gather_rows(rows) if keep_rows and rows is not None else None
    if group.rank != 0:
        return None
    assert summed_total is not None and summed_outer is not None
    return MomentAccumulator.from_sums(sum(counts), shifts[0], summed_total, summed_outer, rows)
