"""A feature set made ready for the k-NN passes: equal rows merged, scaled float32 rows on the device, norms.

Rows with equal values have distance 0 to each other and the same distance to every other point,
so each group of equal rows is one point with a multiplicity (a generator that collapsed to a few
images costs a few points, not a tie between thousands). Groups are found by a fingerprint and
confirmed on the given values; a group the fingerprint misses only costs speed, never a count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import InceptionScoreError
from .knn_arrays import NumpyOps, TensorOps
from .knn_bound import power_of_two_scale

_FINGERPRINT_SEED = 20240  # weights of the fingerprint (any fixed numbers)


@dataclass(frozen=True)
class PointSet:
    """The distinct rows of one feature set, in the order the passes use (`rows`)."""

    ops: NumpyOps | TensorOps
    features: Any  # the given N x d values (numpy array or tensor): exact rows come from here
    rows: np.ndarray  # int64, U: for each point, its first row in `features`
    counts: np.ndarray  # int64, U: how many rows have its values
    inverse: np.ndarray  # int64, N: the point of each row of `features`
    norms: np.ndarray  # float64, U: squared norms q of the centred rows (knn_bound)
    scaled: Any = None  # U x d float32 on the features' device: fl32(s (x - c))
    halves: Any = None  # U float32 on the device: fl32(s^2 q / 2)

    @property
    def size(self) -> int:
        return int(self.rows.size)

    @property
    def total(self) -> int:
        return int(self.inverse.size)

    def permuted(self, order: np.ndarray) -> PointSet:
        """The same set with its points in `order` (inverse renumbered)."""
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        return replace(
            self,
            rows=self.rows[order],
            counts=self.counts[order],
            inverse=position[self.inverse],
            norms=self.norms[order],
            scaled=self.ops.permuted(self.scaled, order),
            halves=self.ops.permuted(self.halves, order),
        )


def centred_sets(ops: NumpyOps | TensorOps, sets: list[Any], block_rows: int) -> tuple[list[PointSet], float]:
    """Point sets of the feature sets, centred on the first set's mean and scaled by one power of two."""
    centre = ops.centre(sets[0], block_rows)
    if all(ops.is_float32(values) for values in sets):
        centre = centre.astype(np.float32).astype(np.float64)  # float32 rows are then centred in float32
    moved = [ops.centred(values, centre, 1.0, block_rows) for values in sets]
    for _, norms in moved:
        if not np.all(np.isfinite(norms)):
            row = int(np.argmin(np.isfinite(norms)))
            raise InceptionScoreError(
                f"feature row {row} is too large: its squared norm overflows float64 (values near 1e154 or more)"
            )
    scale = power_of_two_scale(max(float(norms.max(initial=0.0)) for _, norms in moved))
    if scale != 1.0:
        moved = [(ops.centred(values, centre, scale, block_rows)[0], norms) for values, (_, norms) in zip(sets, moved)]
    return [_point_set(ops, values, scaled, norms, scale) for values, (scaled, norms) in zip(sets, moved)], scale


def _point_set(ops: NumpyOps | TensorOps, features: Any, scaled: Any, norms: np.ndarray, scale: float) -> PointSet:
    """Merge equal rows; the float32 halves of the squared norms on the device."""
    rows, counts, inverse = _groups(ops, features, scaled, norms)
    if rows.size < norms.size:
        scaled = ops.permuted(scaled, rows)
    halves = ops.to_device((norms[rows] * (scale * scale / 2)).astype(np.float32), scaled)
    return PointSet(ops, features, rows, counts, inverse, norms[rows], scaled, halves)


def _groups(ops: NumpyOps | TensorOps, features: Any, scaled: Any, norms: np.ndarray) -> tuple:
    """(first row of each group, group sizes, group of each row) for groups of rows with equal values."""
    count = norms.size
    weights = np.random.RandomState(_FINGERPRINT_SEED).uniform(0.5, 1.5, ops.width(scaled)).astype(np.float32)
    prints = ops.fingerprints(scaled, weights)
    order = np.lexsort((prints, norms))
    same = (norms[order][1:] == norms[order][:-1]) & (prints[order][1:] == prints[order][:-1])
    if not same.any():
        return np.arange(count), np.ones(count, np.int64), np.arange(count)
    group = np.arange(count)  # group id of each row: the smallest row of its group
    run_starts = np.flatnonzero(np.r_[True, ~same])
    for start, stop in zip(run_starts, np.r_[run_starts[1:], count]):
        if stop - start > 1:
            _confirm(ops, features, np.sort(order[start:stop]), group)
    rows, inverse, counts = np.unique(group, return_inverse=True, return_counts=True)
    return rows, counts, inverse


def _confirm(ops: NumpyOps | TensorOps, features: Any, members: np.ndarray, group: np.ndarray) -> None:
    """Give rows of `members` (increasing) with equal values the first such row as their group."""
    values = ops.rows64(features, members) + 0.0  # -0.0 and 0.0 are equal values
    first_of: dict[bytes, int] = {}
    for row, value in zip(members, values):
        group[row] = first_of.setdefault(value.tobytes(), int(row))
