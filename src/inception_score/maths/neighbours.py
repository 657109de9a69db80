"""k-nearest-neighbour metrics on feature vectors: precision/recall, density/coverage, realism.

Everything is computed from squared Euclidean distances in blocks of rows, so two sets of
50,000 x 2048 features need a few hundred MB besides the inputs, and the time is that of the
matrix products. How exact the distances are (see `squared_distances`): each block is
|x|^2 + |y|^2 - 2 x.y with the inputs converted to float64, so the products of float32 inputs
are exact and only the float64 sums round; the absolute error of a squared distance is at most
`distance_error_bound(d) * (|x|^2 + |y|^2)`, about 4.6e-13 * (|x|^2 + |y|^2) for d = 2048.
Entries at or below that bound (duplicates, near-duplicates) are recomputed as sum((x - y)^2),
so exact duplicates are at distance exactly 0.

Conventions (see docs/paper-table.md):
- the radius of a point is the distance to its k-th nearest OTHER point of the same set (the
  point itself is excluded by index, so a duplicate of it counts as a neighbour at distance 0);
- precision/recall use closed balls (distance <= radius), as Kynkaenniemi et al.'s code, the
  ADM evaluator and torch-fidelity do; density/coverage use open balls (distance < radius), as
  Naeem et al.'s code does, unless `closed_balls=True`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InceptionScoreError

BLOCK_ROWS = 2048  # rows per block: 2048 x 2048 float64 distances are 32 MiB
_PAIR_CHUNK = 4096  # pairs recomputed directly at a time


@dataclass(frozen=True)
class PrecisionRecall:
    """Improved precision and recall (Kynkaanniemi et al. 2019) with torch-fidelity's F-score."""

    precision: float  # share of fake points inside some real k-NN ball
    recall: float  # share of real points inside some fake k-NN ball
    f_score: float  # 2 P R / max(1e-5, P + R), as torch-fidelity reports it
    k: int
    real_count: int
    fake_count: int

    def to_dict(self) -> dict[str, Any]:
        return dict(
            precision=self.precision,
            recall=self.recall,
            f_score=self.f_score,
            k=self.k,
            real_count=self.real_count,
            fake_count=self.fake_count,
        )


@dataclass(frozen=True)
class DensityCoverage:
    """Density and coverage (Naeem et al. 2020)."""

    density: float  # mean number of real k-NN balls holding a fake point, divided by k
    coverage: float  # share of real k-NN balls holding at least one fake point
    k: int
    real_count: int
    fake_count: int
    closed_balls: bool = False  # False: distance < radius counts (Naeem et al.'s code)

    def to_dict(self) -> dict[str, Any]:
        return dict(
            density=self.density,
            coverage=self.coverage,
            k=self.k,
            real_count=self.real_count,
            fake_count=self.fake_count,
            closed_balls=self.closed_balls,
        )


@dataclass(frozen=True)
class Realism:
    """Per-fake-image realism score (Kynkaenniemi et al. 2019, section 5) and manifold membership.

    `scores[i]` = max over the kept real balls of radius_j / distance(fake_i, real_j); balls with a
    radius above the `prune_percentile` percentile of all radii are dropped (their score is 0), as
    the paper's code does. A fake point at distance 0 from the centre of a kept ball of positive
    radius (an exact copy of a real image) scores +inf; a ball of radius 0 contributes 0. Scores
    >= 1 lie inside some kept ball. The paper's code reports the square of this ratio (it divides
    squared distances, plus 1e-5): `scores ** 2` gives that figure.
    """

    scores: np.ndarray  # float64, one per fake point
    inside: np.ndarray  # bool, one per fake point: inside some (unpruned) real ball, as for precision
    nearest_real: np.ndarray  # int64, one per fake point: index of its nearest real point
    k: int
    prune_percentile: float

    def to_dict(self) -> dict[str, Any]:
        """Summary figures only (the per-image arrays stay out of JSON)."""
        finite = self.scores[np.isfinite(self.scores)]
        return dict(
            k=self.k,
            prune_percentile=self.prune_percentile,
            fake_count=int(self.scores.size),
            outside_count=int(np.count_nonzero(~self.inside)),
            infinite_count=int(self.scores.size - finite.size),
            median=float(np.median(self.scores)) if self.scores.size else 0.0,
        )


@dataclass(frozen=True)
class ManifoldMetrics:
    """Everything the k-NN balls give, from one pass over the real x fake distances."""

    precision_recall: PrecisionRecall
    density_coverage: DensityCoverage
    realism: Realism


def distance_error_bound(dim: int) -> float:
    """Relative bound on the rounding error of `squared_distances`.

    Parameters
    ----------
    dim : int
        Feature dimension d.

    Returns
    -------
    float
        gamma with |computed - exact| <= gamma * (|x|^2 + |y|^2) for every pair, where
        gamma = 2 * n * u / (1 - n * u), n = d + 2, u = 2**-53: the standard bound for float64
        dot products of length d (any summation order, with or without FMA) applied to
        |x|^2, |y|^2 and x.y, plus the two additions.
    """
    terms = dim + 2
    unit = 2.0**-53
    return 2.0 * terms * unit / (1.0 - terms * unit)


def check_features(values: Any, what: str, min_count: int) -> np.ndarray:
    """Validate an N x d array of features; returns it as an array (not copied, not converted).

    Parameters
    ----------
    values : array_like
        N x d real numbers.
    what : str
        Name used in error messages ("real features").
    min_count : int
        Fewest rows accepted.

    Returns
    -------
    numpy.ndarray
        The same values as an array of a real dtype.
    """
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[1] < 1:
        raise InceptionScoreError(f"expected {what} as N x d, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InceptionScoreError(f"expected {what} as real numbers, got dtype {array.dtype}")
    if array.shape[0] < min_count:
        raise InceptionScoreError(
            f"{what}: {array.shape[0]} points, need at least {min_count} (k + 1) to find each point's "
            f"k-th nearest other point"
        )
    for start in range(0, array.shape[0], BLOCK_ROWS):
        block = array[start : start + BLOCK_ROWS]
        if np.issubdtype(block.dtype, np.floating) and not np.all(np.isfinite(block)):
            bad = np.argwhere(~np.isfinite(block))[0]
            raise InceptionScoreError(
                f"{what} contain NaN or infinite values (first at row {start + bad[0]}, column {bad[1]})"
            )
    return array


def _check_same_dim(real: np.ndarray, fake: np.ndarray) -> None:
    if real.shape[1] != fake.shape[1]:
        raise InceptionScoreError(
            f"real and fake features differ in dimension: {real.shape[1]} vs {fake.shape[1]} "
            "(both must come from the same layer of the same network)"
        )


def _check_k(k: int, what: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InceptionScoreError(f"{what} must be a positive integer, got {k!r}")
    return int(k)


class _Blocks:
    """Row blocks of one feature set converted to float64, with their squared norms."""

    def __init__(self, features: np.ndarray, rows: int) -> None:
        self.features = features
        self.rows = rows
        self.starts = list(range(0, features.shape[0], rows))

    def block(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        values = np.asarray(self.features[start : start + self.rows], dtype=np.float64)
        return values, np.einsum("ij,ij->i", values, values)


def squared_distances(
    rows: np.ndarray, cols: np.ndarray, rows_sq: np.ndarray | None = None, cols_sq: np.ndarray | None = None
) -> np.ndarray:
    """Squared Euclidean distances between two blocks of points, in float64.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        m x d and n x d points (converted to float64).
    rows_sq, cols_sq : numpy.ndarray, optional
        Their squared norms, when already known.

    Returns
    -------
    numpy.ndarray
        m x n float64, >= 0. Computed as |x|^2 + |y|^2 - 2 x.y (one matrix product); entries at
        or below `distance_error_bound(d) * (max |x|^2 + max |y|^2)` are recomputed directly as
        sum((x - y)^2), so duplicates come out exactly 0 and near-duplicates keep their
        relative accuracy.
    """
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    if rows_sq is None:
        rows_sq = np.einsum("ij,ij->i", rows, rows)
    if cols_sq is None:
        cols_sq = np.einsum("ij,ij->i", cols, cols)
    out = np.matmul(rows, cols.T)
    out *= -2.0
    out += rows_sq[:, None]
    out += cols_sq[None, :]
    np.maximum(out, 0.0, out=out)
    scale = float(rows_sq.max(initial=0.0)) + float(cols_sq.max(initial=0.0))
    _recompute_small(out, rows, cols, distance_error_bound(rows.shape[1]) * scale)
    return out


def _recompute_small(out: np.ndarray, rows: np.ndarray, cols: np.ndarray, threshold: float) -> None:
    """Replace entries <= threshold by the direct sum of squared differences (cancellation-free)."""
    row_index, col_index = np.nonzero(out <= threshold)
    for start in range(0, row_index.size, _PAIR_CHUNK):
        r = row_index[start : start + _PAIR_CHUNK]
        c = col_index[start : start + _PAIR_CHUNK]
        difference = rows[r] - cols[c]
        out[r, c] = np.einsum("ij,ij->i", difference, difference)


def kth_neighbour_squared_distances(
    features: np.ndarray, ks: tuple[int, ...], *, block_rows: int = BLOCK_ROWS
) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point, for several k at once.

    Parameters
    ----------
    features : numpy.ndarray
        N x d points (any real dtype; used in float64 a block at a time).
    ks : tuple of int
        The neighbour ranks wanted, each >= 1.
    block_rows : int
        Rows per block; memory is a few block_rows^2 float64 arrays.

    Returns
    -------
    numpy.ndarray
        N x len(ks) float64. Each point's own entry is excluded by index, not by value, so an
        exact duplicate counts as a neighbour at distance 0. Only the upper triangle of blocks is
        computed (distances are symmetric).
    """
    ks = tuple(_check_k(k) for k in ks)
    largest = max(ks)
    features = check_features(features, "features", largest + 1)
    blocks = _Blocks(features, block_rows)
    nearest = np.full((features.shape[0], largest), np.inf)
    for position, i0 in enumerate(blocks.starts):
        rows, rows_sq = blocks.block(i0)
        for j0 in blocks.starts[position:]:
            cols, cols_sq = (rows, rows_sq) if j0 == i0 else blocks.block(j0)
            block = squared_distances(rows, cols, rows_sq, cols_sq)
            if j0 == i0:
                np.fill_diagonal(block, np.inf)  # a point is not its own neighbour
            _keep_smallest(nearest[i0 : i0 + len(rows)], block, largest)
            if j0 != i0:
                _keep_smallest(nearest[j0 : j0 + len(cols)], block.T, largest)
    nearest.sort(axis=1)
    return nearest[:, [k - 1 for k in ks]]


def _keep_smallest(nearest: np.ndarray, block: np.ndarray, count: int) -> None:
    """Merge a block of candidate distances into each row's `count` smallest (in place)."""
    merged = np.concatenate([nearest, block], axis=1)
    nearest[:] = np.partition(merged, count - 1, axis=1)[:, :count]


def knn_radii(features: np.ndarray, k: int, *, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set.

    Parameters
    ----------
    features : numpy.ndarray
        N x d points, N >= k + 1.
    k : int
        Neighbour rank (3 for precision/recall, 5 for density/coverage).
    block_rows : int
        Rows per block.

    Returns
    -------
    numpy.ndarray
        N float64 radii (Euclidean, not squared).
    """
    return np.sqrt(kth_neighbour_squared_distances(features, (k,), block_rows=block_rows)[:, 0])


class _CrossTally:
    """Running results of the pass over fake x real distance blocks."""

    def __init__(self, real_count: int, fake_count: int) -> None:
        self.fake_in_real = np.zeros(fake_count, bool)  # precision
        self.real_in_fake = np.zeros(real_count, bool)  # recall
        self.balls_holding_fake = np.zeros(fake_count, np.int64)  # density
        self.real_covered = np.zeros(real_count, bool)  # coverage
        self.best_ratio = np.zeros(fake_count)  # realism, squared
        self.nearest_distance = np.full(fake_count, np.inf)
        self.nearest_real = np.zeros(fake_count, np.int64)


def _tally_block(
    tally: _CrossTally, block: np.ndarray, fakes: slice, reals: slice, radii: dict[str, np.ndarray], closed_balls: bool
) -> None:
    """Update every count with one block of squared distances (rows: fake points, columns: real points)."""
    inside_real = block <= radii["real_pr"][None, reals]
    tally.fake_in_real[fakes] |= inside_real.any(axis=1)
    tally.real_in_fake[reals] |= (block <= radii["fake_pr"][fakes, None]).any(axis=0)
    compare = np.less_equal if closed_balls else np.less
    inside_dc = compare(block, radii["real_dc"][None, reals])
    tally.balls_holding_fake[fakes] += inside_dc.sum(axis=1)
    tally.real_covered[reals] |= inside_dc.any(axis=0)
    kept = radii["real_realism"][None, reals]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = kept / block  # 0/0 (pruned ball, zero distance) gives NaN, ignored by fmax
    tally.best_ratio[fakes] = np.fmax(tally.best_ratio[fakes], np.fmax.reduce(ratio, axis=1))
    nearest = block.argmin(axis=1)
    nearest_distance = block[np.arange(block.shape[0]), nearest]
    closer = nearest_distance < tally.nearest_distance[fakes]
    tally.nearest_distance[fakes] = np.where(closer, nearest_distance, tally.nearest_distance[fakes])
    tally.nearest_real[fakes] = np.where(closer, nearest + reals.start, tally.nearest_real[fakes])


def _cross_pass(
    real: np.ndarray, fake: np.ndarray, radii: dict[str, np.ndarray], closed_balls: bool, block_rows: int
) -> _CrossTally:
    tally = _CrossTally(real.shape[0], fake.shape[0])
    real_blocks, fake_blocks = _Blocks(real, block_rows), _Blocks(fake, block_rows)
    for f0 in fake_blocks.starts:
        fake_rows, fake_sq = fake_blocks.block(f0)
        for r0 in real_blocks.starts:
            real_rows, real_sq = real_blocks.block(r0)
            block = squared_distances(fake_rows, real_rows, fake_sq, real_sq)
            _tally_block(
                tally, block, slice(f0, f0 + len(fake_rows)), slice(r0, r0 + len(real_rows)), radii, closed_balls
            )
    return tally


def f_score(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall as torch-fidelity 0.4 reports it: 2PR / max(1e-5, P + R).

    Parameters
    ----------
    precision, recall : float
        Shares in [0, 1].

    Returns
    -------
    float
        The F-score; 0 when both are 0.
    """
    return 2.0 * precision * recall / max(1e-5, precision + recall)


def _pruned(squared_radii: np.ndarray, percentile: float) -> np.ndarray:
    """Radii above the given percentile of all radii set to 0 (the paper's code, for realism)."""
    if percentile >= 100.0:
        return squared_radii
    limit = np.percentile(squared_radii, percentile)
    return np.where(squared_radii > limit, 0.0, squared_radii)


def manifold_metrics(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    k_pr: int = 3,
    k_dc: int = 5,
    prune_percentile: float = 50.0,
    closed_balls: bool = False,
    block_rows: int = BLOCK_ROWS,
) -> ManifoldMetrics:
    """Precision, recall, F-score, density, coverage and per-image realism in three passes.

    Parameters
    ----------
    real, fake : numpy.ndarray
        Real (reference) and fake (generated) features, N x d and M x d, finite.
    k_pr : int
        Neighbour rank of the balls for precision, recall and realism (3 in the papers).
    k_dc : int
        Neighbour rank of the real balls for density and coverage (5 in Naeem et al.).
    prune_percentile : float
        Realism ignores real balls whose radius is above this percentile of the real radii
        (50 in the paper's code; 100 keeps every ball).
    closed_balls : bool
        Density/coverage count distance <= radius instead of < radius.
    block_rows : int
        Rows per block (memory ~ 10 * block_rows^2 * 8 bytes besides the inputs).

    Returns
    -------
    ManifoldMetrics
        The three results. Cost: the real x real and fake x fake products (upper triangles
        only) and one real x fake product: 2 N M d + N^2 d + M^2 d multiply-adds.
    """
    k_pr, k_dc = _check_k(k_pr, "k_pr"), _check_k(k_dc, "k_dc")
    if not 0.0 < prune_percentile <= 100.0:
        raise InceptionScoreError(f"prune_percentile must be in (0, 100], got {prune_percentile!r}")
    real = check_features(real, "real features", max(k_pr, k_dc) + 1)
    fake = check_features(fake, "fake features", k_pr + 1)
    _check_same_dim(real, fake)
    real_radii = kth_neighbour_squared_distances(real, (k_pr, k_dc), block_rows=block_rows)
    fake_radii = kth_neighbour_squared_distances(fake, (k_pr,), block_rows=block_rows)
    radii = dict(
        real_pr=real_radii[:, 0],
        real_dc=real_radii[:, 1],
        fake_pr=fake_radii[:, 0],
        real_realism=_pruned(real_radii[:, 0], prune_percentile),
    )
    tally = _cross_pass(real, fake, radii, closed_balls, block_rows)
    real_count, fake_count = real.shape[0], fake.shape[0]
    precision = float(np.count_nonzero(tally.fake_in_real)) / fake_count
    recall = float(np.count_nonzero(tally.real_in_fake)) / real_count
    return ManifoldMetrics(
        precision_recall=PrecisionRecall(precision, recall, f_score(precision, recall), k_pr, real_count, fake_count),
        density_coverage=DensityCoverage(
            float(tally.balls_holding_fake.sum()) / (k_dc * fake_count),
            float(np.count_nonzero(tally.real_covered)) / real_count,
            k_dc,
            real_count,
            fake_count,
            closed_balls,
        ),
        realism=Realism(
            np.sqrt(np.nan_to_num(tally.best_ratio, nan=0.0, posinf=math.inf)),
            tally.fake_in_real,
            tally.nearest_real,
            k_pr,
            float(prune_percentile),
        ),
    )


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = 3, *, block_rows: int = BLOCK_ROWS
) -> PrecisionRecall:
    """Improved precision and recall (Kynkaenniemi et al. 2019).

    Parameters
    ----------
    real, fake : numpy.ndarray
        Real (reference) and fake (generated) features, N x d and M x d, at least k + 1 each.
    k : int
        A point's ball has the radius of its k-th nearest other point of the same set.
    block_rows : int
        Rows per block.

    Returns
    -------
    PrecisionRecall
        precision = share of fake points within distance <= radius of some real point; recall =
        share of real points within some fake point's radius; f_score as torch-fidelity.

    Notes
    -----
    torch-fidelity's ``calculate_precision_recall_full(features_1, features_2)`` takes the
    GENERATED features first; here the real ones come first, as in the ADM evaluator.
    """
    metrics = manifold_metrics(real, fake, k_pr=k, k_dc=k, prune_percentile=100.0, block_rows=block_rows)
    return metrics.precision_recall


def density_coverage(
    real: np.ndarray, fake: np.ndarray, k: int = 5, *, closed_balls: bool = False, block_rows: int = BLOCK_ROWS
) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020), balls around real points only.

    Parameters
    ----------
    real, fake : numpy.ndarray
        Real and fake features; at least k + 1 real points.
    k : int
        Neighbour rank of the real balls.
    closed_balls : bool
        Count distance <= radius (False: distance < radius, as Naeem et al.'s code).
    block_rows : int
        Rows per block.

    Returns
    -------
    DensityCoverage
        density = sum over fakes of the number of real balls holding it, / (k M); coverage =
        share of real balls holding at least one fake point.
    """
    k = _check_k(k)
    metrics = manifold_metrics(
        real, fake, k_pr=1, k_dc=k, prune_percentile=100.0, closed_balls=closed_balls, block_rows=block_rows
    )
    return metrics.density_coverage


def realism_scores(
    real: np.ndarray, fake: np.ndarray, k: int = 3, *, prune_percentile: float = 50.0, block_rows: int = BLOCK_ROWS
) -> Realism:
    """Per-fake-image realism score (Kynkaenniemi et al. 2019); see `Realism` for the conventions.

    Parameters
    ----------
    real, fake : numpy.ndarray
        Real and fake features.
    k : int
        Neighbour rank of the real balls.
    prune_percentile : float
        Real balls with a radius above this percentile are ignored (50 as the paper's code).
    block_rows : int
        Rows per block.

    Returns
    -------
    Realism
        Scores, inside-flags and nearest real index per fake point.
    """
    return manifold_metrics(
        real, fake, k_pr=k, k_dc=k, prune_percentile=prune_percentile, block_rows=block_rows
    ).realism
