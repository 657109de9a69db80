"""Numbers that must be exact: the Fréchet distance of identical statistics is 0 (not a rounding
residue), and a channels-first ADM batch gives the numbers of its channels-last twin."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inception_score import evaluate
from inception_score.maths.frechet import Moments, frechet_distance, frechet_of_moments, moments_of


@pytest.mark.unit
@pytest.mark.parametrize("n, d", [(30, 64), (300, 64), (10, 2048)])
def test_identical_statistics_are_exactly_zero(n, d):
    features = np.random.RandomState(n).standard_normal((n, d)) + 5.0
    moments = moments_of(features)
    assert frechet_of_moments(moments, moments) == 0.0
    without_rows = Moments(moments.mean, moments.covariance, n)
    assert frechet_of_moments(without_rows, without_rows) == 0.0
    assert frechet_distance(moments.mean, moments.covariance, moments.mean.copy(), moments.covariance.copy()) == 0.0
    other = moments_of(features[::-1])  # the same set in another order: equal only up to rounding
    assert 0.0 <= frechet_of_moments(moments, other) < 1e-9


@pytest.mark.unit
def test_nearly_identical_statistics_still_give_their_small_distance():
    features = np.random.RandomState(0).standard_normal((300, 16))
    a = moments_of(features)
    shifted = Moments(a.mean + 1e-3, a.covariance, a.n)
    assert frechet_of_moments(a, shifted) == pytest.approx(16 * 1e-6, rel=1e-6)


def test_fid_and_sfid_of_one_image_set_against_itself_are_exactly_zero(weights_path, data):
    files = sorted((data / "images" / "a").glob("*.png"))[:12]
    evaluation = evaluate(files, reference=files, metrics=("fid", "sfid"), weights=weights_path, progress=False)
    assert evaluation.fid is not None and evaluation.fid.fid == 0.0
    assert evaluation.sfid is not None and evaluation.sfid.sfid == 0.0


def test_a_channels_first_adm_batch_gives_the_numbers_of_its_channels_last_twin(tmp_path, weights_path, data):
    """One layout rule: both files are ADM batches, so their stored statistics are treated alike, under the
    ADM protocol (the file's statistics win) and the default one (the images' are recomputed)."""
    files = sorted((data / "images" / "b").glob("*.png"))[:12]
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])
    features = np.random.RandomState(4).standard_normal((60, 2048))
    spatial = np.random.RandomState(5).standard_normal((60, 2023))
    stored = dict(
        mu=features.mean(0),
        sigma=np.cov(features, rowvar=False),
        mu_s=spatial.mean(0),
        sigma_s=np.cov(spatial, rowvar=False),
    )
    last, first = tmp_path / "last.npz", tmp_path / "first.npz"
    np.savez(last, images, **stored)
    np.savez(first, images.transpose(0, 3, 1, 2), **stored)
    samples = sorted((data / "images" / "a").glob("*.png"))[:12]
    for protocol in ("default", "adm"):
        options = dict(weights=weights_path, progress=False, protocol=protocol, metrics=("fid", "sfid"))
        twins = [evaluate(samples, reference=batch, **options) for batch in (last, first)]
        assert twins[0].fid.n_b == twins[1].fid.n_b == (None if protocol == "adm" else len(images))
        assert twins[0].fid.fid == pytest.approx(twins[1].fid.fid, rel=1e-12)
        assert twins[0].sfid.sfid == pytest.approx(twins[1].sfid.sfid, rel=1e-12)
