"""The fake x real pass: ball memberships, nearest real point and realism, exact in knn_bound's float64 distances.

Each float32 block (rows: fake points, columns: real points, w~ = -s^2 d~ / 2) is filtered on the
device: a pair is kept when some test could hold within the bound beta of knn_bound (w~ reaches a
radius minus beta, or the row's best so far minus 2 beta, or the realism key's threshold). The few
kept pairs are decided on the CPU: by the bound when it is clear of the radius, else on their float64
distance. Realism is max over the kept real balls of radius^2 / distance^2; its key per pair is
w~ * 2 / (s^2 radius^2) (about -distance^2 / radius^2), filtered against the row's best lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .knn_arrays import exact_pair_distances
from .knn_bound import FLOAT32_UNIT, Float32Bound, round_down32
from .knn_sets import PointSet

_CHUNK = 256  # one realism threshold per 256 columns (sorted by radius, so their factors are close)
_LARGEST_FACTOR = 2.0**100  # realism factors above this (absurdly small balls) are handled pair by pair


@dataclass
class Radii:
    """Squared radii per point, float64, in the order of the sets given to `cross_pass`; None: not wanted."""

    real_pr: np.ndarray | None  # precision balls (closed)
    real_dc: np.ndarray | None  # density/coverage balls
    fake_pr: np.ndarray | None  # recall balls (closed)
    realism: np.ndarray | None  # kept realism balls, 0 = not kept; nonzero ones first, decreasing (also: nearest)


@dataclass
class Tally:
    """Per distinct fake / real point: what the pass found."""

    fake_in_real: np.ndarray  # bool per fake: in some real precision ball
    real_in_fake: np.ndarray  # bool per real: in some fake ball
    balls_holding_fake: np.ndarray  # int64 per fake: real density balls (rows counted) holding it
    real_covered: np.ndarray  # bool per real: its density ball holds some fake
    best_ratio: np.ndarray  # float64 per fake: max radius^2 / distance^2 over kept balls (inf at distance 0)
    nearest_row: np.ndarray  # int64 per fake: row of `real.features` of its nearest real point


@dataclass
class _Pending:
    """Candidate pairs of one fake block kept for the row-wise answers (nearest, realism)."""

    fakes: list[np.ndarray] = field(default_factory=list)
    reals: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    def add(self, fakes: np.ndarray, reals: np.ndarray, values: np.ndarray) -> None:
        self.fakes.append(fakes)
        self.reals.append(reals)
        self.values.append(values.astype(np.float64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.fakes:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(self.fakes), np.concatenate(self.reals), np.concatenate(self.values)


class _Cross:
    """State of one fake x real pass."""

    def __init__(self, fake: PointSet, real: PointSet, radii: Radii, closed: bool, bound: Float32Bound) -> None:
        self.fake, self.real, self.radii, self.closed, self.bound = fake, real, radii, closed, bound
        half_square = bound.scale * bound.scale / 2.0
        self.half_square = half_square
        self.fake_slack = bound.half_scaled(fake.norms, float(real.norms.max(initial=0.0)))
        real_slack = bound.half_scaled(real.norms, float(fake.norms.max(initial=0.0)))
        real_radii = [values for values in (radii.real_pr, radii.real_dc) if values is not None]
        self.col_limits = round_down32(-half_square * np.maximum.reduce(real_radii) - real_slack)
        no_balls = np.full(fake.size, np.inf)  # w~ >= +inf never holds: no row test
        self.ball_limits = no_balls if radii.fake_pr is None else -half_square * radii.fake_pr - self.fake_slack
        self.nearest = radii.realism is not None
        self.best = np.full(fake.size, -np.inf if self.nearest else np.inf)  # largest w~ seen per fake
        self.kept = 0 if radii.realism is None else int(np.count_nonzero(radii.realism))
        factors = np.zeros(real.size)
        if radii.realism is not None:
            factors[: self.kept] = 1.0 / (half_square * radii.realism[: self.kept])
        self.factors = factors
        self.dense_kept = int(np.count_nonzero(factors[: self.kept] <= _LARGEST_FACTOR))
        self.factors32 = factors.astype(np.float32)
        self.realism_floor = np.full(fake.size, -np.inf)  # lower bound of each fake's best realism key
        self.tally = Tally(
            np.zeros(fake.size, bool),
            np.zeros(real.size, bool),
            np.zeros(fake.size, np.int64),
            np.zeros(real.size, bool),
            np.zeros(fake.size),
            np.zeros(fake.size, np.int64),
        )

    def pair_slack(self, fakes: np.ndarray, reals: np.ndarray) -> np.ndarray:
        return self.bound.half_scaled(self.fake.norms[fakes], self.real.norms[reals])

    def exact(self, fakes: np.ndarray, reals: np.ndarray) -> np.ndarray:
        return exact_pair_distances(
            self.fake.ops, self.fake.features, self.real.features, self.fake.rows[fakes], self.real.rows[reals]
        )


def cross_pass(
    fake: PointSet, real: PointSet, radii: Radii, closed_balls: bool, bound: Float32Bound, block_rows: int
) -> Tally:
    """Every count of the fake x real pass, exact in knn_bound's float64 distances."""
    state = _Cross(fake, real, radii, closed_balls, bound)
    for f0 in range(0, fake.size, block_rows):
        f1 = min(fake.size, f0 + block_rows)
        nearest, realism = _Pending(), _Pending()
        for r0 in range(0, real.size, block_rows):
            r1 = min(real.size, r0 + block_rows)
            block = fake.ops.block(fake.scaled[f0:f1], real.scaled[r0:r1], fake.halves[f0:f1], real.halves[r0:r1])
            _balls_and_nearest(state, block, f0, r0, r1, nearest)
            if r0 < state.dense_kept:
                _realism_candidates(state, block, f0, r0, min(r1, state.dense_kept), realism)
        if state.nearest:
            _finish_nearest(state, *nearest.arrays())
            _finish_realism(state, f0, f1, *realism.arrays())
    return state.tally


def _balls_and_nearest(state: _Cross, block, f0: int, r0: int, r1: int, nearest: _Pending) -> None:
    ops, rows = state.fake.ops, slice(f0, f0 + block.shape[0])
    if state.nearest:
        best, _ = ops.row_best(block)
        state.best[rows] = np.maximum(state.best[rows], best)
    near_limit = state.best[rows] - 2.0 * state.fake_slack[rows]
    row_limits = round_down32(np.minimum(state.ball_limits[rows], near_limit))
    flat, values = ops.candidates(block, row_limits, state.col_limits[r0:r1])
    if flat.size == 0:
        return
    r, c = np.divmod(flat, r1 - r0)
    fakes, reals = f0 + r, r0 + c
    close = values.astype(np.float64) >= near_limit[r]
    nearest.add(fakes[close], reals[close], values[close])
    _decide_balls(state, fakes, reals, values.astype(np.float64))


def _decide_balls(state: _Cross, fakes: np.ndarray, reals: np.ndarray, values: np.ndarray) -> None:
    """Precision, recall, density and coverage for candidate pairs: by the bound, else in float64."""
    slack = state.pair_slack(fakes, reals)
    radii, h = state.radii, state.half_square
    tests = {
        name: (radius[index], closed)
        for name, radius, index, closed in (
            ("precision", radii.real_pr, reals, True),
            ("density", radii.real_dc, reals, state.closed),
            ("recall", radii.fake_pr, fakes, True),
        )
        if radius is not None
    }
    margins = {name: values + h * radius for name, (radius, _) in tests.items()}  # w~ - (-s^2 R / 2)
    undecided = {name: np.abs(margin) <= slack for name, margin in margins.items()}
    unsure = np.logical_or.reduce(list(undecided.values()))
    exact = np.full(values.size, np.nan)
    exact[unsure] = state.exact(fakes[unsure], reals[unsure])
    inside = {}
    for name, (radius, closed) in tests.items():
        held, open_ = margins[name] > slack, undecided[name]
        held[open_] = exact[open_] <= radius[open_] if closed else exact[open_] < radius[open_]
        inside[name] = held
    tally = state.tally
    if "precision" in inside:
        tally.fake_in_real[fakes[inside["precision"]]] = True
    if "density" in inside:
        held = inside["density"]
        np.add.at(tally.balls_holding_fake, fakes[held], state.real.counts[reals[held]])
        tally.real_covered[reals[held]] = True
    if "recall" in inside:
        tally.real_in_fake[reals[inside["recall"]]] = True


def _realism_candidates(state: _Cross, block, f0: int, r0: int, stop: int, realism: _Pending) -> None:
    """Pairs whose realism key (w~ times the ball's factor) could be their row's largest."""
    ops, rows = state.fake.ops, slice(f0, f0 + block.shape[0])
    keys = ops.scaled_columns(block, stop - r0, state.factors32[r0:stop])
    _, best = ops.row_best(keys)
    reals = r0 + best
    width = block.shape[1]
    at_best = ops.take(block, np.arange(block.shape[0]) * width + best).astype(np.float64)
    fakes = np.arange(rows.start, rows.stop)
    floor = (at_best - state.pair_slack(fakes, reals)) * state.factors[reals]
    floor -= np.abs(floor) * 2.0**-50  # a lower bound in spite of the float64 rounding
    state.realism_floor[rows] = np.maximum(state.realism_floor[rows], np.minimum(floor, 0.0))
    for a in range(r0, stop, _CHUNK):
        b = min(stop, a + _CHUNK)
        top = float(state.factors[a:b].max())
        # key >= floor - beta * factor, with float32's rounding of the key and underflow allowed for
        limit = (state.realism_floor[rows] - state.fake_slack[rows] * top) * (1 + 4 * FLOAT32_UNIT) - 2.0**-125
        flat, _ = ops.candidates(keys[:, a - r0 : b - r0], round_down32(limit), None)
        if flat.size:
            r, c = np.divmod(flat, b - a)
            realism.add(f0 + r, a + c, ops.take(block, r * width + (a - r0) + c))


def _finish_nearest(state: _Cross, fakes: np.ndarray, reals: np.ndarray, values: np.ndarray) -> None:
    """Each fake's nearest real row: among candidates the bound cannot rule out, the least float64 distance."""
    slack = state.pair_slack(fakes, reals)
    floor = np.full(state.fake.size, -np.inf)
    np.maximum.at(floor, fakes, values - slack)
    keep = values + slack >= floor[fakes]
    fakes, reals = fakes[keep], reals[keep]
    several = np.bincount(fakes, minlength=state.fake.size)[fakes] > 1
    distance = np.zeros(fakes.size)
    distance[several] = state.exact(fakes[several], reals[several])
    rows = state.real.rows[reals]
    order = np.lexsort((rows, distance, fakes))
    first = np.r_[True, fakes[order][1:] != fakes[order][:-1]]
    state.tally.nearest_row[fakes[order][first]] = rows[order][first]


def _finish_realism(state: _Cross, f0: int, f1: int, fakes: np.ndarray, reals: np.ndarray, values: np.ndarray) -> None:
    """max radius^2 / distance^2 per fake over the realism candidates that can reach its row's lower bound."""
    if state.dense_kept < state.kept:  # balls too small for a float32 factor: every fake of the block, exactly
        extra = np.arange(state.dense_kept, state.kept)
        fakes = np.r_[fakes, np.repeat(np.arange(f0, f1), extra.size)]
        reals = np.r_[reals, np.tile(extra, f1 - f0)]
        values = np.r_[values, np.zeros((f1 - f0) * extra.size)]
        keep = np.ones(fakes.size, bool)
    else:
        upper = (values + state.pair_slack(fakes, reals)) * state.factors[reals]
        keep = upper + np.abs(upper) * 2.0**-50 >= state.realism_floor[fakes]
    fakes, reals = fakes[keep], reals[keep]
    distance = state.exact(fakes, reals)
    assert state.radii.realism is not None
    radius = state.radii.realism[reals]
    with np.errstate(divide="ignore"):
        ratio = np.where(distance > 0, radius / np.where(distance > 0, distance, 1.0), np.inf)
    np.maximum.at(state.tally.best_ratio, fakes, ratio)
