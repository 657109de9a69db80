"""k-nearest-neighbour metrics on feature vectors: precision/recall, density/coverage, realism.

What the counts are: comparisons of the float64 squared distances sum((x - y)^2) (`squared_distances`,
knn_bound's definition), the numbers a plain float64 implementation computes; a radius and a
distance between the same two points are one number, so ties are decided once (two identical sets
give precision = recall = density = coverage = 1). How they are computed: from float32 matrix
products in blocks of rows (bounded memory; on the device of torch tensors, with numpy otherwise),
each squared distance within a proven bound of its float64 value (knn_bound); a comparison the bound
cannot decide (a distance near a radius, a near-tie for a k-th or nearest neighbour, for the best
realism ratio) is made again on the float64 distance, so every count is the float64 count. The cost
is that of the products: the real x real and fake x fake upper triangles and the real x fake blocks.
Rows with equal values are merged into one point with a multiplicity (knn_sets).

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
from .knn_arrays import NumpyOps, TensorOps, check_tensor, is_tensor, ops_for
from .knn_bound import Float32Bound, exact_squared_distances
from .knn_cross import Radii, Tally, cross_pass
from .knn_radii import self_radii
from .knn_sets import PointSet, centred_sets

BLOCK_ROWS = 2048  # rows per float32 block on the CPU: 2048 x 2048 float32 is 16 MiB
DEVICE_BLOCK_ROWS = 8192  # on a GPU: 256 MiB blocks keep it busy


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
        """Summary figures only (the per-image arrays stay out of JSON); every number finite.

        `median` is None when it is infinite (more than half the fake points are copies of the
        centres of kept balls); `infinite_count` says how many are.
        """
        finite = self.scores[np.isfinite(self.scores)]
        median = float(np.median(self.scores)) if self.scores.size else 0.0
        return dict(
            k=self.k,
            prune_percentile=self.prune_percentile,
            fake_count=int(self.scores.size),
            outside_count=int(np.count_nonzero(~self.inside)),
            infinite_count=int(self.scores.size - finite.size),
            median=median if math.isfinite(median) else None,
        )


@dataclass(frozen=True)
class ManifoldMetrics:
    """Everything the k-NN balls give, from one pass over the real x fake distances (None: not asked for)."""

    precision_recall: PrecisionRecall | None
    density_coverage: DensityCoverage | None
    realism: Realism | None  # with precision/recall: it uses their balls


def distance_error_bound(dim: int) -> float:
    """The coefficient G of the float32 distances' error bound (see `knn_bound`).

    Parameters
    ----------
    dim : int
        Feature dimension d.

    Returns
    -------
    float
        G with |d~ - D| <= G (|x|^2 + |y|^2) (plus an absolute term below 1e-33 of the data's scale
        squared) for an IEEE float32 matrix product: about 2.45e-4 for d = 2048.
    """
    return Float32Bound.for_product(dim, 1.0).relative


def check_features(values: Any, what: str, min_count: int) -> Any:
    """Validate an N x d array (or torch tensor) of features; returns it (not copied, not converted).

    Parameters
    ----------
    values : array_like or torch.Tensor
        N x d real numbers.
    what : str
        Name used in error messages ("real features").
    min_count : int
        Fewest rows accepted.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The same values as an array of a real dtype (a tensor stays a tensor, on its device).
    """
    if is_tensor(values):
        return check_tensor(values, what, min_count)
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


def _check_same_dim(real: Any, fake: Any) -> None:
    if real.shape[1] != fake.shape[1]:
        raise InceptionScoreError(
            f"real and fake features differ in dimension: {real.shape[1]} vs {fake.shape[1]} "
            "(both must come from the same layer of the same network)"
        )


def _check_k(k: int, what: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InceptionScoreError(f"{what} must be a positive integer, got {k!r}")
    return int(k)


def squared_distances(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between two sets of points, as every count defines them (float64).

    Parameters
    ----------
    rows, cols : numpy.ndarray
        m x d and n x d points.

    Returns
    -------
    numpy.ndarray
        m x n float64: sum((x - y)^2) over float64 rows (knn_bound's definition), so duplicates are
        exactly 0 and the matrix is exactly symmetric. O(m n d) work with no matrix product: for
        checks and small sets; the metrics get the same numbers from float32 products.
    """
    rows, cols = np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
    out = np.empty((rows.shape[0], cols.shape[0]))
    for index in range(rows.shape[0]):
        out[index] = exact_squared_distances(rows[index : index + 1], cols)
    return out


def _block_rows(ops: NumpyOps | TensorOps, block_rows: int | None) -> int:
    if block_rows is not None:
        if isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer)) or block_rows < 1:
            raise InceptionScoreError(f"block_rows must be a positive integer, got {block_rows!r}")
        return int(block_rows)
    return DEVICE_BLOCK_ROWS if isinstance(ops, TensorOps) and ops.reference.device.type != "cpu" else BLOCK_ROWS


def _prepared(sets: list[Any], block_rows: int | None) -> tuple[list[PointSet], Float32Bound, int]:
    """Point sets of checked features with one scale, the bound for them, and the block size."""
    if any(is_tensor(values) for values in sets):
        like = next(values for values in sets if is_tensor(values))
        sets = [values if is_tensor(values) else like.new_tensor(np.asarray(values)) for values in sets]
        if len({str(values.device) for values in sets}) > 1:
            raise InceptionScoreError(
                f"real and fake features are on different devices ({', '.join(str(v.device) for v in sets)}); "
                "move them to one"
            )
    ops = ops_for(sets[0])
    rows = _block_rows(ops, block_rows)
    points, scale = centred_sets(ops, sets, rows)
    rounding = ops.measure_product_rounding(points[0].scaled, sets[0].shape[1]) if isinstance(ops, TensorOps) else 0.0
    return points, Float32Bound.for_product(int(sets[0].shape[1]), scale, rounding), rows


def kth_neighbour_squared_distances(
    features: np.ndarray, ks: tuple[int, ...], *, block_rows: int | None = None
) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point, for several k at once.

    Parameters
    ----------
    features : numpy.ndarray or torch.Tensor
        N x d points (a tensor is processed on its device).
    ks : tuple of int
        The neighbour ranks wanted, each >= 1.
    block_rows : int, optional
        Rows per float32 block (default 2048; 8192 on a GPU); memory is a few such blocks.

    Returns
    -------
    numpy.ndarray
        N x len(ks) float64, exactly the k-th smallest of the float64 distances `squared_distances`
        gives. Each point's own entry is excluded by index, not by value, so an exact duplicate
        counts as a neighbour at distance 0.
    """
    ks = tuple(_check_k(k) for k in ks)
    features = check_features(features, "features", max(ks) + 1)
    (points,), bound, rows = _prepared([features], block_rows)
    return self_radii(points, ks, bound, rows)[points.inverse]


def knn_radii(features: np.ndarray, k: int, *, block_rows: int | None = None) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set.

    Parameters
    ----------
    features : numpy.ndarray or torch.Tensor
        N x d points, N >= k + 1.
    k : int
        Neighbour rank (3 for precision/recall, 5 for density/coverage).
    block_rows : int, optional
        Rows per block.

    Returns
    -------
    numpy.ndarray
        N float64 radii (Euclidean, not squared).
    """
    return np.sqrt(kth_neighbour_squared_distances(features, (k,), block_rows=block_rows)[:, 0])


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


def manifold_minimum(k_pr: int, k_dc: int, precision_recall: bool = True, density_coverage: bool = True) -> tuple:
    """(fewest real points, fewest fake points) `manifold_metrics` accepts for what is asked.

    Precision/recall (and realism) need k_pr + 1 points on each side (each point's k-th nearest other
    point of its own set); density/coverage need k_dc + 1 real points and one fake point.
    """
    real = max(k_pr + 1 if precision_recall else 0, k_dc + 1 if density_coverage else 0)
    return real, k_pr + 1 if precision_recall else 1


def manifold_metrics(
    real: Any,
    fake: Any,
    *,
    k_pr: int = 3,
    k_dc: int = 5,
    prune_percentile: float = 50.0,
    closed_balls: bool = False,
    block_rows: int | None = None,
    precision_recall: bool = True,
    density_coverage: bool = True,
) -> ManifoldMetrics:
    """Precision, recall, F-score, density, coverage and per-image realism in three passes.

    Parameters
    ----------
    real, fake : numpy.ndarray or torch.Tensor
        Real (reference) and fake (generated) features, N x d and M x d, finite. Tensors are
        processed on their device (a numpy array beside a tensor is copied to the tensor's device);
        the results are the same numbers on every device.
    k_pr : int
        Neighbour rank of the balls for precision, recall and realism (3 in the papers).
    k_dc : int
        Neighbour rank of the real balls for density and coverage (5 in Naeem et al.).
    prune_percentile : float
        Realism ignores real balls whose radius is above this percentile of the real radii
        (50 in the paper's code; 100 keeps every ball).
    closed_balls : bool
        Density/coverage count distance <= radius instead of < radius.
    block_rows : int, optional
        Rows per float32 block (default 2048, 8192 on a GPU; memory ~ 3 * block_rows^2 * 4 bytes
        besides a float32 copy of the inputs).
    precision_recall, density_coverage : bool
        What to compute (at least one); realism comes with precision/recall. The fewest points
        accepted follow (`manifold_minimum`).

    Returns
    -------
    ManifoldMetrics
        The results asked for (None for the others). Cost: float32 products of the real x real and
        fake x fake upper triangles and of every real x fake pair, N^2 d + M^2 d + 2 N M d
        multiply-adds (no fake x fake without precision/recall), plus float64 distances for the
        comparisons the error bound leaves open (a few per point).
    """
    k_pr, k_dc = _check_k(k_pr, "k_pr"), _check_k(k_dc, "k_dc")
    if not 0.0 < prune_percentile <= 100.0:
        raise InceptionScoreError(f"prune_percentile must be in (0, 100], got {prune_percentile!r}")
    if not (precision_recall or density_coverage):
        raise InceptionScoreError("manifold_metrics: ask for precision_recall, density_coverage or both")
    real_min, fake_min = manifold_minimum(k_pr, k_dc, precision_recall, density_coverage)
    real = check_features(real, "real features", real_min)
    fake = check_features(fake, "fake features", fake_min)
    _check_same_dim(real, fake)
    (real_points, fake_points), bound, rows = _prepared([real, fake], block_rows)
    ks = (k_pr,) * precision_recall + (k_dc,) * density_coverage
    real_radii = self_radii(real_points, ks, bound, rows)
    fake_radii = self_radii(fake_points, (k_pr,), bound, rows)[:, 0] if precision_recall else None
    if precision_recall:
        weights = _pruned(real_radii[:, 0][real_points.inverse], prune_percentile)[real_points.rows]
        order = np.lexsort((np.arange(weights.size), -weights))  # kept balls first, largest first
    else:
        weights, order = None, np.arange(real_points.size)
    radii = Radii(
        real_radii[order, 0] if precision_recall else None,
        real_radii[order, -1] if density_coverage else None,
        fake_radii,
        None if weights is None else weights[order],
    )
    tally = cross_pass(fake_points, real_points.permuted(order), radii, closed_balls, bound, rows)
    return _results(tally, real_points.counts[order], fake_points, real_points.total, k_pr, k_dc, closed_balls,
                    float(prune_percentile), precision_recall, density_coverage)  # fmt: skip


def _results(
    tally: Tally,
    real_counts: np.ndarray,
    fake_points: PointSet,
    real_count: int,
    k_pr: int,
    k_dc: int,
    closed_balls: bool,
    prune_percentile: float,
    precision_recall: bool,
    density_coverage: bool,
) -> ManifoldMetrics:
    """The result records from the pass's per-point tallies (rows with equal values counted with their number)."""
    fake_counts, fake_count, per_fake = fake_points.counts, fake_points.total, fake_points.inverse
    pr = dc = realism = None
    if precision_recall:
        precision = float(fake_counts[tally.fake_in_real].sum()) / fake_count
        recall = float(real_counts[tally.real_in_fake].sum()) / real_count
        pr = PrecisionRecall(precision, recall, f_score(precision, recall), k_pr, real_count, fake_count)
        realism = Realism(
            np.sqrt(tally.best_ratio)[per_fake],
            tally.fake_in_real[per_fake],
            tally.nearest_row[per_fake],
            k_pr,
            prune_percentile,
        )
    if density_coverage:
        dc = DensityCoverage(
            float((tally.balls_holding_fake * fake_counts).sum()) / (k_dc * fake_count),
            float(real_counts[tally.real_covered].sum()) / real_count,
            k_dc,
            real_count,
            fake_count,
            closed_balls,
        )
    return ManifoldMetrics(pr, dc, realism)


def precision_recall(real: Any, fake: Any, k: int = 3, *, block_rows: int | None = None) -> PrecisionRecall:
    """Improved precision and recall (Kynkaenniemi et al. 2019).

    Parameters
    ----------
    real, fake : numpy.ndarray or torch.Tensor
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
    metrics = manifold_metrics(
        real, fake, k_pr=k, prune_percentile=100.0, block_rows=block_rows, density_coverage=False
    )
    assert metrics.precision_recall is not None
    return metrics.precision_recall


def density_coverage(
    real: Any, fake: Any, k: int = 5, *, closed_balls: bool = False, block_rows: int | None = None
) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020), balls around real points only.

    Parameters
    ----------
    real, fake : numpy.ndarray or torch.Tensor
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
        real, fake, k_dc=k, closed_balls=closed_balls, block_rows=block_rows, precision_recall=False
    )
    assert metrics.density_coverage is not None
    return metrics.density_coverage


def realism_scores(
    real: Any, fake: Any, k: int = 3, *, prune_percentile: float = 50.0, block_rows: int | None = None
) -> Realism:
    """Per-fake-image realism score (Kynkaenniemi et al. 2019); see `Realism` for the conventions.

    Parameters
    ----------
    real, fake : numpy.ndarray or torch.Tensor
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
    metrics = manifold_metrics(
        real, fake, k_pr=k, prune_percentile=prune_percentile, block_rows=block_rows, density_coverage=False
    )
    assert metrics.realism is not None
    return metrics.realism
