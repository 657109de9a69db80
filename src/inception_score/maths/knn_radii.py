"""The k-th nearest other point of every point of a set, exact in knn_bound's float64 distances, from float32 blocks.

One pass over the upper triangle of float32 blocks (w~ = -s^2 d~ / 2: larger is nearer). Each point
keeps a shortlist of its nearest candidates. A pair enters a shortlist only if its w~ could still be
among the k nearest: w~ >= (the k-th best w~ so far) - 2 beta, beta the bound of knn_bound for that
point (its norm and the set's largest). At the end the shortlist entries within 2 beta of the k-th
are the only points whose float64 distance can be at or below the k-th radius, so the k-th
neighbour is chosen among their exact float64 distances. A point whose shortlist had to drop such a
candidate (more near-ties than slots) is recomputed against the whole set in float64.
"""

from __future__ import annotations

import numpy as np

from .knn_arrays import exact_pair_distances
from .knn_bound import Float32Bound, exact_squared_distances, round_down32
from .knn_sets import PointSet

_EXTRA_SLOTS = 8  # shortlist room beyond k for near-ties


class _Shortlists:
    """Per point, its `slots` largest w~ seen so far (descending), their partners, and the largest it dropped."""

    def __init__(self, size: int, slots: int) -> None:
        self.values = np.full((size, slots), -np.inf, np.float32)
        self.partners = np.full((size, slots), -1, np.int64)
        self.dropped = np.full(size, -np.inf, np.float32)

    def merge(self, points: np.ndarray, partners: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Add candidate pairs; returns the points whose shortlist changed."""
        slots = self.values.shape[1]
        order = np.lexsort((-values, points))
        points, partners, values = points[order], partners[order], values[order]
        starts = np.flatnonzero(np.r_[True, points[1:] != points[:-1]])
        group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, points.size]))
        rank = np.arange(points.size) - starts[group]
        over = rank >= slots
        if over.any():
            np.maximum.at(self.dropped, points[over], values[over])
        touched = points[starts]
        new_values = np.full((touched.size, slots), -np.inf, np.float32)
        new_partners = np.full((touched.size, slots), -1, np.int64)
        new_values[group[~over], rank[~over]] = values[~over]
        new_partners[group[~over], rank[~over]] = partners[~over]
        both_values = np.concatenate([self.values[touched], new_values], axis=1)
        both_partners = np.concatenate([self.partners[touched], new_partners], axis=1)
        best = np.argsort(-both_values, axis=1, kind="stable")
        self.values[touched] = np.take_along_axis(both_values, best[:, :slots], axis=1)
        self.partners[touched] = np.take_along_axis(both_partners, best[:, :slots], axis=1)
        left = np.take_along_axis(both_values, best[:, slots : slots + 1], axis=1)[:, 0]
        self.dropped[touched] = np.maximum(self.dropped[touched], left)
        return touched


def _thresholds(lists: _Shortlists, points: np.ndarray, needed: np.ndarray, counts: np.ndarray, slack: np.ndarray):
    """float64 w~ a candidate of each point must reach: k-th best minus 2 beta (+inf: none needed; -inf: any)."""
    values, partners = lists.values[points], lists.partners[points]
    weights = np.where(partners >= 0, counts[np.maximum(partners, 0)], 0)
    reach = np.cumsum(weights, axis=1) >= needed[points, None]
    position = reach.argmax(axis=1)
    kth = values[np.arange(points.size), position].astype(np.float64)
    found = np.where(reach.any(axis=1), kth - 2.0 * slack[points], -np.inf)
    return np.where(needed[points] <= 0, np.inf, found)


def self_radii(points: PointSet, ks: tuple[int, ...], bound: Float32Bound, block_rows: int) -> np.ndarray:
    """U x len(ks) float64: each point's exact squared distance to its k-th nearest other row, per k."""
    ops, size, largest = points.ops, points.size, max(ks)
    slots = largest + _EXTRA_SLOTS
    lists = _Shortlists(size, slots)
    slack = bound.half_scaled(points.norms, float(points.norms.max(initial=0.0)))
    needed = largest - (points.counts - 1)  # own copies are neighbours at distance 0
    starts = list(range(0, size, block_rows))
    rows, halves = points.scaled, points.halves
    for i0 in starts:  # diagonal blocks first: every point gets a first shortlist from its own block
        i1 = min(size, i0 + block_rows)
        block = ops.block(rows[i0:i1], rows[i0:i1], halves[i0:i1], halves[i0:i1])
        ops.exclude_diagonal(block)
        head = min(i1 - i0, ops.top_columns or i1 - i0)  # numpy: a full top-k per row costs more than the product
        values, columns = ops.row_top(block[:, :head], min(slots + 1, head))
        kept = min(slots, values.shape[1])
        lists.values[i0:i1, :kept] = values[:, :kept]
        lists.partners[i0:i1, :kept] = np.where(np.isfinite(values[:, :kept]), columns[:, :kept] + i0, -1)
        if values.shape[1] > slots:
            lists.dropped[i0:i1] = values[:, slots]
        if head < i1 - i0:  # the block's other columns, through the thresholds that first shortlist gives
            here = np.arange(i0, i1)
            limits = round_down32(_thresholds(lists, here, needed, points.counts, slack))
            flat, values = ops.candidates(block[:, head:], limits, None)
            r, c = np.divmod(flat, i1 - i0 - head)
            finite = np.isfinite(values)
            lists.merge(i0 + r[finite], i0 + head + c[finite], values[finite])
    limits = round_down32(_thresholds(lists, np.arange(size), needed, points.counts, slack))
    for position, i0 in enumerate(starts):
        i1 = min(size, i0 + block_rows)
        for j0 in starts[position + 1 :]:
            j1 = min(size, j0 + block_rows)
            block = ops.block(rows[i0:i1], rows[j0:j1], halves[i0:i1], halves[j0:j1])
            flat, values = ops.candidates(block, limits[i0:i1], limits[j0:j1])
            if flat.size == 0:
                continue
            r, c = np.divmod(flat, j1 - j0)
            to_row, to_col = values >= limits[i0 + r], values >= limits[j0 + c]  # (no -inf off the diagonal)
            touched = lists.merge(
                np.r_[i0 + r[to_row], j0 + c[to_col]], np.r_[j0 + c[to_row], i0 + r[to_col]],
                np.r_[values[to_row], values[to_col]],
            )  # fmt: skip
            limits[touched] = round_down32(_thresholds(lists, touched, needed, points.counts, slack))
    return _finish(points, lists, ks, slack)


def _finish(points: PointSet, lists: _Shortlists, ks: tuple[int, ...], slack: np.ndarray) -> np.ndarray:
    """Each k-th radius from the shortlists: entries more than 2 beta nearer than the k-th are counted,
    those more than 2 beta farther are left out, and the k-th is chosen among the float64 distances of
    the rest (a point whose shortlist dropped one of those is recomputed against the whole set)."""
    size = points.size
    values = lists.values.astype(np.float64)
    listed = lists.partners >= 0
    weights = np.where(listed, points.counts[np.maximum(lists.partners, 0)], 0)
    cumulative = np.cumsum(weights, axis=1)
    band = 2.0 * slack
    radii = np.zeros((size, len(ks)))
    redo = np.zeros(size, bool)
    plans = []
    for k in ks:
        needed = k - (points.counts - 1)  # own copies are neighbours at distance 0
        reach = cumulative >= needed[:, None]
        redo |= (needed > 0) & ~reach.any(axis=1)
        kth = values[np.arange(size), reach.argmax(axis=1)]
        unsure = (np.abs(values - kth[:, None]) <= band[:, None]) & listed & (needed > 0)[:, None]
        rank = needed - (weights * (values > (kth + band)[:, None])).sum(axis=1)  # the rank-th of the unsure
        redo |= (needed > 0) & (lists.dropped.astype(np.float64) >= kth - band)
        plans.append((needed, unsure, rank))
    owner, slot = np.nonzero(np.logical_or.reduce([unsure for _, unsure, _ in plans]))
    exact = np.full(values.shape, np.inf)
    exact[owner, slot] = exact_pair_distances(
        points.ops, points.features, points.features, points.rows[owner], points.rows[lists.partners[owner, slot]]
    )
    for column, (needed, unsure, rank) in enumerate(plans):
        table = np.where(unsure, exact, np.inf)
        order = np.argsort(table, axis=1, kind="stable")
        ranked = np.cumsum(np.take_along_axis(np.where(unsure, weights, 0), order, axis=1), axis=1)
        position = (ranked >= rank[:, None]).argmax(axis=1)
        kth = np.take_along_axis(table, order, axis=1)[np.arange(size), position]
        radii[:, column] = np.where(needed > 0, kth, 0.0)
    for point in np.flatnonzero(redo):
        radii[point] = _exact_row_radii(points, int(point), ks)
    return radii


def _exact_row_radii(points: PointSet, point: int, ks: tuple[int, ...]) -> np.ndarray:
    """The k-th radii of one point from its float64 distance to every other point (near-ties beyond the slots)."""
    ops = points.ops
    own = ops.rows64(points.features, points.rows[point : point + 1])
    distances = np.concatenate(
        [
            exact_squared_distances(own, ops.rows64(points.features, points.rows[start : start + 4096]))
            for start in range(0, points.size, 4096)
        ]
    )
    counts = points.counts.copy()
    counts[point] -= 1  # itself is not its own neighbour; its copies are, at distance 0
    order = np.argsort(distances, kind="stable")
    cumulative = np.cumsum(counts[order])
    return np.array([distances[order][np.searchsorted(cumulative, k)] for k in ks])
