"""The optimised pipeline (folded batch norm, channels-last, decoding threads) gives the plain path's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inception_score import inception_score_from_logits
from inception_score.errors import InceptionScoreError
from inception_score.pipeline.extract import extract_features, preprocess
from inception_score.pipeline.inception2015 import BasicConv2d, load_inception, onednn_conv_relu_works
from inception_score.pipeline.sources import Sample, open_source

COUNT = 40  # images of fixture set a run through both paths


@pytest.fixture(scope="module")
def both_paths(folder_features, weights_path, data):
    """Set a's first COUNT images: optimised (the session's run of set a) and plain (inline decoding)."""
    files = sorted((data / "images" / "a").glob("*.png"))[:COUNT]
    plain = extract_features(
        open_source(files),
        load_inception(weights_path, plain=True),
        batch_size=16,
        device="cpu",
        progress=False,
        workers=0,
    )
    optimised = folder_features("a")
    return optimised.logits[:COUNT], optimised.features[:COUNT], plain


def test_models_differ_as_intended(weights_path):
    optimised, plain = load_inception(weights_path), load_inception(weights_path, plain=True)
    assert (optimised.variant, plain.variant) == ("optimised", "plain")
    assert isinstance(optimised.Mixed_5b.branch1x1.bn, torch.nn.Identity)
    assert optimised.Mixed_5b.branch1x1.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert isinstance(plain.Mixed_5b.branch1x1.bn, torch.nn.BatchNorm2d)
    assert plain.Mixed_5b.branch1x1.conv.bias is None
    assert optimised.Mixed_5b.branch1x1.fused == onednn_conv_relu_works() and not plain.Mixed_5b.branch1x1.fused


@pytest.mark.reference
def test_optimised_and_plain_agree(both_paths, data):
    optimised_logits, optimised_pool3, plain = both_paths
    reference = np.load(data / "reference_a_logits.npy")[:COUNT]
    np.testing.assert_allclose(optimised_logits, plain.logits, rtol=0, atol=1e-3)
    np.testing.assert_allclose(optimised_pool3, plain.features, rtol=0, atol=1e-3)
    np.testing.assert_allclose(plain.logits, reference, rtol=0, atol=1e-3)
    np.testing.assert_allclose(plain.features, np.load(data / "reference_a_pool3.npy")[:COUNT], rtol=0, atol=1e-3)
    for order in ("shuffled", "given"):
        scores = [
            inception_score_from_logits(logits, splits=4, order=order) for logits in (optimised_logits, plain.logits)
        ]
        expected = inception_score_from_logits(reference, splits=4, order=order)
        for result in scores:
            assert result.mean == pytest.approx(expected.mean, rel=1e-5)
            assert result.std == pytest.approx(expected.std, rel=1e-4, abs=1e-6)
        assert scores[0].mean == pytest.approx(scores[1].mean, rel=1e-5)
    assert plain.computed == COUNT


def test_folding_one_layer_matches_batch_norm():
    torch.manual_seed(0)
    layer = BasicConv2d(5, 7, kernel_size=3, padding=1).eval()
    layer.bn.running_mean.uniform_(-1, 1)
    layer.bn.running_var.uniform_(0.1, 3)
    layer.bn.weight.data.uniform_(0.5, 2)
    layer.bn.bias.data.uniform_(-1, 1)
    inputs = torch.randn(2, 5, 9, 11)
    with torch.inference_mode():
        expected = layer(inputs)
        layer.fold_batchnorm()
        folded = layer(inputs)
    assert isinstance(layer.bn, torch.nn.Identity)
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)


def test_fused_conv_relu_matches_separate_ops_and_follows_input_shapes():
    if not onednn_conv_relu_works():
        pytest.skip("this torch has no working oneDNN fused convolution (torch.ops.mkldnn._convolution_pointwise)")
    torch.manual_seed(0)
    layer = BasicConv2d(6, 10, kernel_size=(1, 7), padding=(0, 3)).eval().requires_grad_(False)
    layer.bn.running_mean.uniform_(-1, 1)
    layer.bn.running_var.uniform_(0.1, 3)
    layer.fold_batchnorm()
    layer.to(memory_format=torch.channels_last)
    batches = [torch.randn(3, 6, 11, 13), torch.randn(1, 6, 11, 13), torch.randn(2, 6, 5, 9)]  # weights repacked
    with torch.inference_mode():
        separate = [layer(batch) for batch in batches]
        layer.fuse_relu()
        fused = [layer(batch.contiguous(memory_format=torch.channels_last)) for batch in batches]
    for expected, got in zip(separate, fused):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    with torch.enable_grad():  # with gradients on, the layer runs the ordinary differentiable operators
        inputs = batches[0].requires_grad_()
        layer(inputs).sum().backward()
    assert inputs.grad is not None


def test_channels_last_preprocess_is_the_same_tensor():
    rng = np.random.RandomState(0)
    images = [rng.randint(0, 256, (17, 23, 3), dtype=np.uint8) for _ in range(3)]
    images.append(rng.randint(0, 256, (40, 8, 3), dtype=np.uint8))
    nchw = preprocess(images, "cpu")
    nhwc = preprocess(images, "cpu", channels_last=True)
    assert nhwc.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(nchw, nhwc)


def test_decoding_error_in_a_worker_names_the_file(weights_path, data):
    good = (data / "images" / "a" / "00000.png").read_bytes()
    samples = [Sample("good.png", good), Sample("broken.png", b"not an image")]
    with pytest.raises(InceptionScoreError, match="broken.png"):
        extract_features(samples, load_inception(weights_path), batch_size=2, device="cpu", progress=False, workers=2)


# --- several networks in one pass (extract_many) ------------------------------------------------


class CountingNetwork(torch.nn.Module):
    """A tiny seeded network that counts the images it is run on: (logits, features) from a 3-channel input."""

    def __init__(self, seed: int, classes: int, width: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.logits = torch.nn.Parameter(torch.randn(3, classes, generator=generator))
        self.features = torch.nn.Parameter(torch.randn(3 * 4, width, generator=generator))
        self.seen = 0

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.seen += len(batch)
        pooled = torch.nn.functional.adaptive_avg_pool2d(batch, 2).flatten(1)
        return batch.mean(dim=(2, 3)) @ self.logits, pooled @ self.features


def _stream(files):
    """A one-shot iterator over the images as arrays (a second read would find it empty)."""
    from PIL import Image

    yield np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])


def test_several_networks_share_one_decode_and_run_once_per_image(data, tmp_path):
    from inception_score.maths.frechet import MomentAccumulator
    from inception_score.pipeline.cache import FeatureCache
    from inception_score.pipeline.extract import Head, extract_many
    from inception_score.pipeline.extractors import InputContract

    files = sorted((data / "images" / "a").glob("*.png"))[:12]
    small, large = (
        InputContract(size=16, normalize="0-1"),
        InputContract(size=40, resize="pil-bicubic", normalize="imagenet"),
    )
    first, second = CountingNetwork(1, 5, 7), CountingNetwork(2, 0, 9)
    alone = [
        extract_features(open_source(files), net, contract=contract, batch_size=5, device="cpu", progress=False)
        for net, contract in ((first, small), (second, large))
    ]
    first.seen = second.seen = 0
    moments = MomentAccumulator()
    heads = [Head(first, small), Head(second, large, keep_logits=False, feature_moments=moments)]
    # the stream can be read once: one pass over it serves both networks
    both = extract_many(open_source(_stream(files)), heads, batch_size=5, device="cpu", progress=False)
    assert (first.seen, second.seen) == (len(files), len(files))
    np.testing.assert_array_equal(both[0].logits, alone[0].logits)
    np.testing.assert_array_equal(both[0].features, alone[0].features)
    assert both[1].logits is None
    np.testing.assert_array_equal(both[1].features, alone[1].features)
    assert moments.n == len(both[1].names) == len(files) and both[0].names == both[1].names

    # one network's results cached, the other's not: only the second runs, each image once
    cache = FeatureCache(tmp_path / "cache")
    extract_features(open_source(files[:8]), first, contract=small, cache=cache, model_id="first", progress=False)
    first.seen = second.seen = 0
    heads = [Head(first, small, FeatureCache(tmp_path / "cache"), "first"), Head(second, large, cache, "second")]
    found = extract_many(open_source(files), heads, batch_size=5, device="cpu", progress=False)
    assert (first.seen, second.seen) == (len(files) - 8, len(files))
    assert [features.computed for features in found] == [len(files) - 8, len(files)]
    np.testing.assert_allclose(found[0].logits, alone[0].logits, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(found[1].features, alone[1].features)
    # both cached now: nothing is decoded or run
    first.seen = second.seen = 0
    again = extract_many(open_source(files), heads, batch_size=5, device="cpu", progress=False)
    assert (first.seen, second.seen) == (0, 0) and [features.computed for features in again] == [0, 0]
    np.testing.assert_array_equal(again[1].features, found[1].features)
