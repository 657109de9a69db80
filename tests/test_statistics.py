"""Statistics files: pytorch-fid's format both ways, our provenance keys, and malformed files (no network)."""

import json
import os
import warnings

import numpy as np
import pytest

from inception_score import InceptionScoreError, InceptionScoreWarning, fid, fid_from_features, kid
from inception_score.maths.frechet import frechet_distance, moments_of
from inception_score.pipeline.extract import PIPELINE_VERSION
from inception_score.pipeline.statistics import is_statistics_path, read_statistics, write_statistics

SHA = "9fa6f43b" * 8  # any weights digest; these files are built from stored features, not a network pass


def pytorch_fid_reader(path):
    """pytorch-fid's reader (fid_score.py, for paths ending in .npz), reimplemented with numpy only."""
    with np.load(path) as f:
        m, s = f["mu"][:], f["sigma"][:]
    return m, s


@pytest.fixture(scope="module")
def pool3(data):
    return {name: np.load(data / f"reference_{name}_pool3.npy") for name in "ab"}


@pytest.fixture(scope="module")
def files(pool3, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stats")
    written = {}
    for name in "ab":
        moments = moments_of(pool3[name])
        written[name] = write_statistics(
            folder / f"{name}.npz", moments, weights_sha256=SHA, pipeline_version=PIPELINE_VERSION
        )
        written[name + "+features"] = write_statistics(
            folder / f"{name}-features.npz",
            moments,
            weights_sha256=SHA,
            pipeline_version=PIPELINE_VERSION,
            features=pool3[name],
        )
    return written


def test_round_trip_keeps_arrays_and_provenance(files, pool3):
    statistics = read_statistics(files["a+features"])
    moments = moments_of(pool3["a"])
    np.testing.assert_array_equal(statistics.mu, moments.mean)
    np.testing.assert_array_equal(statistics.sigma, moments.covariance)
    assert (statistics.n, statistics.weights_sha256, statistics.pipeline_version) == (120, SHA, PIPELINE_VERSION)
    assert statistics.features_shape == (120, 2048) and not read_statistics(files["a"]).has_features
    assert sorted(os.listdir(files["a"].parent)) == ["a-features.npz", "a.npz", "b-features.npz", "b.npz"]


def test_our_file_read_by_pytorch_fid_reader_gives_the_same_fid(files, pool3):
    (mu_a, sigma_a), (mu_b, sigma_b) = pytorch_fid_reader(files["a"]), pytorch_fid_reader(files["b"])
    assert mu_a.dtype == sigma_a.dtype == np.float64 and mu_a.shape == (2048,) and sigma_a.shape == (2048, 2048)
    expected = fid_from_features(pool3["a"], pool3["b"]).fid
    assert frechet_distance(mu_a, sigma_a, mu_b, sigma_b) == pytest.approx(expected, rel=1e-9)


def test_fid_and_kid_between_files_need_no_network(files, pool3, data):
    reference = json.loads((data / "reference_ab.json").read_text())
    result = fid(files["a"], files["b+features"], weights="/no/such/weights.pth")
    assert result.fid == pytest.approx(reference["fid"], rel=1e-4)
    assert result.fid == pytest.approx(fid_from_features(pool3["a"], pool3["b"]).fid, rel=1e-9)
    assert (result.n_a, result.n_b, result.weights_sha256) == (120, 120, SHA)
    kid_result = kid(files["a+features"], files["b+features"], subsets=10, subset_size=50)
    mean, std = reference["kid_subsets10_size50_seed2020_float64"]
    assert (kid_result.mean, kid_result.std) == pytest.approx((mean, std), rel=1e-4)


def test_a_pytorch_fid_file_loads_with_a_provenance_warning(files, pool3, tmp_path):
    path = tmp_path / "pytorch_fid_style.npz"
    moments = moments_of(pool3["b"])
    np.savez(path, mu=moments.mean.astype(np.float32), sigma=moments.covariance.astype(np.float32))
    with pytest.warns(InceptionScoreWarning, match="does not say how it was made"):
        result = fid(files["a"], path)
    assert result.fid == pytest.approx(fid_from_features(pool3["a"], pool3["b"]).fid, rel=1e-4)
    assert result.n_b is None and any("does not say how it was made" in w for w in result.warnings)


def test_files_from_other_weights_or_pipelines_are_warned_about(files, pool3, tmp_path):
    moments = moments_of(pool3["b"])
    other_weights = write_statistics(
        tmp_path / "w.npz", moments, weights_sha256="0" * 64, pipeline_version=PIPELINE_VERSION
    )
    other_pipeline = write_statistics(tmp_path / "p.npz", moments, weights_sha256=SHA, pipeline_version="other/9")
    with pytest.warns(InceptionScoreWarning, match="made with weights 000000000000"):
        assert any("meaningless" in w for w in fid(files["a"], other_weights).warnings)
    with pytest.warns(InceptionScoreWarning, match="input pipeline 'other/9'"):
        fid(files["a"], other_pipeline)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*(made with|input pipeline|how it was made)", InceptionScoreWarning)
        fid(files["a"], files["b"])  # same weights and pipeline: no warning about the files


def test_kid_against_a_file_without_features_says_how_to_make_one(files):
    with pytest.raises(InceptionScoreError, match="--with-features"):
        kid(files["a+features"], files["b"], subsets=2, subset_size=10)


def test_writing_needs_an_npz_name_in_an_existing_folder(pool3, tmp_path):
    moments = moments_of(pool3["a"][:4])
    with pytest.raises(InceptionScoreError, match="must end in .npz"):
        write_statistics(tmp_path / "stats.txt", moments, weights_sha256=SHA, pipeline_version="x")
    with pytest.raises(InceptionScoreError, match="does not exist"):
        write_statistics(tmp_path / "missing" / "s.npz", moments, weights_sha256=SHA, pipeline_version="x")
    assert os.listdir(tmp_path) == []


def _good(d=4):
    return dict(mu=np.zeros(d), sigma=np.eye(d))


MALFORMED = {
    "not_a_zip": (b"hello, not a zip file", "cannot read it as a .npz statistics file"),
    "empty": (b"", "cannot read it as a .npz statistics file"),
    "single_array": ("npy", "holds a single array"),
    "no_sigma": (dict(mu=np.zeros(4)), "not a statistics file: no 'sigma' array (it has: mu)"),
    "no_arrays": (dict(images=np.zeros((2, 3))), "no 'mu' or 'sigma' array"),
    "mu_2d": (dict(mu=np.zeros((1, 4)), sigma=np.eye(4)), "expected 'mu' of shape (d,) and 'sigma' of shape (d, d)"),
    "sigma_shape": (dict(mu=np.zeros(4), sigma=np.eye(3)), "got (4,) and (3, 3)"),
    "nan": (dict(mu=np.array([0, np.nan, 0, 0]), sigma=np.eye(4)), "NaN or infinite"),
    "pickled": (dict(mu=np.array([object()] * 4, dtype=object), sigma=np.eye(4)), "pickled Python objects"),
    "strings": (dict(mu=np.array(["a", "b"]), sigma=np.eye(2)), "'mu' should hold numbers"),
    "asymmetric": (dict(mu=np.zeros(2), sigma=np.array([[1.0, 0.9], [0.0, 1.0]])), "'sigma' is not symmetric"),
    "bad_n": (dict(_good(), n=np.array(1)), "'n' should be one integer >= 2"),
    "bad_sha": (dict(_good(), weights_sha256=np.array("not-a-digest")), "not a sha256 hex digest"),
    "bad_text": (dict(_good(), pipeline_version=np.arange(3)), "'pipeline_version' should be one string"),
    "features_shape": (
        dict(_good(), n=np.array(3), features=np.zeros((3, 5), np.float32)),
        "'features' should be float N x 4 with N = n (3)",
    ),
    "features_count": (dict(_good(), n=np.array(3), features=np.zeros((2, 4), np.float32)), "got float32 (2, 4)"),
}


def _write_malformed(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "npy":
        with open(path, "wb") as file:
            np.save(file, np.zeros(4))
    else:
        np.savez(path, **content)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_are_clear_errors_naming_the_file(tmp_path, name):
    content, message = MALFORMED[name]
    path = tmp_path / f"{name}.npz"
    _write_malformed(path, content)
    with pytest.raises(InceptionScoreError) as error:
        read_statistics(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InceptionScoreError, match="no such file or folder|no such statistics file"):
        fid(tmp_path / "missing.npz", tmp_path / "missing.npz")


def test_only_npz_files_with_mu_or_sigma_are_taken_for_statistics(files, tmp_path):
    np.savez(tmp_path / "images.npz", images=np.zeros((2, 8, 8, 3), np.uint8))
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    assert is_statistics_path(files["a"]) and is_statistics_path(str(tmp_path / "broken.npz"))
    assert not is_statistics_path(tmp_path / "images.npz") and not is_statistics_path(tmp_path / "missing.npz")
