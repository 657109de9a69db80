"""Make tests/data/reference_compat.json (and reference_mixed_vgg16.npy): torch-fidelity 0.4.0's own
outputs for the calls tests/test_compat.py makes of `inception_score.compat` and `inception-score fidelity`.

Run with the peers' environment, from the repository root (offline; nothing is downloaded):

    PYTHONPATH=src:tests /work/peers/bin/python tests/data/make_reference_compat.py

- Weights: the fixtures' Inception "recipe v1" and the VGG-16 "recipe vgg16 v1" (tests/recipe.py), each
  checked by its digest, saved to a temporary folder. `{inception}` and `{vgg16}` in a case stand for
  those files; `{a}`, `{b}`, `{mixed}`, `{images}` for the fixture folders tests/data/images/...
- Python cases: `torch_fidelity.calculate_metrics(**kwargs)`, every key of the dict it returns kept.
  Cases with "hub": true give no weights path: TORCH_HOME is a temporary folder whose hub/checkpoints
  holds the two files under torch-fidelity's download names (weights-inception-2015-12-05-6726825d.pth,
  vgg16-397923af.pth); torch.hub loads a file already there without checking its hash, which is how a
  call with both networks (isc and prc) can run on local weights at all: torch-fidelity passes one
  feature_extractor_weights_path to both networks.
- Command cases: the `fidelity` console script in a subprocess (its stdout, exactly, and exit code),
  with TORCH_HOME as above and CUDA_VISIBLE_DEVICES unset (the command then runs on the CPU).
- defaults, deprecations, command_help: torch-fidelity's DEFAULTS (every argument calculate_metrics reads,
  with its default), its renamed arguments, and `fidelity --help` (every flag of its command).
- reference_mixed_vgg16.npy: torch-fidelity's VGG-16 fc2_relu features of images/mixed (28 x 4096),
  read one image at a time, for a direct check of our VGG-16 network.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch_fidelity
import torchvision
from PIL import Image
from torch_fidelity.defaults import DEFAULTS
from torch_fidelity.deprecations import DEPRECATIONS
from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recipe import (  # noqa: E402 (tests/ is put on the path above)
    RECIPE_SHA256,
    VGG16_RECIPE_SHA256,
    build_recipe_state_dict,
    build_vgg16_state_dict,
    recipe_digest,
)

DATA = Path(__file__).resolve().parent
FOLDERS = {name: str(DATA / "images" / name) for name in ("a", "b", "mixed")} | {"images": str(DATA / "images")}
SILENT = {"verbose": False}

PYTHON_CASES = {
    "isc_a": dict(input1="{a}", isc=True, feature_extractor_weights_path="{inception}", cuda=False, **SILENT),
    "isc_a_splits5_in_order": dict(
        input1="{a}",
        isc=True,
        isc_splits=5,
        samples_shuffle=False,
        feature_extractor_weights_path="{inception}",
        cuda=False,
        **SILENT,
    ),
    "isc_b_splits3_seed7": dict(
        input1="{b}", isc=True, isc_splits=3, rng_seed=7, feature_extractor_weights_path="{inception}", cuda=False
    ),
    "isc_a_splits1": dict(
        input1="{a}", isc=True, isc_splits=1, feature_extractor_weights_path="{inception}", cuda=False, **SILENT
    ),
    "isc_a_float64": dict(
        input1="{a}",
        isc=True,
        feature_extractor_internal_dtype="float64",
        feature_extractor_weights_path="{inception}",
        cuda=False,
        **SILENT,
    ),
    "isc_mixed_splits4": dict(
        input1="{mixed}",
        isc=True,
        isc_splits=4,
        batch_size=1,
        feature_extractor_weights_path="{inception}",
        cuda=False,
        **SILENT,
    ),
    "isc_deep": dict(
        input1="{images}",
        isc=True,
        samples_find_deep=True,
        batch_size=1,
        feature_extractor_weights_path="{inception}",
        cuda=False,
        **SILENT,
    ),
    "isc_mixed_resize_crop_32": dict(
        input1="{mixed}",
        isc=True,
        isc_splits=2,
        samples_resize_and_crop=32,
        feature_extractor_weights_path="{inception}",
        cuda=False,
        save_cpu_ram=True,
        **SILENT,
    ),
    "fid_a_b": dict(input1="{a}", input2="{b}", fid=True, feature_extractor_weights_path="{inception}", cuda=False),
    "kid_a_b_10x50": dict(
        input1="{a}",
        input2="{b}",
        kid=True,
        kid_subsets=10,
        kid_subset_size=50,
        feature_extractor_weights_path="{inception}",
        cuda=False,
        **SILENT,
    ),
    "kid_a_b_explicit_kernel": dict(
        input1="{a}",
        input2="{b}",
        kid=True,
        kid_subsets=10,
        kid_subset_size=50,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=1 / 2048,
        kid_kernel_poly_coef0=1.0,
        feature_extractor_weights_path="{inception}",
        cuda=False,
        **SILENT,
    ),
    "all_a_b": dict(
        input1="{a}",
        input2="{b}",
        isc=True,
        fid=True,
        kid=True,
        isc_splits=4,
        kid_subsets=20,
        kid_subset_size=100,
        rng_seed=123,
        batch_size=7,
        samples_shuffle=False,
        feature_extractor="inception-v3-compat",
        feature_layer_isc="logits_unbiased",
        feature_layer_fid="2048",
        feature_layer_kid="2048",
        feature_extractor_weights_path="{inception}",
        cuda=False,
        save_cpu_ram=True,
        cache=False,
        **SILENT,
    ),
    "fid_kid_mixed_a": dict(
        input1="{mixed}",
        input2="{a}",
        fid=True,
        kid=True,
        kid_subsets=5,
        kid_subset_size=20,
        batch_size=1,
        feature_extractor_weights_path="{inception}",
        cuda=False,
        **SILENT,
    ),
    "prc_inception_mixed_a": dict(
        input1="{mixed}",
        input2="{a}",
        prc=True,
        feature_extractor="inception-v3-compat",
        batch_size=1,
        feature_extractor_weights_path="{inception}",
        cuda=False,
        **SILENT,
    ),
    "prc_mixed_a": dict(
        input1="{mixed}",
        input2="{a}",
        prc=True,
        batch_size=1,
        feature_extractor_weights_path="{vgg16}",
        cuda=False,
        **SILENT,
    ),
    "fid_kid_vgg16_mixed_a": dict(
        input1="{mixed}",
        input2="{a}",
        fid=True,
        kid=True,
        kid_subsets=5,
        kid_subset_size=20,
        feature_extractor="vgg16",
        batch_size=1,
        feature_extractor_weights_path="{vgg16}",
        cuda=False,
        **SILENT,
    ),
    "isc_fid_prc_hub": dict(
        input1="{mixed}", input2="{a}", isc=True, fid=True, prc=True, batch_size=1, cuda=False, hub=True, **SILENT
    ),
}

COMMAND_CASES = {
    "isc_a": ["--input1", "{a}", "--isc", "--silent", "--feature-extractor-weights-path", "{inception}"],
    "all_a_b": [
        "--input1", "{a}", "--input2", "{b}", "--isc", "--fid", "--kid", "--kid-subsets", "10",
        "--kid-subset-size", "50", "--isc-splits", "5", "--no-samples-shuffle", "--rng-seed", "11", "--silent",
        "--feature-extractor-weights-path", "{inception}",
    ],
    "all_a_b_json": [
        "--input1", "{a}", "--input2", "{b}", "--isc", "--fid", "--kid", "--kid-subsets", "10",
        "--kid-subset-size", "50", "--isc-splits", "5", "--no-samples-shuffle", "--rng-seed", "11", "--silent",
        "--feature-extractor-weights-path", "{inception}", "--json",
    ],
    "kid_a_a_verbose": [
        "--input1", "{a}", "--input2", "{a}", "--kid", "--kid-subsets", "10", "--kid-subset-size", "50", "--cpu",
        "--feature-extractor-weights-path", "{inception}",
    ],
    "short_flags_mixed_a": [
        "--input1", "{mixed}", "--input2", "{a}", "-i", "-f", "-b", "1", "-c", "--silent",
        "--feature-extractor-weights-path", "{inception}",
    ],
    "prc_mixed_a_json": [
        "--input1", "{mixed}", "--input2", "{a}", "--prc", "-b", "1", "--silent", "--json",
        "--feature-extractor-weights-path", "{vgg16}",
    ],
    "resize_crop_deep_json": [
        "--input1", "{images}", "--samples-find-deep", "--samples-resize-and-crop", "48", "--isc", "--isc-splits",
        "2", "-b", "32", "--save-cpu-ram", "--silent", "--json", "--feature-extractor-weights-path", "{inception}",
    ],
    "isc_prc_hub": ["--input1", "{mixed}", "--input2", "{a}", "-i", "-r", "-b", "1", "--silent"],
}  # fmt: skip


def fill(value, files: dict[str, str]):
    """A case's value with its placeholders replaced by the fixture folders and weights files."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return files[value[1:-1]]
    return value


def write_weights(folder: Path) -> dict[str, str]:
    inception, vgg = build_recipe_state_dict(), build_vgg16_state_dict()
    assert recipe_digest(inception) == RECIPE_SHA256, "Inception recipe weights do not match the fixtures README"
    assert recipe_digest(vgg) == VGG16_RECIPE_SHA256, "VGG-16 recipe weights changed"
    reference = torchvision.models.vgg16()
    reference.load_state_dict(vgg, strict=True)  # our layout is torchvision's, key for key
    files = {"inception": folder / "recipe-inception.pth", "vgg16": folder / "recipe-vgg16.pth"}
    torch.save(inception, files["inception"])
    torch.save(vgg, files["vgg16"])
    hub = folder / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "weights-inception-2015-12-05-6726825d.pth").symlink_to(files["inception"])
    (hub / "vgg16-397923af.pth").symlink_to(files["vgg16"])
    (folder / "empty-torch-home").mkdir()
    return {name: str(path) for name, path in files.items()}


def python_case(kwargs: dict, files: dict[str, str], folder: Path) -> dict:
    kwargs = dict(kwargs)
    hub = kwargs.pop("hub", False)
    os.environ["TORCH_HOME"] = str(folder / ("torch-home" if hub else "empty-torch-home"))
    metrics = torch_fidelity.calculate_metrics(**{key: fill(value, files) for key, value in kwargs.items()})
    return {key: float(value) for key, value in metrics.items()}


def command_case(words: list[str], files: dict[str, str], folder: Path) -> dict:
    environment = {key: value for key, value in os.environ.items() if key != "CUDA_VISIBLE_DEVICES"}
    environment["TORCH_HOME"] = str(folder / "torch-home")
    command = [str(Path(sys.executable).parent / "fidelity"), *(fill(word, files) for word in words)]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    return {"returncode": done.returncode, "stdout": done.stdout}


def vgg16_features(weights: str) -> np.ndarray:
    extractor = FeatureExtractorVGG16("vgg16", ["fc2_relu"], feature_extractor_weights_path=weights)
    rows = []
    with torch.no_grad():
        for path in sorted((DATA / "images" / "mixed").iterdir()):
            image = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None]
            rows.append(extractor(image.contiguous())[0].numpy())
    return np.concatenate(rows).astype(np.float32)


def main() -> None:
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        files = FOLDERS | write_weights(folder)
        python = {}
        for name, kwargs in PYTHON_CASES.items():
            python[name] = {"kwargs": kwargs, "metrics": python_case(kwargs, files, folder)}
            print(name, python[name]["metrics"], flush=True)
        commands = {}
        for name, words in COMMAND_CASES.items():
            commands[name] = {"argv": words, **command_case(words, files, folder)}
            print(name, repr(commands[name]["stdout"]), flush=True)
        features = vgg16_features(files["vgg16"])
        usage = subprocess.run(
            [str(Path(sys.executable).parent / "fidelity"), "--help"], capture_output=True, text=True
        )
    np.save(DATA / "reference_mixed_vgg16.npy", features)
    result = dict(
        tool=f"torch-fidelity {torch_fidelity.__version__}",
        torch=torch.__version__,
        torchvision=torchvision.__version__,
        numpy=np.__version__,
        weights={
            "inception": f"recipe v1 ({RECIPE_SHA256[:8]}...)",
            "vgg16": f"recipe vgg16 v1 ({VGG16_RECIPE_SHA256[:8]}...)",
        },
        placeholders="{a} {b} {mixed} {images}: tests/data/images/...; {inception} {vgg16}: the recipe weights files",
        defaults={key: value for key, value in DEFAULTS.items()},
        deprecations={key: value["new_name"] for key, value in DEPRECATIONS.items()},
        command_help=usage.stdout,
        python=python,
        commands=commands,
        vgg16_features="reference_mixed_vgg16.npy: fc2_relu of images/mixed in sorted name order, one image at a time",
    )
    (DATA / "reference_compat.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
