"""Feature sets for the k-NN passes: numpy arrays on the CPU, or torch tensors on their own device.

maths/ does not import torch: a tensor is driven through its own methods (matmul, comparisons,
topk, ...), so the float32 blocks are computed where the features are, and only the few candidate
pairs of each block (indices and float32 values) come back to the CPU, where every decision the
error bound leaves open is made in float64 with numpy (`knn_bound.exact_squared_distances`), the
same on every device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InceptionScoreError
from .knn_bound import exact_squared_distances

PAIR_CHUNK = 512  # pairs recomputed in float64 at a time (a 512 x d float64 buffer stays in cache)


def is_tensor(values: Any) -> bool:
    """A torch.Tensor (or subclass), recognised without importing torch."""
    return any(base.__name__ == "Tensor" and base.__module__.split(".")[0] == "torch" for base in type(values).__mro__)


def ops_for(values: Any) -> NumpyOps | TensorOps:
    return TensorOps(values) if is_tensor(values) else NumpyOps()


class NumpyOps:
    """The block operations of the passes on numpy arrays (float32 BLAS products, IEEE float32)."""

    product_rounding = 0.0  # u_mm of knn_bound: numpy's float32 matrix product rounds nothing first
    top_columns = 256  # a diagonal block's first shortlist comes from its first 256 columns

    def __init__(self) -> None:
        self._buffers: dict[tuple[int, int], np.ndarray] = {}

    def count(self, features: Any) -> int:
        return int(features.shape[0])

    def rows64(self, features: Any, index: np.ndarray | slice) -> np.ndarray:
        return np.asarray(features[index], dtype=np.float64)

    def centre(self, features: Any, block_rows: int) -> np.ndarray:
        """The rows' mean in float64."""
        count = features.shape[0]
        total = sum(
            np.add.reduce(features[a : a + block_rows], axis=0, dtype=np.float64) for a in range(0, count, block_rows)
        )
        return np.asarray(total, np.float64) / count

    def is_float32(self, features: Any) -> bool:
        return features.dtype == np.float32

    def centred(self, features: Any, centre: np.ndarray, scale: float, block_rows: int) -> tuple:
        """(fl32(scale * (rows - centre)), float64 squared norms of the centred rows) (knn_bound).

        float32 rows with a float32 centre and scale 1 are centred in float32 (the norms are those of
        the float32 results); other rows in float64."""
        out = np.empty(features.shape, np.float32)
        norms = np.empty(features.shape[0])
        with np.errstate(over="ignore"):
            centre32 = centre.astype(np.float32)
        in_float32 = features.dtype == np.float32 and scale == 1.0 and np.array_equal(centre32, centre)
        for start in range(0, features.shape[0], block_rows):
            rows = slice(start, start + block_rows)
            if in_float32:
                moved32 = np.subtract(features[rows], centre32, out=out[rows])
                norms[rows] = np.einsum("ij,ij->i", moved32, moved32, dtype=np.float64)
                continue
            moved = np.subtract(features[rows], centre, dtype=np.float64)
            norms[rows] = np.einsum("ij,ij->i", moved, moved)
            if scale != 1.0:
                moved *= scale
            with np.errstate(over="ignore"):  # huge rows overflow at scale 1; the caller rescales them
                out[rows] = moved
        return out, norms

    def width(self, values: Any) -> int:
        return int(values.shape[1])

    def fingerprints(self, scaled: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """One number per row, equal for equal rows."""
        return scaled @ weights

    def rows32_or_64(self, features: Any, index: np.ndarray) -> np.ndarray:
        """The rows, as float32 when they are float32 (converted exactly by the float64 subtraction), else float64."""
        if features.dtype == np.float32:
            return np.take(features, index, axis=0)
        return self.rows64(features, index)

    def take(self, block: np.ndarray, flat: np.ndarray) -> np.ndarray:
        return block.ravel()[flat]

    def to_device(self, values: np.ndarray, like: Any) -> np.ndarray:
        return values

    def permuted(self, values: np.ndarray, order: np.ndarray) -> np.ndarray:
        return values[order]

    def block(self, rows: np.ndarray, cols: np.ndarray, half_rows: np.ndarray, half_cols: np.ndarray) -> np.ndarray:
        """w~ = rows . cols^T - h_rows - h_cols in float32 (a buffer reused between blocks of one shape)."""
        shape = (rows.shape[0], cols.shape[0])
        out = self._buffers.get(shape)
        if out is None:
            self._buffers.clear()
            out = self._buffers[shape] = np.empty(shape, np.float32)
        np.matmul(rows, cols.T, out=out)
        out -= half_rows[:, None]
        out -= half_cols[None, :]
        return out

    def exclude_diagonal(self, block: np.ndarray) -> None:
        np.fill_diagonal(block, -np.inf)

    def candidates(self, block: np.ndarray, row_min: np.ndarray, col_min: np.ndarray | None) -> tuple:
        """Flat indices and values of the entries >= their row's (or their column's) threshold."""
        mask = np.greater_equal(block, row_min[:, None])
        if col_min is not None:
            mask |= np.greater_equal(block, col_min[None, :])
        flat = np.flatnonzero(mask)
        return flat, block.ravel()[flat]

    def row_best(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        best = block.argmax(axis=1)
        return block[np.arange(block.shape[0]), best], best

    def row_top(self, block: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Each row's `count` largest values (descending) and their columns."""
        part = np.argpartition(block, block.shape[1] - count, axis=1)[:, block.shape[1] - count :]
        values = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        return np.take_along_axis(values, order, axis=1), np.take_along_axis(part, order, axis=1)

    def scaled_columns(self, block: np.ndarray, stop: int, factors: np.ndarray) -> np.ndarray:
        return block[:, :stop] * factors[None, :]


class TensorOps:
    """The same operations on torch tensors, on the tensor's device, through the tensor's methods."""

    def __init__(self, reference: Any) -> None:
        self.reference = reference
        self.long = reference.new_zeros(0).long().dtype
        self.product_rounding = 0.0
        self.top_columns: int | None = None  # topk over whole rows is cheap on a GPU

    def count(self, features: Any) -> int:
        return int(features.shape[0])

    def measure_product_rounding(self, like32: Any, dim: int) -> float:
        """u_mm of knn_bound for a float32 product of this inner size on this device: 0 when it keeps
        every input bit, 2^-p when it keeps p fraction bits (TF32 allowed: p = 10; bfloat16: p = 7)."""
        probe = 1.0 + 2.0 ** -np.arange(1, 24)
        left = like32.new_zeros((128, max(dim, 23)))
        left[0, :23] = left.new_tensor(probe.astype(np.float32))
        right = like32.new_zeros((max(dim, 23), 128))
        right[:23, :23] = right.new_tensor(np.eye(23, dtype=np.float32))
        got = left.matmul(right)[0, :23].cpu().numpy().astype(np.float64)
        kept = int(np.argmin(got == probe)) if not np.all(got == probe) else 23
        self.product_rounding = 0.0 if kept == 23 else 2.0**-kept
        return self.product_rounding

    def index(self, index: np.ndarray, like: Any) -> Any:
        return like.new_tensor(np.ascontiguousarray(index, np.int64), dtype=self.long)

    def rows64(self, features: Any, index: np.ndarray | slice) -> np.ndarray:
        rows = features[index] if isinstance(index, slice) else features.index_select(0, self.index(index, features))
        return rows.double().cpu().numpy()

    def centre(self, features: Any, block_rows: int) -> np.ndarray:
        count = int(features.shape[0])
        total = sum(features[a : a + block_rows].double().sum(dim=0) for a in range(0, count, block_rows))
        return total.cpu().numpy() / count

    def is_float32(self, features: Any) -> bool:
        return str(features.dtype) == "torch.float32"

    def centred(self, features: Any, centre: np.ndarray, scale: float, block_rows: int) -> tuple:
        out = features.new_empty(tuple(features.shape)).float()
        norms = []
        shift = features.new_tensor(centre).double()
        for start in range(0, int(features.shape[0]), block_rows):
            moved = features[start : start + block_rows].double() - shift
            norms.append((moved * moved).sum(dim=1).cpu().numpy())
            out[start : start + block_rows] = moved.mul_(scale).float()
        return out, np.concatenate(norms)

    def width(self, values: Any) -> int:
        return int(values.shape[1])

    def fingerprints(self, scaled: Any, weights: np.ndarray) -> np.ndarray:
        return scaled.matmul(scaled.new_tensor(weights)).cpu().numpy()

    def rows32_or_64(self, features: Any, index: np.ndarray) -> np.ndarray:
        return self.rows64(features, index)

    def take(self, block: Any, flat: np.ndarray) -> np.ndarray:
        return block.flatten()[self.index(flat, block)].cpu().numpy()

    def to_device(self, values: np.ndarray, like: Any) -> Any:
        return like.new_tensor(np.ascontiguousarray(values))

    def permuted(self, values: Any, order: np.ndarray) -> Any:
        return values.index_select(0, self.index(order, values))

    def block(self, rows: Any, cols: Any, half_rows: Any, half_cols: Any) -> Any:
        return (-half_cols)[None, :].addmm(rows, cols.T).sub_(half_rows[:, None])

    def exclude_diagonal(self, block: Any) -> None:
        block.fill_diagonal_(float("-inf"))

    def candidates(self, block: Any, row_min: np.ndarray, col_min: np.ndarray | None) -> tuple:
        mask = block >= block.new_tensor(row_min)[:, None]
        if col_min is not None:
            mask |= block >= block.new_tensor(col_min)[None, :]
        flat = mask.flatten().nonzero().squeeze(1)
        return flat.cpu().numpy(), block.flatten()[flat].cpu().numpy()

    def row_best(self, block: Any) -> tuple[np.ndarray, np.ndarray]:
        values, best = block.max(dim=1)
        return values.cpu().numpy(), best.cpu().numpy()

    def row_top(self, block: Any, count: int) -> tuple[np.ndarray, np.ndarray]:
        values, columns = block.topk(count, dim=1)
        return values.cpu().numpy(), columns.cpu().numpy()

    def scaled_columns(self, block: Any, stop: int, factors: np.ndarray) -> Any:
        return block[:, :stop] * block.new_tensor(factors)[None, :]


def exact_pair_distances(
    ops: NumpyOps | TensorOps, rows: Any, cols: Any, row_index: np.ndarray, col_index: np.ndarray
) -> np.ndarray:
    """D(rows[row_index[i]], cols[col_index[i]]) for each i, in float64 on the CPU (knn_bound's definition)."""
    out = np.empty(row_index.size)
    for start in range(0, row_index.size, PAIR_CHUNK):
        stop = start + PAIR_CHUNK
        out[start:stop] = exact_squared_distances(
            ops.rows32_or_64(rows, row_index[start:stop]), ops.rows32_or_64(cols, col_index[start:stop])
        )
    return out


def check_tensor(values: Any, what: str, min_count: int) -> Any:
    """The tensor counterpart of neighbours.check_features: N x d, real, finite, enough rows."""
    if values.ndim != 2 or values.shape[1] < 1:
        raise InceptionScoreError(f"expected {what} as N x d, got shape {tuple(values.shape)}")
    dtype = values.dtype
    if dtype.is_complex or str(dtype) == "torch.bool":
        raise InceptionScoreError(f"expected {what} as real numbers, got dtype {dtype}")
    if values.shape[0] < min_count:
        raise InceptionScoreError(
            f"{what}: {values.shape[0]} points, need at least {min_count} (k + 1) to find each point's "
            f"k-th nearest other point"
        )
    if dtype.is_floating_point:
        bad = (~values.isfinite()).nonzero()
        if bad.shape[0]:
            row, column = (int(v) for v in bad[0])
            raise InceptionScoreError(f"{what} contain NaN or infinite values (first at row {row}, column {column})")
    return values.detach()
