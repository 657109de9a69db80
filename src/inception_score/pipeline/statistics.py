"""Reference statistics files: pytorch-fid's .npz (`mu`, `sigma`) plus our provenance keys.

pytorch-fid reads only `mu` and `sigma`, so our files work there and its files work here.
Our extra keys: `n`, `weights_sha256`, `pipeline_version`, `inception_score_version`, and
optionally `features` (N x d float32, needed for KID, precision/recall and density/coverage
against the file; with `feature_rows`, the sorted indices of the images they belong to, when only
some of the N images' features are stored), and sFID's spatial statistics under ADM's key names
`mu_s`, `sigma_s`. Files without the optional keys keep loading; a metric that needs one is refused.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InceptionScoreError, escaped
from ..maths.frechet import Moments
from .adm_batch import is_adm_batch
from .files import atomic_write, check_output
from .npz import check_member, checked_pair, load_member, read_npy_header

TEXT_KEYS = ("weights_sha256", "pipeline_version", "inception_score_version")


@dataclass(frozen=True)
class Statistics:
    """The contents of a statistics file (features are read separately, only when needed)."""

    path: Path
    mu: np.ndarray
    sigma: np.ndarray
    n: int | None
    weights_sha256: str | None
    pipeline_version: str | None
    features_shape: tuple[int, ...] | None
    skipped_names: tuple[str, ...] = ()  # undecodable files left out when it was written (not stored in the file)
    mu_s: np.ndarray | None = None  # sFID: mean and covariance of the spatial features (ADM's key names)
    sigma_s: np.ndarray | None = None
    features_subset: bool = False  # the stored features are of some of the n images (`feature_rows`)

    @property
    def has_features(self) -> bool:
        return self.features_shape is not None

    @property
    def has_spatial(self) -> bool:
        return self.mu_s is not None

    @property
    def extractor(self) -> str | None:
        """The extractor the file was computed with, from its pipeline_version (which names any
        extractor other than the 2015 network); None when the file does not say (pytorch-fid's)."""
        if self.pipeline_version is None:
            return None
        _, marker, rest = self.pipeline_version.partition("; extractor ")
        return rest.split(" ")[0] if marker else "inception-2015"


def is_statistics_path(value: object) -> bool:
    """True for a path to an existing .npz file that holds `mu` or `sigma` (or cannot be read at all).

    Other .npz files (arrays of images) are left to the image sources, and so are ADM batches
    (`arr_0` images, maybe with `mu`, `sigma`).
    """
    if not (isinstance(value, (str, os.PathLike)) and Path(value).suffix.lower() == ".npz" and Path(value).is_file()):
        return False
    try:
        with zipfile.ZipFile(value) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return True  # reading it as statistics gives the clearest error
    return bool({"mu.npy", "sigma.npy"} & names) and not is_adm_batch(value)


def check_output_path(path: str | Path, *, inputs: tuple[object, ...] = ()) -> Path:
    """The path as a Path if a statistics file can be written there (checked before any long work);
    never one of `inputs`."""
    path = check_output(path, "statistics file", "-o", inputs=inputs)
    if path.suffix.lower() != ".npz":
        raise InceptionScoreError(
            f"{escaped(path)}: a statistics file name must end in .npz (pytorch-fid goes by the extension)"
        )
    return path


def write_statistics(
    path: str | Path,
    moments: Moments,
    *,
    weights_sha256: str,
    pipeline_version: str,
    features: np.ndarray | None = None,
    feature_rows: np.ndarray | None = None,
    spatial: Moments | None = None,
) -> Path:
    """Write mu, sigma and our keys to `path` atomically (temporary file in the same folder, then rename).

    feature_rows: which of the images `features` belong to (when not all); spatial: sFID's moments,
    written as `mu_s`, `sigma_s`.
    """
    from .._version import __version__

    path = check_output_path(path)
    arrays = {
        "mu": np.asarray(moments.mean, np.float64),
        "sigma": np.asarray(moments.covariance, np.float64),
        "n": np.asarray(moments.n, np.int64),
        "weights_sha256": np.asarray(weights_sha256),
        "pipeline_version": np.asarray(pipeline_version),
        "inception_score_version": np.asarray(__version__),
    }
    if features is not None:
        arrays["features"] = np.asarray(features, np.float32)
    if feature_rows is not None:
        arrays["feature_rows"] = np.asarray(feature_rows, np.int64)
    if spatial is not None:
        arrays["mu_s"] = np.asarray(spatial.mean, np.float64)
        arrays["sigma_s"] = np.asarray(spatial.covariance, np.float64)
    try:
        with atomic_write(path) as file:
            np.savez(file, **arrays)  # type: ignore[arg-type]  # keyword arrays, as documented
    except OSError as error:
        raise InceptionScoreError(f"{escaped(path)}: cannot write ({error.strerror})") from None
    return path


def read_statistics(path: str | Path) -> Statistics:
    """Read and check a statistics file (never unpickles); every problem is an error naming the file.

    Parameters
    ----------
    path
        A pytorch-fid-format .npz file (mu, sigma), or one written by `save_statistics`.

    Returns
    -------
    Statistics
        Its arrays and provenance (weights, pipeline, count, whether it holds features).
    """
    path = Path(path)
    with _open_npz(path) as npz:
        keys = set(npz.files)
        missing = [key for key in ("mu", "sigma") if key not in keys]
        if missing:
            raise InceptionScoreError(
                f"{path}: not a statistics file: no {' or '.join(repr(k) for k in missing)} array "
                f"(it has: {', '.join(sorted(keys)) or 'nothing'}); "
                "write one with 'inception-score stats SOURCE -o FILE.npz'"
            )
        mu, sigma = _mean_and_covariance(npz, path, "mu", "sigma")
        n = _read_count(npz, path) if "n" in keys else None
        texts = {key: _read_text(npz, key, path) if key in keys else None for key in TEXT_KEYS}
        subset = _feature_rows(npz, path, n) if "feature_rows" in keys else None
        count = len(subset) if subset is not None else n
        features_shape = _features_shape(npz, path, mu.shape[0], count) if "features" in keys else None
        spatial = _spatial(npz, path, keys)
    sha256 = texts["weights_sha256"]
    if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise InceptionScoreError(f"{path}: 'weights_sha256' is not a sha256 hex digest: {sha256[:80]!r}")
    return Statistics(
        path,
        mu,
        sigma,
        n,
        sha256,
        texts["pipeline_version"],
        features_shape,
        mu_s=spatial[0] if spatial is not None else None,
        sigma_s=spatial[1] if spatial is not None else None,
        features_subset=subset is not None,
    )


def read_features(statistics: Statistics) -> np.ndarray:
    """The per-image features stored with --with-features (N x d float32), for KID."""
    require_features(statistics)
    with _open_npz(statistics.path) as npz:
        features = _numeric(npz, "features", statistics.path)
    if not np.all(np.isfinite(features)):
        raise InceptionScoreError(f"{statistics.path}: 'features' contains NaN or infinite values")
    return features


def require_features(statistics: Statistics, metric: str = "KID") -> None:
    """Raise a clear error if the file has no per-image features."""
    if not statistics.has_features:
        raise InceptionScoreError(
            f"{statistics.path} has no per-image features, and {metric} needs them (mu and sigma are not enough): "
            "write it with 'inception-score stats SOURCE -o FILE.npz --with-features' (or --max-features N to "
            "store those of N images; API: save_statistics(..., with_features=True / max_features=N))"
        )


def spatial_moments_of_statistics(statistics: Statistics) -> Moments:
    """sFID's mu_s and sigma_s as Moments (the file must have them: see `Statistics.has_spatial`)."""
    if statistics.mu_s is None or statistics.sigma_s is None:
        raise InceptionScoreError(f"{statistics.path} has no spatial statistics (mu_s, sigma_s)")
    return Moments(statistics.mu_s, statistics.sigma_s, statistics.n)


def moments_of_statistics(statistics: Statistics) -> Moments:
    """mu and sigma as Moments; stored features of a small set (n <= d) give FID its exact cheap factor."""
    centered = None
    shape = statistics.features_shape
    if shape is not None and not statistics.features_subset and shape[0] <= shape[1]:
        features = read_features(statistics).astype(np.float64)
        mean = features.mean(axis=0)
        if np.max(np.abs(mean - statistics.mu)) > 1e-6 * (1 + float(np.max(np.abs(statistics.mu)))):
            raise InceptionScoreError(f"{statistics.path}: 'features' and 'mu' disagree; the file is damaged")
        centered = features - mean
    return Moments(statistics.mu, statistics.sigma, statistics.n, centered)


def provenance_warnings(statistics: Statistics, weights_sha256: str | None, pipeline_version: str | None) -> list[str]:
    """Warnings when a file was made with other weights or another input pipeline than this comparison."""
    path = statistics.path
    if statistics.weights_sha256 is None or statistics.pipeline_version is None:
        return [
            f"{path} does not say how it was made (no weights_sha256/pipeline_version keys: pytorch-fid "
            "or another tool?): it is only comparable if made with the same weights and the same input "
            f"pipeline ({pipeline_version or 'TF1 bilinear resize to 299'})"
        ]
    warnings = []
    if weights_sha256 is not None and statistics.weights_sha256 != weights_sha256:
        warnings.append(
            f"{path} was made with weights {statistics.weights_sha256[:12]}..., this comparison uses "
            f"{weights_sha256[:12]}...: distances between features of different networks are meaningless"
        )
    if pipeline_version is not None and statistics.pipeline_version != pipeline_version:
        warnings.append(
            f"{path} was made with input pipeline {statistics.pipeline_version!r}, this comparison uses "
            f"{pipeline_version!r}: the numbers are not comparable"
        )
    return warnings


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    if not path.is_file():
        raise InceptionScoreError(f"{path}: no such statistics file")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise InceptionScoreError(f"{path}: cannot read it as a .npz statistics file ({error})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise InceptionScoreError(f"{path}: holds a single array, not a .npz archive with 'mu' and 'sigma'")
    return npz


def _load(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """One array of the file, its declared size checked before numpy allocates it."""
    return load_member(path, npz, key)


def _numeric(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    array = _load(npz, key, path)
    if array.dtype.kind not in "fiu":
        raise InceptionScoreError(f"{path}: {key!r} should hold numbers, it holds {array.dtype}")
    return array


def _read_count(npz: np.lib.npyio.NpzFile, path: Path) -> int:
    array = _load(npz, "n", path)
    if array.shape != () or array.dtype.kind not in "iu" or int(array) < 2:
        raise InceptionScoreError(f"{path}: 'n' should be one integer >= 2, got {array!r}")
    return int(array)


def _read_text(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> str:
    array = _load(npz, key, path)
    if array.shape != () or array.dtype.kind != "U":
        raise InceptionScoreError(f"{path}: {key!r} should be one string, got an array of {array.dtype} {array.shape}")
    return str(array)


def _feature_rows(npz: np.lib.npyio.NpzFile, path: Path, n: int | None) -> np.ndarray:
    """The sorted, distinct image indices that stored features belong to (files written with max_features)."""
    rows = _load(npz, "feature_rows", path)
    if (
        rows.ndim != 1
        or rows.dtype.kind not in "iu"
        or n is None
        or len(rows) < 2
        or np.any(rows < 0)
        or np.any(rows >= n)
        or np.any(np.diff(rows) <= 0)
    ):
        raise InceptionScoreError(
            f"{path}: 'feature_rows' should be sorted distinct image indices below n ({n}), "
            f"got {rows.dtype} {rows.shape}"
        )
    return rows


def _spatial(npz: np.lib.npyio.NpzFile, path: Path, keys: set[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """mu_s and sigma_s in float64, checked like mu and sigma; None when the file has neither."""
    present = [key for key in ("mu_s", "sigma_s") if key in keys]
    if not present:
        return None
    if len(present) == 1:
        raise InceptionScoreError(f"{path}: has {present[0]} but not its pair; both mu_s and sigma_s are needed")
    return _mean_and_covariance(npz, path, "mu_s", "sigma_s")


def _mean_and_covariance(
    npz: np.lib.npyio.NpzFile, path: Path, mean_key: str, cov_key: str
) -> tuple[np.ndarray, np.ndarray]:
    """A mean (d) and covariance (d x d) pair in float64: numeric, finite, the covariance symmetric."""
    return checked_pair(_numeric(npz, mean_key, path), _numeric(npz, cov_key, path), mean_key, cov_key, path)


def _features_shape(npz: np.lib.npyio.NpzFile, path: Path, dims: int, n: int | None) -> tuple[int, ...]:
    """Shape of the stored features, read from the array header without loading the data."""
    assert npz.zip is not None
    shape = check_member(path, npz.zip, "features")
    try:
        with npz.zip.open("features.npy") as member:
            _, _, dtype = read_npy_header(member)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise InceptionScoreError(f"{path}: cannot read 'features' ({error})") from None
    if dtype.kind != "f" or len(shape) != 2 or shape[1] != dims or (n is not None and shape[0] != n):
        raise InceptionScoreError(
            f"{path}: 'features' should be float N x {dims} with N = n ({n}), got {dtype} {shape}"
        )
    return tuple(shape)
