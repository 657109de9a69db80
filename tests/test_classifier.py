"""Custom classifiers (TorchScript, module:factory) against the formula by hand; the torchvision preset."""

import json
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from helpers import run_cli
from PIL import Image

from inception_score import InceptionScoreError, inception_score
from inception_score.pipeline.extractors import (
    TORCHVISION_INPUT,
    InputContract,
    load_classifier,
)
from inception_score.pipeline.inception2015 import load_inception
from inception_score.pipeline.torchvision_inception import (
    TorchvisionInceptionV3,
    load_torchvision_inception,
)
from inception_score.pipeline.weights import sha256_file

# A small classifier: 1 or 3 channels in, 7 classes out, returning (logits, features).
FACTORY_SOURCE = textwrap.dedent("""
    import torch
    from torch import nn


    class Tiny(nn.Module):
        def __init__(self, channels: int = 3) -> None:
            super().__init__()
            self.conv = nn.Conv2d(channels, 4, 3, stride=2)
            self.fc = nn.Linear(4, 7)

        def forward(self, x: torch.Tensor):
            features = torch.relu(self.conv(x)).mean(dim=(2, 3))
            return self.fc(features) * 4.0, features


    def make_rgb() -> nn.Module:
        torch.manual_seed(7)
        return Tiny(3)


    def make_gray_declared() -> nn.Module:
        torch.manual_seed(8)
        model = Tiny(1)
        model.input_contract = {"input_size": "16", "resize": "nearest", "normalize": "0.5,0.25", "channels": "1"}
        return model
""")


def hand_inception_score(logits: np.ndarray, splits: int) -> tuple[float, float]:
    """The formula, written out: per split exp(mean KL(p(y|x) || p(y))), in input order."""
    logits = logits.astype(np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0)
        scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(marginal)), axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


@pytest.fixture(scope="module")
def factory_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("factory")
    (folder / "tiny_classifiers.py").write_text(FACTORY_SOURCE)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    sys.modules.pop("tiny_classifiers", None)


@pytest.fixture(scope="module")
def images(data):
    """The 'a' fixture images (32x32 RGB) as float64 N x 3 x H x W in 0..255, and the folder."""
    files = sorted((data / "images" / "a").glob("*.png"))
    array = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])
    return array.transpose(0, 3, 1, 2).astype(np.float64), data / "images" / "a"


@pytest.fixture(scope="module")
def torchscript_file(factory_dir, tmp_path_factory):
    import tiny_classifiers

    path = tmp_path_factory.mktemp("script") / "tiny.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(tiny_classifiers.make_rgb().eval()), str(path))
    return path


def logits_of(model, inputs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(inputs).float())[0].double().numpy()


def test_torchscript_classifier_through_the_cli_equals_the_formula_by_hand(factory_dir, torchscript_file, images):
    import tiny_classifiers

    pixels, folder = images
    # Contract: no resize (the images are 32x32 already), values scaled to [-1, 1].
    expected_logits = logits_of(tiny_classifiers.make_rgb().eval(), (pixels / 255 - 0.5) / 0.5)
    done = run_cli(
        "score",
        folder,
        "--classifier",
        torchscript_file,
        "--input-size",
        32,
        "--resize",
        "none",
        "--normalize",
        "minus1-1",
        "--splits",
        4,
        "--order",
        "given",
        "--json",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    mean, std = hand_inception_score(expected_logits, 4)
    assert result["mean"] == pytest.approx(mean, rel=1e-5) and result["std"] == pytest.approx(std, abs=1e-5)
    assert result["classifier"]["identity"] == f"sha256:{sha256_file(torchscript_file)}"
    assert result["classifier"]["name"] == "torchscript" and result["weights_sha256"] == sha256_file(torchscript_file)
    assert (
        result["reference_weights"] is False
        and result["classifier"]["input"] == "3x32x32, resize none, normalize minus1-1"
    )


def test_factory_classifier_with_declared_contract_equals_the_formula_by_hand(factory_dir, images):
    import tiny_classifiers

    pixels, folder = images
    # Declared contract: gray (ITU-R 601 weights), nearest 32 -> 16 (every second pixel), (x/255 - 0.5) / 0.25.
    gray = (pixels[:, 0:1] * 0.299 + pixels[:, 1:2] * 0.587 + pixels[:, 2:3] * 0.114)[:, :, ::2, ::2]
    expected_logits = logits_of(tiny_classifiers.make_gray_declared().eval(), (gray / 255 - 0.5) / 0.25)
    for splits, order in ((5, "given"), (1, "given")):
        result = inception_score(
            folder,
            classifier="tiny_classifiers:make_gray_declared",
            splits=splits,
            order=order,
            progress=False,
            device="cpu",
        )
        mean, std = hand_inception_score(expected_logits, splits)
        assert result.mean == pytest.approx(mean, rel=1e-5) and result.std == pytest.approx(std, abs=1e-5)
    assert result.classifier["identity"] == "python:tiny_classifiers:make_gray_declared"
    assert result.classifier["input"] == "1x16x16, resize nearest, normalize 0.5,0.25"
    assert result.weights_sha256 is None and result.reference_weights is False
    assert result.summary().endswith("classifier tiny_classifiers:make_gray_declared)")


@pytest.mark.process
def test_factory_through_the_cli_matches_the_api_and_options_override_the_declared_contract(factory_dir, images):
    _, folder = images
    args = (
        "score",
        folder,
        "--classifier",
        "tiny_classifiers:make_gray_declared",
        "--splits",
        3,
        "--json",
        "--quiet",
        "--resize",
        "bilinear",
    )
    done = run_cli(*args, cwd=factory_dir)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    api = inception_score(
        folder,
        classifier="tiny_classifiers:make_gray_declared",
        resize="bilinear",
        splits=3,
        progress=False,
        device="cpu",
    )
    assert printed["mean"] == pytest.approx(api.mean, rel=1e-6)
    assert printed["classifier"]["resize"] == "bilinear" and printed["classifier"]["normalize"] == "0.5,0.25"


def test_an_nn_module_object_is_a_classifier_and_any_batch_size_gives_the_same_score(factory_dir, images):
    import tiny_classifiers

    pixels, folder = images
    expected = hand_inception_score(logits_of(tiny_classifiers.make_rgb().eval(), pixels / 255), 2)
    for batch_size in (7, 64):
        result = inception_score(
            folder,
            classifier=tiny_classifiers.make_rgb(),
            input_size=32,
            normalize="0-1",
            splits=2,
            order="given",
            batch_size=batch_size,
            progress=False,
            device="cpu",
        )
        assert result.mean == pytest.approx(expected[0], rel=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input-size", "8"], "--input-size cannot be used with the inception-2015 classifier"),
        (
            ["--classifier", "torchvision", "--normalize", "0-1"],
            "--normalize cannot be used with the torchvision preset",
        ),
        (["--classifier", "{script}"], "does not declare its input size: pass --input-size N"),
        (["--classifier", "{script}", "--input-size", "8"], "does not declare its normalize"),
        (["--classifier", "{script}", "--input-size", "8", "--normalize", "0-9"], "normalize must be one of"),
        (["--classifier", "{weights}", "--input-size", "8", "--normalize", "0-1"], "cannot load classifier"),
        (["--classifier", "no_such_module_xyz:make"], "cannot import classifier factory no_such_module_xyz:make"),
        (["--classifier", "/no/such/model.pt"], "/no/such/model.pt: no such file"),
        (
            ["--classifier", "{script}", "--input-size", "8", "--normalize", "0-1", "--resize", "none"],
            "takes 8x8 and resize is 'none'",
        ),
        (
            ["--classifier", "{script}", "--input-size", "8", "--normalize", "0-1", "--weights", "{weights}"],
            "weights applies to the inception-2015 and torchvision classifiers only",
        ),
    ],
)
def test_classifier_mistakes_exit_2_with_one_clear_line(torchscript_file, weights_path, data, args, message):
    args = [a.format(script=torchscript_file, weights=weights_path) for a in args]
    done = run_cli("score", data / "images" / "a", "--quiet", *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_module_returning_the_wrong_shape_is_named_in_the_error(images):
    _, folder = images
    with pytest.raises(InceptionScoreError, match=r"must return logits as N x C .* got \(\d+,\)"):
        inception_score(
            folder,
            classifier=torch.nn.Flatten(0),
            input_size=4,
            normalize="0-1",
            splits=1,
            progress=False,
            device="cpu",
        )


# torchvision's published parameter count for Inception_V3_Weights.IMAGENET1K_V1 (aux head included).
TORCHVISION_NUM_PARAMS = 27_161_264
TORCHVISION_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_4a_3x3.bn.running_var": (192,),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "AuxLogits.conv0.conv.weight": (128, 768, 1, 1),
    "AuxLogits.conv1.conv.weight": (768, 128, 5, 5),
    "AuxLogits.fc.weight": (1000, 768),
    "AuxLogits.fc.bias": (1000,),
    "fc.weight": (1000, 2048),
    "fc.bias": (1000,),
}


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory):
    """Random values under torchvision's key names and shapes, saved without num_batches_tracked like old files."""
    rng = np.random.RandomState(3)
    state = {}
    for key, template in TorchvisionInceptionV3().state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, template.shape)
        elif key.endswith("conv.weight"):
            value = rng.standard_normal(template.shape) * np.sqrt(2.0 / np.prod(template.shape[1:]))
        else:
            value = rng.standard_normal(template.shape) * 0.1
        state[key] = torch.from_numpy(value.astype(np.float32))
    path = tmp_path_factory.mktemp("torchvision") / "inception_v3_google-random.pth"
    torch.save(state, path)
    return path, state


def test_torchvision_layout_has_torchvisions_names_shapes_and_parameter_count(torchvision_file):
    _, state = torchvision_file
    for key, shape in TORCHVISION_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    parameters = sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var")))
    assert parameters == TORCHVISION_NUM_PARAMS


def test_torchvision_file_loads_strictly_and_gives_biased_logits_with_count_include_pad_pools(torchvision_file):
    path, state = torchvision_file
    model = load_torchvision_inception(path)
    assert not hasattr(model, "AuxLogits")
    x = torch.from_numpy(np.random.RandomState(4).uniform(-1, 1, (2, 3, 299, 299)).astype(np.float32))
    with torch.no_grad():
        logits, pool3 = model(x)
        block_input = torch.randn(1, 192, 35, 35)
        block = model.Mixed_5b
        pooled = torch.nn.functional.avg_pool2d(block_input, 3, stride=1, padding=1, count_include_pad=True)
        expected_branch = block.branch_pool(pooled)
        got_branch = block(block_input)[:, -32:]
    assert logits.shape == (2, 1000) and pool3.shape == (2, 2048)
    torch.testing.assert_close(logits, pool3 @ state["fc.weight"].T + state["fc.bias"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got_branch, expected_branch)
    assert model.Mixed_7c.pooling == "avg" and model.Mixed_7b.pooling == "avg"


def test_torchvision_loader_rejects_a_2015_file_and_a_file_without_the_aux_head(
    weights_path, torchvision_file, tmp_path
):
    with pytest.raises(InceptionScoreError, match="does not have torchvision's Inception v3 layout"):
        load_torchvision_inception(weights_path)
    _, state = torchvision_file
    no_aux = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    torch.save(no_aux, tmp_path / "no_aux.pth")
    with pytest.raises(InceptionScoreError, match="missing: AuxLogits"):
        load_torchvision_inception(tmp_path / "no_aux.pth")
    with pytest.raises(InceptionScoreError, match="2015 Inception layout"):
        load_inception(torchvision_file[0])


def test_torchvision_preprocessing_matches_hand_computed_half_pixel_bilinear():
    image = np.random.RandomState(5).randint(0, 256, size=(1, 3, 3, 5)).astype(np.float64)

    def axis_weights(in_size, out_size=299):
        # Half-pixel centres: output o samples input (o + 0.5) * in / out - 0.5, clamped at the borders.
        matrix = np.zeros((out_size, in_size))
        for o in range(out_size):
            position = max((o + 0.5) * in_size / out_size - 0.5, 0.0)
            low = min(int(np.floor(position)), in_size - 1)
            high = min(low + 1, in_size - 1)
            matrix[o, low] += 1 - (position - low)
            matrix[o, high] += position - low
        return matrix

    resized = np.einsum("yh,nchw,xw->ncyx", axis_weights(3), image, axis_weights(5))
    expected = (resized / 255 - 0.5) / 0.5
    got = TORCHVISION_INPUT.prepare(torch.from_numpy(image).float()).double().numpy()
    assert got.shape == (1, 3, 299, 299)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
    assert got.min() >= -1 and got.max() <= 1


def test_torchvision_transform_input_path_feeds_the_same_values():
    # torchvision's pretrained default (transform_input=True) takes ImageNet-normalised input and maps it back
    # to (x - 0.5) / 0.5 per channel; the preset feeds that directly (sbarratt's transform_input=False path).
    pixels = torch.from_numpy(np.random.RandomState(6).randint(0, 256, (2, 3, 299, 299)).astype(np.float32))
    mean, std = (
        torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1),
        torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1),
    )
    imagenet = InputContract(size=299, resize="bilinear", normalize="imagenet").prepare(pixels)
    transformed = imagenet * (std / 0.5) + (mean - 0.5) / 0.5
    torch.testing.assert_close(transformed, TORCHVISION_INPUT.prepare(pixels), rtol=0, atol=1e-5)


def test_torchvision_preset_scores_through_the_api_with_its_contract(torchvision_file, data):
    path, state = torchvision_file
    classifier = load_classifier("torchvision", weights=path, progress=False)
    assert classifier.contract == InputContract(size=299, resize="bilinear", normalize="minus1-1", channels=3)
    result = inception_score(
        data / "images" / "mixed",
        classifier="torchvision",
        weights=path,
        splits=2,
        progress=False,
        device="cpu",
        batch_size=14,
    )
    assert result.classifier["name"] == "torchvision" and result.classifier["logits"].startswith("fc(pool3)")
    assert result.weights_sha256 == sha256_file(path) and result.reference_weights is False
    assert any("not torchvision's file" in warning for warning in result.warnings)
    assert 1.0 <= result.mean <= 1000


FAILING_SOURCE = textwrap.dedent("""
    import torch
    from torch import nn


    class NeedsGray(nn.Module):
        def forward(self, x: torch.Tensor):
            if x.shape[1] != 1:
                raise ValueError("this classifier needs grayscale input, got " + str(x.shape[1]) + " channels")
            return x.flatten(1), x.flatten(1)


    class WrongWidth(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(20, 5)

        def forward(self, x: torch.Tensor):
            return self.fc(x.flatten(1)), x.flatten(1)
""")


@pytest.mark.parametrize(
    "name, cause",
    [
        ("NeedsGray", "ValueError: this classifier needs grayscale input, got 3 channels"),
        ("WrongWidth", "RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
    ],
)
def test_a_torchscript_failure_shows_the_real_cause(tmp_path, data, monkeypatch, name, cause):
    """torch reports 'The following operation failed in the TorchScript interpreter' and, lines later, why."""
    (tmp_path / "failing_classifiers.py").write_text(FAILING_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import failing_classifiers

    path = tmp_path / f"{name}.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(getattr(failing_classifiers, name)()), str(path))
    sys.modules.pop("failing_classifiers", None)
    done = run_cli("score", data / "images" / "a", "--classifier", path, "--input-size", 8, "--normalize", "0-1")
    assert done.returncode == 2 and cause in done.stderr, done.stderr
    assert "in the TorchScript interpreter" in done.stderr and "failing_classifiers.py" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
