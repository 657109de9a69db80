"""The paper table end to end (issue 14): sFID, precision/recall, density/coverage, realism, IS/FID-infinity,
statistics files that serve them, ADM batches and the ADM protocol, through the API and the CLI.

The expensive part is the network on the fixture images; every test here shares one feature cache
(entries with spatial features), so each image goes through the network once per module.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import run_cli
from PIL import Image

from inception_score import InceptionScoreError, evaluate, read_statistics, save_statistics
from inception_score.maths.inception import LogProbabilities
from inception_score.metrics.inception import ADM_SPLIT_SIZE, adm_inception_score
from inception_score.pipeline.cache import FORMAT, FeatureCache
from inception_score.pipeline.extract import extract_features
from inception_score.pipeline.inception2015 import SPATIAL_DIMS, load_inception
from inception_score.pipeline.sources import open_source
from inception_score.pipeline.weights import sha256_file

TORCH_FIDELITY_KEYS = {
    "inception_score_mean",
    "inception_score_std",
    "frechet_inception_distance",
    "kernel_inception_distance_mean",
    "kernel_inception_distance_std",
    "precision",
    "recall",
    "f_score",
}
OUR_KEYS = {
    "spatial_frechet_inception_distance",
    "density",
    "coverage",
    "inception_score_infinity",
    "frechet_inception_distance_infinity",
}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("paper-table-cache")


@pytest.fixture(autouse=True)
def use_shared_cache(shared_cache, monkeypatch):
    """This module's tests (and the CLI processes they start) share one feature cache."""
    monkeypatch.setenv("INCEPTION_SCORE_CACHE", str(shared_cache))


def fixture_images(data, name: str) -> np.ndarray:
    files = sorted((data / "images" / name).glob("*.png"))
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])


def hand_frechet(mean_a, cov_a, mean_b, cov_b) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), the trace from the eigenvalues of S_a S_b (float64)."""
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b)
    trace_sqrt = np.sqrt(np.clip(eigenvalues.real, 0, None)).sum()
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def hand_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkaenniemi et al.'s precision and recall from full float64 distance matrices."""

    def distances(x, y):
        x, y = x.astype(np.float64), y.astype(np.float64)
        return np.sqrt(np.maximum(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1), 0))

    real_radii = np.sort(distances(real, real), axis=1)[:, k]  # column 0 is the point itself
    fake_radii = np.sort(distances(fake, fake), axis=1)[:, k]
    cross = distances(real, fake)
    precision = np.mean(np.any(cross <= real_radii[:, None], axis=0))
    recall = np.mean(np.any(cross <= fake_radii[None, :], axis=1))
    return float(precision), float(recall)


def hand_adm_inception_score(logits: np.ndarray) -> float:
    """evaluator.py's IS: softmax, KL to each chunk's marginal, consecutive chunks of 5,000, mean of the chunks."""
    logits = logits.astype(np.float64)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    scores = []
    for start in range(0, len(probs), 5000):
        part = probs[start : start + 5000]
        kl = part * (np.log(part) - np.log(part.mean(0, keepdims=True)))
        scores.append(np.exp(np.mean(kl.sum(1))))
    return float(np.mean(scores))


def test_spatial_features_of_the_optimised_and_plain_networks_match_torch_fidelitys(model, weights_path, data):
    source = open_source(sorted((data / "images" / "a").glob("*.png"))[:8])
    reference = np.load(data / "reference_a_spatial.npy")[:8]
    for network in (model, load_inception(weights_path, plain=True)):
        without = extract_features(source, network, batch_size=4, device="cpu", progress=False)
        features = extract_features(source, network, batch_size=4, device="cpu", progress=False, keep_spatial=True)
        assert features.spatial.shape == (8, SPATIAL_DIMS) == (8, 2023)
        np.testing.assert_allclose(features.spatial, reference, rtol=0, atol=1e-3)
        # asking for them changes nothing else: the same logits and pool3, bit for bit
        assert np.array_equal(features.logits, without.logits) and np.array_equal(features.features, without.features)


def test_cache_entries_with_and_without_spatial_features(tmp_path):
    cache = FeatureCache(tmp_path)
    logits, pool3, spatial = np.arange(4, dtype=np.float32), np.ones(3, np.float32), np.full(5, 2.0, np.float32)
    cache.put("old", logits, pool3)
    assert cache.get("old", spatial=True) is None and cache.corrupt == 0  # a miss for spatial runs, not damage
    assert np.array_equal(cache.get("old")[1], pool3)
    cache.put("new", logits, pool3, spatial)
    got = cache.get("new", spatial=True)
    assert len(got) == 3 and np.array_equal(got[2], spatial)
    assert len(cache.get("new")) == 2 and np.array_equal(cache.get("new")[0], logits)  # serves plain runs too
    assert cache.corrupt == 0


@pytest.fixture(scope="module")
def table(weights_path, data, shared_cache):
    """evaluate(a, reference=b) with every metric, on the 120-image fixture folders (fills the shared cache)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INCEPTION_SCORE_CACHE", str(shared_cache))
        return evaluate(
            data / "images" / "a",
            reference=data / "images" / "b",
            metrics="all",
            kid_subsets=10,
            kid_subset_size=50,
            weights=weights_path,
            batch_size=40,
            progress=False,
        )


def test_sfid_and_precision_recall_on_the_fixtures_equal_the_references(table, data):
    sfid_reference = json.loads((data / "reference_sfid.json").read_text())
    assert table.sfid.sfid == pytest.approx(sfid_reference["sfid_a_b"], rel=1e-4)
    assert (table.sfid.n_a, table.sfid.n_b) == (120, 120)
    # samples a against reference b: torch-fidelity's case real = b, fake = a (equal counts)
    case = next(
        c for c in json.loads((data / "reference_pr.json").read_text())["cases"] if c["fake"].startswith("reference_a")
    )
    manifold = table.manifold
    assert round(manifold.precision * 120) == case["precision_count"]
    assert round(manifold.recall * 120) == case["recall_count"]
    assert manifold.f_score == pytest.approx(case["f_score"], rel=1e-6)
    assert manifold.metrics == ["pr", "dc"] and (manifold.k_pr, manifold.k_dc) == (3, 5)
    assert 0 <= manifold.coverage <= 1 and manifold.density > 0
    realism = manifold.details
    assert realism.scores.shape == (120,) and realism.names == table.inception_score.details.names
    assert manifold.realism["outside_count"] == int(np.count_nonzero(~realism.inside)) == 120 - case["precision_count"]


def test_every_metric_is_in_one_flat_dict_with_torch_fidelitys_names(table):
    document = table.metrics_dict()
    assert TORCH_FIDELITY_KEYS | OUR_KEYS <= document.keys()
    assert document["frechet_inception_distance"] == table.fid.fid
    assert document["spatial_frechet_inception_distance"] == table.sfid.sfid
    assert document["precision"] == table.manifold.precision and document["coverage"] == table.manifold.coverage
    assert set(document["details"]) == {"inception_score", "fid", "kid", "sfid", "manifold", "infinity"}
    assert json.loads(json.dumps(document)) == document
    infinity = table.infinity
    assert infinity.inception_score_fit["sizes"][0] == 12 and infinity.inception_score_fit["sizes"][-1] == 120
    assert len(infinity.frechet_inception_distance_fit["sizes"]) == 15
    # the full-size point of the fits is the metric of all images: one-split IS, and the FID
    assert infinity.inception_score_fit["values"][-1] == pytest.approx(table.inception_score.one_split_score, rel=1e-12)
    assert infinity.frechet_inception_distance_fit["values"][-1] == pytest.approx(table.fid.fid, rel=1e-9)
    assert "inf" in table.summary().lower() or "infinity" in table.summary()


def test_the_cli_prints_the_same_dict_and_sfid_of_identical_sets_is_zero(table, weights_path, data):
    done = run_cli(
        "evaluate",
        data / "images" / "a",
        "--ref",
        data / "images" / "b",
        "--metrics",
        "sfid,pr,fid",
        "--weights",
        weights_path,
        "--json",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    # the same features (from the cache); the moments are summed in other batches, so the last bits may differ
    assert printed["spatial_frechet_inception_distance"] == pytest.approx(table.sfid.sfid, rel=1e-12)
    assert printed["frechet_inception_distance"] == pytest.approx(table.fid.fid, rel=1e-12)
    assert (printed["precision"], printed["recall"], printed["f_score"]) == (
        table.manifold.precision,
        table.manifold.recall,
        table.manifold.f_score,
    )
    assert "density" not in printed and "inception_score_mean" not in printed
    same = evaluate(data / "images" / "a", reference=data / "images" / "a", metrics=("sfid",), weights=weights_path)
    assert same.sfid.sfid == 0.0


def test_adm_protocol_on_adm_batches_gives_the_five_numbers(model, weights_path, data, tmp_path, shared_cache):
    samples, references = fixture_images(data, "a"), fixture_images(data, "b")
    sample_batch, reference_batch = tmp_path / "samples.npz", tmp_path / "VIRTUAL_reference.npz"
    np.savez(sample_batch, samples, np.arange(len(samples)))  # arr_1: labels, ignored
    # Independent features of the same uint8 arrays (this also fills the cache the CLI reads).
    cache = FeatureCache(shared_cache / "features" / FORMAT)
    got = {}
    for name, images in (("samples", samples), ("references", references)):
        got[name] = extract_features(
            open_source(images),
            model,
            device="cpu",
            progress=False,
            keep_spatial=True,
            cache=cache,
            model_id=sha256_file(weights_path),
        )
    ref_pool3, ref_spatial = got["references"].features.astype(np.float64), got["references"].spatial.astype(np.float64)
    # The file's statistics differ slightly from its images' own: the file's must win.
    mu, sigma = ref_pool3.mean(0) + 0.01, np.cov(ref_pool3, rowvar=False) * 1.01
    mu_s, sigma_s = ref_spatial.mean(0) + 0.01, np.cov(ref_spatial, rowvar=False) * 1.01
    np.savez(reference_batch, references, mu=mu, sigma=sigma, mu_s=mu_s, sigma_s=sigma_s)

    done = run_cli(
        "evaluate",
        sample_batch,
        "--ref",
        reference_batch,
        "--metrics",
        "is,fid,sfid,pr",
        "--protocol",
        "adm",
        "--weights",
        weights_path,
        "--json",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) == {
        "inception_score_mean",
        "inception_score_std",
        "frechet_inception_distance",
        "spatial_frechet_inception_distance",
        "precision",
        "recall",
        "f_score",
        "protocol",
        "details",
    }
    pool3, spatial = got["samples"].features.astype(np.float64), got["samples"].spatial.astype(np.float64)
    expected_fid = hand_frechet(pool3.mean(0), np.cov(pool3, rowvar=False), mu, sigma)
    expected_sfid = hand_frechet(spatial.mean(0), np.cov(spatial, rowvar=False), mu_s, sigma_s)
    expected_precision, expected_recall = hand_precision_recall(got["references"].features, got["samples"].features)
    assert printed["protocol"] == "adm"
    assert printed["inception_score_mean"] == pytest.approx(hand_adm_inception_score(got["samples"].logits), rel=1e-9)
    assert printed["inception_score_std"] == 0.0  # 120 images: one chunk
    assert printed["frechet_inception_distance"] == pytest.approx(expected_fid, rel=1e-4)
    assert printed["spatial_frechet_inception_distance"] == pytest.approx(expected_sfid, rel=1e-4)
    assert (printed["precision"], printed["recall"]) == (expected_precision, expected_recall)
    own_fid = hand_frechet(
        pool3.mean(0), np.cov(pool3, rowvar=False), ref_pool3.mean(0), np.cov(ref_pool3, rowvar=False)
    )
    assert abs(printed["frechet_inception_distance"] - own_fid) > 1e-3 * own_fid  # the file's statistics were used
    details = printed["details"]
    assert details["inception_score"]["split_size"] == ADM_SPLIT_SIZE and details["inception_score"]["order"] == "given"
    assert "mu, sigma from the file" in details["fid"]["b"] and "mu_s, sigma_s from the file" in details["sfid"]["b"]
    # The default protocol computes both sides from the images instead.
    default = evaluate(sample_batch, reference=reference_batch, metrics=("fid",), weights=weights_path, progress=False)
    assert default.fid.fid == pytest.approx(own_fid, rel=1e-4)
    assert any("ADM evaluator's own statistics, which the default protocol does not use" in w for w in default.warnings)
    assert not any("default protocol does not use" in warning for warning in details["fid"]["warnings"])


def test_adm_inception_score_takes_consecutive_chunks_of_5000_and_a_shorter_last():
    logits = np.random.RandomState(3).standard_normal((12_000, 20)).astype(np.float32) * 3
    result = adm_inception_score(LogProbabilities.of_logits(logits))
    assert result.splits == 3 and result.split_size == 5000 and result.order == "given"
    assert result.mean == pytest.approx(hand_adm_inception_score(logits), rel=1e-12)
    assert result.split_scores[2] == pytest.approx(hand_adm_inception_score(logits[10_000:]), rel=1e-12)


def test_statistics_files_carry_spatial_statistics_and_some_features(weights_path, data, tmp_path):
    images = fixture_images(data, "b")[:24]
    path = save_statistics(images, tmp_path / "b.npz", max_features=10, weights=weights_path, progress=False).path
    written = read_statistics(path)
    assert written.has_spatial and written.mu_s.shape == (SPATIAL_DIMS,) and written.sigma_s.shape == (2023, 2023)
    assert written.features_shape == (10, 2048) and written.features_subset and written.n == 24
    samples = fixture_images(data, "a")[:24]
    kw = dict(weights=weights_path, progress=False)
    against_file = evaluate(samples, reference=path, metrics=("fid", "sfid", "pr", "dc"), **kw)
    against_images = evaluate(samples, reference=images, metrics=("fid", "sfid"), **kw)
    assert against_file.sfid.sfid == pytest.approx(against_images.sfid.sfid, rel=1e-9)
    assert against_file.fid.fid == pytest.approx(against_images.fid.fid, rel=1e-9)
    assert against_file.manifold.n_b == 10
    # metrics="all" leaves out what a pytorch-fid style file cannot serve
    old = tmp_path / "old.npz"
    np.savez(old, mu=written.mu, sigma=written.sigma)
    assert set(evaluate(samples, reference=old, metrics="all", **kw).metrics_dict()) == {
        "inception_score_mean",
        "inception_score_std",
        "frechet_inception_distance",
        "inception_score_infinity",
        "frechet_inception_distance_infinity",
        "protocol",
        "details",
    }


class ChannelMeans(torch.nn.Module):
    input_contract = {"input_size": 32, "resize": "none", "normalize": "0-255", "channels": 3}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = x.mean(dim=(2, 3))
        return features @ torch.ones(3, 4), features


def test_metrics_that_cannot_be_served_are_refused_naming_the_option(weights_path, data, tmp_path):
    samples = fixture_images(data, "a")[:12]
    old = tmp_path / "old.npz"
    np.savez(old, mu=np.zeros(2048), sigma=np.eye(2048))
    with pytest.raises(InceptionScoreError, match=r"no spatial statistics \(mu_s, sigma_s\).*inception-score stats"):
        evaluate(samples, reference=old, metrics=("sfid",), weights=weights_path)
    with pytest.raises(InceptionScoreError, match="precision/recall needs them.*--with-features.*--max-features"):
        evaluate(samples, reference=old, metrics=("pr",), weights=weights_path)
    with pytest.raises(InceptionScoreError, match="density/coverage needs them"):
        evaluate(samples, reference=old, metrics=("dc",), weights=weights_path)
    with pytest.raises(InceptionScoreError, match="spatial features.*--classifier inception-2015"):
        evaluate(samples, reference=samples, metrics=("sfid",), classifier=ChannelMeans())
    with pytest.raises(InceptionScoreError, match="sFID needs a reference"):
        evaluate(samples, metrics=("sfid",), weights=weights_path)
    done = run_cli("evaluate", data / "images" / "a", "--ref", old, "--metrics", "pr", "--weights", weights_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--with-features" in done.stderr
    done = run_cli("evaluate", data / "images" / "a", "--ref", old, "--metrics", "fid,xyz")
    assert done.returncode == 2 and "is, fid, sfid, kid, pr, dc, inf" in done.stderr


def test_the_report_shows_the_least_realistic_samples_and_those_outside_the_manifold(table, data, tmp_path):
    pytest.importorskip("matplotlib")
    from inception_score import save_report

    page = save_report(table, tmp_path / "report.html", source=data / "images" / "a").read_text()
    outside = int(np.count_nonzero(~table.manifold.details.inside))
    assert "<h2>Realism</h2>" in page and f"{outside} of 120 samples lie outside" in page
    for gallery, expected in (("Least realistic", 8), ("Outside the reference manifold", min(8, outside))):
        start = page.index(f'data-gallery="{gallery}"')
        assert page[start : page.index("</div>", start)].count("<figure") == expected
