"""Make tests/data/reference_{a,b}_spatial.npy and reference_sfid.json with torch-fidelity 0.4.0.

Run with the peers' environment, from the repository root (offline; no download happens):

    PYTHONPATH=src /work/peers/bin/python tests/data/make_reference_spatial.py

- Weights: the fixtures' random "recipe v1" weights (fixtures README), checked by their sha256;
  the key list is taken from our `Inception2015` layout (torch only), as tests/recipe.py does.
- Network: torch-fidelity's `FeatureExtractorInceptionV3` ("inception-v3-compat") loaded with
  those weights. A forward hook on `Mixed_6d.branch1x1` records that module's output. The
  module is torch-fidelity's `BasicConv2d`, whose forward is conv -> BatchNorm(eps=0.001) ->
  ReLU, so the recorded tensor is after batch norm and ReLU (ADM's `mixed_6/conv:0`).
- Images: the fixture folders read as torch-fidelity reads a folder: sorted file names,
  PIL `convert("RGB")`, uint8 N x 3 x H x W into the extractor (its TF1 resize to 299 and
  (x - 128) / 128 happen inside).
- Spatial features: channels [:7] of the 192, permuted to N x H x W x C and flattened:
  17 * 17 * 7 = 2023 values per image, float32.
- sFID(a, b): Frechet distance of the two sets' spatial features in float64 (mean, covariance
  with ddof=1, scipy.linalg.sqrtm), as the ADM evaluator computes FID and sFID.
- Check: the pool3 features of the same forward pass equal tests/data/reference_{a,b}_pool3.npy
  within 1e-4 (the fixture references come from the same pipeline).
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg
import torch
import torch_fidelity
from PIL import Image
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recipe import RECIPE_SHA256, build_recipe_state_dict, recipe_digest  # noqa: E402 (tests/ is put on the path above)

DATA = Path(__file__).resolve().parent
SPATIAL_CHANNELS = 7


def recipe_state_dict() -> dict:
    """The fixtures README's recipe v1 (tests/recipe.py), checked against its sha256."""
    state = build_recipe_state_dict()
    assert recipe_digest(state) == RECIPE_SHA256, "recipe weights do not match the fixtures README"
    return state


def read_folder(folder: Path) -> torch.Tensor:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    images = [np.array(Image.open(p).convert("RGB")) for p in files]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def spatial_and_pool(extractor: FeatureExtractorInceptionV3, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    recorded = []
    hook = extractor.Mixed_6d.branch1x1.register_forward_hook(
        lambda module, inputs, output: recorded.append(output.detach().clone())
    )
    pools = []
    with torch.no_grad():
        for start in range(0, len(images), 20):
            (pool,) = extractor(images[start : start + 20])
            pools.append(pool.numpy())
    hook.remove()
    maps = torch.cat(recorded)  # N x 192 x 17 x 17
    spatial = maps[:, :SPATIAL_CHANNELS].permute(0, 2, 3, 1).reshape(len(images), -1)
    return spatial.numpy().astype(np.float32), np.concatenate(pools)


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    first, second = first.astype(np.float64), second.astype(np.float64)
    mean_gap = first.mean(axis=0) - second.mean(axis=0)
    cov_first, cov_second = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    root = scipy.linalg.sqrtm(cov_first @ cov_second)
    if np.iscomplexobj(root):
        assert np.allclose(np.diagonal(root).imag, 0, atol=1e-3), "sqrtm has a large imaginary part"
        root = root.real
    return float(mean_gap @ mean_gap + np.trace(cov_first) + np.trace(cov_second) - 2 * np.trace(root))


def main() -> None:
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "recipe.pth"
        torch.save(recipe_state_dict(), weights)
        extractor = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights)
        )
    branch = extractor.Mixed_6d.branch1x1
    assert [type(m).__name__ for m in branch.children()] == ["Conv2d", "BatchNorm2d"], list(branch.children())
    spatial = {}
    for name in ("a", "b"):
        spatial[name], pool = spatial_and_pool(extractor, read_folder(DATA / "images" / name))
        assert spatial[name].shape == (len(pool), 17 * 17 * SPATIAL_CHANNELS)
        assert float(spatial[name].min()) >= 0.0, "expected ReLU output"
        reference_pool = np.load(DATA / f"reference_{name}_pool3.npy")
        pool_gap = float(np.abs(pool - reference_pool).max())
        assert pool_gap < 1e-4, f"pool3 differs from the fixture reference by {pool_gap}"
        np.save(DATA / f"reference_{name}_spatial.npy", spatial[name])
        print(name, spatial[name].shape, "pool3 max gap vs fixture", pool_gap)
    result = dict(
        tool=f"torch-fidelity {torch_fidelity.__version__}",
        torch=torch.__version__,
        scipy=scipy.__version__,
        layer="Mixed_6d.branch1x1 output (conv, batch norm, ReLU), channels [:7], flattened H, W, C",
        features=["reference_a_spatial.npy", "reference_b_spatial.npy"],
        sfid_a_b=frechet_distance(spatial["a"], spatial["b"]),
        sfid_a_a=frechet_distance(spatial["a"], spatial["a"]),
        covariance="ddof=1",
        sqrtm="scipy.linalg.sqrtm, float64",
        note="120 images give rank-deficient 2023 x 2023 covariances; sfid_a_a (exactly 0 in exact "
        "arithmetic) shows the size of scipy sqrtm's error on them",
    )
    (DATA / "reference_sfid.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
