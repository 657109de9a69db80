"""inception_score.compat.calculate_metrics against torch-fidelity 0.4.0's own outputs for the same calls.

The outputs (tests/data/reference_compat.json) were made by the real torch-fidelity in a separate environment
with the fixtures' random weights, by tests/data/make_reference_compat.py. Every key is compared: the same
keys in the same order, each number within 1e-4 relative (the IS std within 1e-4 of the IS). The fixture
folders' Inception features come from the session's cache (conftest `folder_features`), so these calls cost
little beyond the first.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from recipe import DATA

from inception_score import compat
from inception_score.compat import calculate_metrics, listed_files, resize_and_crop
from inception_score.errors import InceptionScoreError, InceptionScoreWarning

REFERENCE = json.loads((DATA / "reference_compat.json").read_text())
RELATIVE = 1e-4


def runs_vgg16(kwargs: dict) -> bool:
    """Whether torch-fidelity ran VGG-16 for this call (prc on the default extractor, or vgg16 asked for)."""
    extractor = kwargs.get("feature_extractor")
    return extractor == "vgg16" or (bool(kwargs.get("prc")) and extractor is None)


VGG_CASES = {name for name, case in REFERENCE["python"].items() if runs_vgg16(case["kwargs"])}


def filled(value, peer_inputs):
    """A stored case's value with the placeholders ({a}, {inception}, ...) made real paths."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return peer_inputs[value[1:-1]]
    return value


def hub_home(tmp_path, peer_inputs, monkeypatch):
    """TORCH_HOME whose hub cache holds both weights peer_inputs under torch-fidelity's download names."""
    hub = tmp_path / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "weights-inception-2015-12-05-6726825d.pth").symlink_to(peer_inputs["inception"])
    (hub / "vgg16-397923af.pth").symlink_to(peer_inputs["vgg16"])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def assert_same_metrics(got: dict, expected: dict) -> None:
    """The same keys in the same order; each number within 1e-4 relative, the IS std within 1e-4 of the IS
    itself (the std of a few split scores carries their rounding, which is relative to the score)."""
    assert list(got) == list(expected), "the same keys in torch-fidelity's order"
    for key, value in expected.items():
        assert isinstance(got[key], float)
        scale = RELATIVE * expected["inception_score_mean"] if key == "inception_score_std" else 1e-12
        assert got[key] == pytest.approx(value, rel=RELATIVE, abs=scale), key


def run_case(name, peer_inputs, tmp_path, monkeypatch):
    kwargs = dict(REFERENCE["python"][name]["kwargs"])
    if kwargs.pop("hub", False):
        hub_home(tmp_path, peer_inputs, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InceptionScoreWarning)  # few images, random weights: said, not tested here
        return calculate_metrics(**{key: filled(value, peer_inputs) for key, value in kwargs.items()})


# --- the numbers --------------------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(set(REFERENCE["python"]) - VGG_CASES))
def test_same_numbers_as_torch_fidelity(name, peer_inputs, peer_cache, tmp_path, monkeypatch):
    assert_same_metrics(run_case(name, peer_inputs, tmp_path, monkeypatch), REFERENCE["python"][name]["metrics"])


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(VGG_CASES))
def test_vgg16_metrics_as_torch_fidelity(name, peer_inputs, vgg16_path, peer_cache, tmp_path, monkeypatch):
    """torch-fidelity's precision/recall (and FID/KID with feature_extractor='vgg16') on VGG-16 fc2_relu."""
    peer_inputs = peer_inputs | {"vgg16": str(vgg16_path)}
    assert_same_metrics(run_case(name, peer_inputs, tmp_path, monkeypatch), REFERENCE["python"][name]["metrics"])


@pytest.mark.reference
def test_a_dataset_of_uint8_tensors_is_read_in_index_order(peer_inputs, peer_cache):
    class Folder(torch.utils.data.Dataset):
        def __init__(self, folder):
            self.paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))

        def __len__(self):
            return len(self.paths)

        def __getitem__(self, index):
            return torch.from_numpy(np.array(Image.open(self.paths[index]).convert("RGB"))).permute(2, 0, 1)

    kwargs = {key: filled(value, peer_inputs) for key, value in REFERENCE["python"]["isc_a"]["kwargs"].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InceptionScoreWarning)
        got = calculate_metrics(**{**kwargs, "input1": Folder(peer_inputs["a"])})
    assert_same_metrics(got, REFERENCE["python"]["isc_a"]["metrics"])


def test_dataset_items_must_be_uint8_images(peer_inputs):
    class Floats(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return torch.zeros(3, 8, 8)

    with pytest.raises(InceptionScoreError, match=r"input1\[0\]: .*uint8 tensors 3 x H x W; got torch.float32"):
        calculate_metrics(
            input1=Floats(),
            isc=True,
            isc_splits=2,
            cuda=False,
            verbose=False,
            feature_extractor_weights_path=peer_inputs["inception"],
        )


# --- the arguments ------------------------------------------------------------------------------------------


def test_every_torch_fidelity_argument_is_known_with_its_default():
    assert compat.DEFAULTS == REFERENCE["defaults"]
    assert compat.DEPRECATED == REFERENCE["deprecations"]
    assert set(compat.DEVELOPMENT) == {"mind", "mind_num_projections", "feature_layer_mind"}
    parts = (set(compat.HONOURED), set(compat.FIXED), set(compat.NO_EFFECT))
    assert set().union(*parts) == set(compat.ARGUMENTS) == set(compat.DEFAULTS) | set(compat.DEVELOPMENT)
    assert sum(map(len, parts)) == len(compat.ARGUMENTS), "each argument is in one group"


def test_an_unknown_argument_is_refused_with_the_list():
    with pytest.raises(
        InceptionScoreError,
        match=r"unknown torch-fidelity argument isc_split; the arguments are "
        r"input1, input2, cuda, .*isc_splits",
    ):
        calculate_metrics(input1="a", isc=True, isc_split=5)


def test_deprecated_kid_names_are_mapped_with_a_future_warning(peer_inputs):
    with pytest.warns(FutureWarning, match='"kid_degree" is deprecated since torch-fidelity 0.4.0'):
        with pytest.raises(InceptionScoreError, match="degree 2"):
            calculate_metrics(input1=peer_inputs["a"], input2=peer_inputs["b"], kid=True, kid_degree=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one metric"),
        ({"input1": None, "isc": True}, "input1 is required"),
        ({"fid": True}, "input2 is required for fid, kid, prc and mind"),
        ({"mind": True}, "input2 is required"),
        ({"mind": True, "input2": "{b}", "feature_layer_mind": "768"}, "feature_layer_mind='768'"),
        ({"isc": "yes"}, "isc must be True or False"),
        ({"isc": True, "ppl": True}, "ppl .* is not computed here"),
        ({"kid": True, "input2": "{b}", "kid_kernel": "rbf"}, "polynomial kernel"),
        ({"kid": True, "input2": "{b}", "kid_kernel_poly_gamma": 0.1}, "gamma 0.1"),
        ({"kid": True, "input2": "{b}", "kid_kernel_poly_coef0": 0}, "coef0 0"),
        ({"prc": True, "input2": "{b}", "prc_neighborhood": 5}, "k = 3 neighbours"),
        ({"fid": True, "input2": "{b}", "feature_layer_fid": "768"}, "feature_layer_fid='768'.*'2048'"),
        ({"isc": True, "feature_layer_isc": "logits"}, "'logits_unbiased' here and no other"),
        ({"prc": True, "input2": "{b}", "feature_layer_prc": "fc2"}, "vgg16 gives prc its layer 'fc2_relu'"),
        ({"fid": True, "input2": "{b}", "feature_extractor": "clip-vit-b-32"}, "not available here"),
        ({"isc": True, "feature_extractor": "vgg16"}, "VGG-16 gives no class logits"),
        ({"isc": True, "feature_extractor_internal_dtype": "float16"}, "'float32' or 'float64'"),
        ({"isc": True, "samples_find_ext": ""}, "comma-separated extensions"),
        ({"isc": True, "samples_resize_and_crop": -1}, "samples_resize_and_crop must be"),
        ({"isc": True, "prc": True, "input2": "{b}", "feature_extractor_weights_path": "w.pth"}, "one call per"),
        ({"isc": True, "input1": "cifar10-train"}, "registered datasets, which are not downloaded"),
        ({"isc": True, "input1": "{a}/missing"}, "no such folder"),
        ({"isc": True, "input1": 3}, "must be a folder of images or a torch Dataset"),
        ({"isc": True, "samples_find_ext": "jpg"}, "no images with the extensions jpg"),
        ({"isc": True, "input1": "{data}"}, "directly in the folder .*samples_find_deep=True"),
    ],
)
def test_values_that_cannot_be_honoured_are_refused_before_any_image_is_read(peer_inputs, data, kwargs, message):
    kwargs = {"input1": "{a}", **kwargs}
    paths = peer_inputs | {"data": str(data / "images")}
    given = {key: value.format(**paths) if isinstance(value, str) else value for key, value in kwargs.items()}
    with pytest.raises(InceptionScoreError, match=message):
        calculate_metrics(**given)


def test_float64_runs_in_float32_as_in_torch_fidelity_and_says_so():
    args = dict(compat.DEFAULTS, isc=True, feature_extractor_internal_dtype="float64")
    with pytest.warns(InceptionScoreWarning, match="maps 'float64' to torch.float32"):
        compat.checked_arguments(args)


def test_generator_models_are_refused(tmp_path):
    model = tmp_path / "generator.onnx"
    model.write_bytes(b"onnx")
    with pytest.raises(InceptionScoreError, match="generator models are not run here"):
        calculate_metrics(input1=str(model), isc=True)


# --- how torch-fidelity reads a folder -------------------------------------------------------------------------


def test_folder_listing_follows_torch_fidelity(tmp_path):
    root = tmp_path / "samples"
    (root / "deeper").mkdir(parents=True)
    for name in ("b.png", "A.PNG", "c.jpeg", "d.bmp", "deeper/a.png", "deeper/e.JPG"):
        (root / name).write_bytes(b"")
    (root / "z_link.png").symlink_to(root / "deeper" / "a.png")  # listed by its real path
    real = os.path.realpath(root)
    top = listed_files(str(root), False, "png,jpg,jpeg")
    assert top == sorted([f"{real}/A.PNG", f"{real}/b.png", f"{real}/c.jpeg", f"{real}/deeper/a.png"])
    deep = listed_files(str(root), True, "png,jpg,jpeg")
    assert deep == sorted(top + [f"{real}/deeper/a.png", f"{real}/deeper/e.JPG"])
    assert listed_files(str(root), True, "bmp") == [f"{real}/d.bmp"]
    assert listed_files(str(root), False, "PNG,jpeg") == [f"{real}/c.jpeg"]  # its list is not lowercased


@pytest.mark.parametrize(("width", "height", "size"), [(10, 4, 2), (4, 10, 3), (7, 7, 7), (5, 9, 5), (3, 2, 4)])
def test_resize_and_crop_is_torchvision_resize_then_center_crop(tmp_path, width, height, size):
    """Hand-computed: the shorter side to size (the longer int(size * long / short)), PIL bilinear, then
    the centre square at offsets round((side - size) / 2), halves to even."""
    pixels = np.random.default_rng(width * height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path = tmp_path / "image.png"
    Image.fromarray(pixels).save(path)
    short, long = min(width, height), max(width, height)
    scaled = (size, int(size * long / short)) if width <= height else (int(size * long / short), size)
    image = Image.fromarray(pixels)
    if short != size:
        image = image.resize(scaled, Image.Resampling.BILINEAR)
    expected = np.asarray(image)
    top, left = round((expected.shape[0] - size) / 2), round((expected.shape[1] - size) / 2)
    got = resize_and_crop(str(path), size)
    assert got.shape == (size, size, 3)
    np.testing.assert_array_equal(got, expected[top : top + size, left : left + size])


def test_lossy_files_are_announced(tmp_path):
    folder = tmp_path / "jpegs"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "one.jpg")
    args = dict(compat.DEFAULTS, isc=True)
    with pytest.warns(InceptionScoreWarning, match="lossy-compressed"):
        compat.input_source(str(folder), args, "input1")


def mind_as_torch_fidelity_dev(features_1: np.ndarray, features_2: np.ndarray, projections: int, seed: int) -> float:
    """MIND as torch-fidelity's development branch computes it (metric_mind.py), on float32 features: one CPU
    generator seeded with rng_seed; the larger side cut with randperm(N)[:n]; randn(M, d) directions divided by
    their norms; each side's projections sorted per direction; 3 d x the mean squared difference."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    first, second = torch.from_numpy(features_1), torch.from_numpy(features_2)
    n = min(len(first), len(second))
    if len(first) > n:
        first = first[torch.randperm(len(first), generator=generator)[:n]]
    if len(second) > n:
        second = second[torch.randperm(len(second), generator=generator)[:n]]
    directions = torch.randn(projections, first.shape[1], generator=generator, dtype=torch.float32)
    directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    one, two = (first @ directions.t()).sort(dim=0)[0], (second @ directions.t()).sort(dim=0)[0]
    return float(3.0 * first.shape[1] * ((one - two) ** 2).mean(dim=0).mean())


@pytest.mark.reference
@pytest.mark.parametrize(("first", "second", "projections", "seed"), [("a", "b", 50, 7), ("mixed", "a", 100, 2020)])
def test_mind_as_torch_fidelitys_development_branch(peer_inputs, data, peer_cache, first, second, projections, seed):
    """No torch-fidelity release has MIND yet: the reference is its algorithm on torch-fidelity's own pool3."""
    expected = mind_as_torch_fidelity_dev(
        np.load(data / f"reference_{first}_pool3.npy"),
        np.load(data / f"reference_{second}_pool3.npy"),
        projections,
        seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InceptionScoreWarning)
        got = calculate_metrics(
            input1=peer_inputs[first],
            input2=peer_inputs[second],
            mind=True,
            mind_num_projections=projections,
            rng_seed=seed,
            feature_layer_mind="2048",
            feature_extractor_weights_path=peer_inputs["inception"],
            cuda=False,
            verbose=False,
        )
    assert list(got) == ["monge_inception_distance"]
    assert got["monge_inception_distance"] == pytest.approx(expected, rel=RELATIVE)
