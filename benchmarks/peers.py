"""The numbers each tool gives on the same fixture images with the same weights: the table of docs/migrating.md.

Run in an environment with the peers installed (never the project's own; nothing is downloaded):

    PYTHONPATH=src:tests /work/peers/bin/python benchmarks/peers.py [--markdown]

Images: tests/data/images/a (120 generated) and b (120 reference), 32 x 32 PNG. Weights: the fixtures'
random Inception weights in the real 2015 layout (tests/recipe.py), given to every tool: torch-fidelity
by its weights path, pytorch-fid and torchmetrics through torch hub's cache (TORCH_HOME/hub/checkpoints,
their download names, which torch hub loads without a hash check), clean-fid as a custom feature
extractor (its own TorchScript network cannot be downloaded here; its resize and FID code are its own).
The ADM evaluator needs TensorFlow and its graph: our `protocol="adm"` row stands in for it.
Rows with the same protocol agree; the others differ by the reasons in the last column.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "tests" / "data" / "images"
SUBSETS, SUBSET_SIZE = 10, 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(2)
    sys.path.insert(0, str(ROOT / "tests"))
    from recipe import build_recipe_state_dict

    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "recipe.pth"
        torch.save(build_recipe_state_dict(), weights)
        hub = Path(folder) / "torch" / "hub" / "checkpoints"
        hub.mkdir(parents=True)
        for name in ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth"):
            (hub / name).symlink_to(weights)
        os.environ["TORCH_HOME"] = str(Path(folder) / "torch")
        os.environ["INCEPTION_SCORE_CACHE"] = str(Path(folder) / "cache")
        rows = [
            row(weights)
            for row in (
                ours,
                ours_adm,
                compat,
                torch_fidelity,
                pytorch_fid,
                ours_bilinear,
                clean_fid,
                torchmetrics,
                torchmetrics_tf1,
                same_features,
            )
        ]
    show(rows, markdown=parser.parse_args().markdown)


def ours(weights: Path) -> dict:
    from inception_score import evaluate

    result = evaluate(
        IMAGES / "a",
        reference=IMAGES / "b",
        kid_subsets=SUBSETS,
        kid_subset_size=SUBSET_SIZE,
        weights=weights,
        progress=False,
    )
    whole = evaluate(
        IMAGES / "a",
        reference=IMAGES / "b",
        metrics=("kid",),
        kid_subsets=1,
        kid_subset_size=120,
        weights=weights,
        progress=False,
    ).kid
    return dict(
        tool="inception-score",
        call="evaluate(a, reference=b)",
        isc=(result.inception_score.mean, result.inception_score.std),
        fid=result.fid.fid,
        kid=(result.kid.mean, result.kid.std),
        kid_all=whole.mean,
        why="TF1 bilinear, float64 maths, exact low-rank square root, RandomState(2020) draws",
    )


def ours_adm(weights: Path) -> dict:
    from inception_score import evaluate

    result = evaluate(
        IMAGES / "a", reference=IMAGES / "b", metrics=("is", "fid"), protocol="adm", weights=weights, progress=False
    )
    return dict(
        tool="ADM evaluator (our protocol='adm')",
        call="evaluate(a, reference=b, protocol='adm')",
        isc=(result.inception_score.mean, result.inception_score.std),
        fid=result.fid.fid,
        why="IS over chunks of 5,000 in file order (here one chunk of 120, so no std); TensorFlow not run",
    )


def compat(weights: Path) -> dict:
    from inception_score.compat import calculate_metrics

    metrics = calculate_metrics(
        input1=str(IMAGES / "a"),
        input2=str(IMAGES / "b"),
        isc=True,
        fid=True,
        kid=True,
        kid_subsets=SUBSETS,
        kid_subset_size=SUBSET_SIZE,
        cuda=False,
        verbose=False,
        feature_extractor_weights_path=str(weights),
    )
    return dict(
        tool="inception-score compat",
        call="compat.calculate_metrics(...)",
        **_fidelity_keys(metrics),
        why="torch-fidelity's arguments and keys over our engine",
    )


def torch_fidelity(weights: Path) -> dict:
    import torch_fidelity as fidelity

    metrics = fidelity.calculate_metrics(
        input1=str(IMAGES / "a"),
        input2=str(IMAGES / "b"),
        isc=True,
        fid=True,
        kid=True,
        kid_subsets=SUBSETS,
        kid_subset_size=SUBSET_SIZE,
        cuda=False,
        verbose=False,
        save_cpu_ram=True,
        feature_extractor_weights_path=str(weights),
    )
    whole = fidelity.calculate_metrics(
        input1=str(IMAGES / "a"),
        input2=str(IMAGES / "b"),
        kid=True,
        kid_subsets=1,
        kid_subset_size=120,
        cuda=False,
        verbose=False,
        save_cpu_ram=True,
        feature_extractor_weights_path=str(weights),
    )
    return dict(
        tool=f"torch-fidelity {fidelity.__version__}",
        call="calculate_metrics(...)",
        **_fidelity_keys(metrics),
        kid_all=whole["kernel_inception_distance_mean"],
        why="the same protocol; float32 features and KID kernel, eigenvalue square root",
    )


def _fidelity_keys(metrics: dict) -> dict:
    return dict(
        isc=(metrics["inception_score_mean"], metrics["inception_score_std"]),
        fid=metrics["frechet_inception_distance"],
        kid=(metrics["kernel_inception_distance_mean"], metrics["kernel_inception_distance_std"]),
    )


def pytorch_fid(weights: Path) -> dict:
    from importlib.metadata import version

    from pytorch_fid.fid_score import calculate_fid_given_paths

    value = calculate_fid_given_paths([str(IMAGES / "a"), str(IMAGES / "b")], 50, "cpu", 2048, num_workers=0)
    return dict(
        tool=f"pytorch-fid {version('pytorch-fid')}",
        call="calculate_fid_given_paths([a, b], ...)",
        fid=float(value),
        why="resize with F.interpolate (half-pixel bilinear) and 2x/255 - 1 scaling, not TF1 and (x-128)/128",
    )


def ours_bilinear(weights: Path) -> dict:
    """Our engine with pytorch-fid's input contract: the same network, its resize and scaling."""
    from inception_score import fid
    from inception_score.pipeline.inception2015 import load_inception

    network = load_inception(weights, plain=True)

    class Pool3(torch.nn.Module):
        input_contract = {"input_size": 299, "resize": "bilinear", "normalize": "minus1-1"}
        outputs = ("logits", "features")

        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, x):
            logits, features = self.network(x)[:2]
            return logits, features

    value = fid(IMAGES / "a", IMAGES / "b", classifier=Pool3(), progress=False).fid
    return dict(
        tool="inception-score, pytorch-fid's input",
        call="fid(a, b, classifier=module, resize='bilinear', normalize='minus1-1')",
        fid=value,
        why="the same network with pytorch-fid's resize and scaling: its number, from our engine",
    )


def clean_fid(weights: Path) -> dict:
    from importlib.metadata import version

    from cleanfid import fid as cleanfid

    from inception_score.pipeline.inception2015 import load_inception

    network = load_inception(weights, plain=True)

    def features(batch: torch.Tensor) -> torch.Tensor:  # clean-fid gives 299 x 299 floats in 0..255
        with torch.no_grad():
            return network((batch - 128) / 128)[1]

    value = cleanfid.compute_fid(
        str(IMAGES / "a"),
        str(IMAGES / "b"),
        mode="clean",
        custom_feat_extractor=features,
        num_workers=0,
        batch_size=50,
        device=torch.device("cpu"),
        verbose=False,
    )
    feats = [
        cleanfid.get_folder_features(
            str(IMAGES / name),
            features,
            num_workers=0,
            batch_size=50,
            device=torch.device("cpu"),
            mode="clean",
            verbose=False,
        )
        for name in ("a", "b")
    ]
    np.random.seed(0)
    kid = cleanfid.kernel_distance(feats[0], feats[1], num_subsets=SUBSETS, max_subset_size=SUBSET_SIZE)
    np.random.seed(0)
    whole = cleanfid.kernel_distance(feats[0], feats[1])
    return dict(
        tool=f"clean-fid {version('clean-fid')}",
        call="compute_fid(a, b, mode='clean')",
        fid=float(value),
        kid=(kid, None),
        kid_all=whole,
        why="PIL bicubic (antialiased) to 299 on float channels; its own KID draws (np.random), no std",
    )


def torchmetrics(weights: Path) -> dict:
    import torchmetrics as tm
    from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance

    a, b = _uint8_images("a"), _uint8_images("b")
    torch.manual_seed(0)
    fid, isc = FrechetInceptionDistance(feature=2048), InceptionScore(splits=10)
    kid = KernelInceptionDistance(subsets=SUBSETS, subset_size=SUBSET_SIZE)
    for metric in (fid, kid):
        metric.update(b, real=True)
        metric.update(a, real=False)
    isc.update(a)
    kid_mean, kid_std = kid.compute()
    isc_mean, isc_std = isc.compute()
    return dict(
        tool=f"torchmetrics {tm.__version__}",
        call="FrechetInceptionDistance(feature=2048) ...",
        isc=(float(isc_mean), float(isc_std)),
        fid=float(fid.compute()),
        kid=(float(kid_mean), float(kid_std)),
        why="its default resize is torch's antialiased bilinear, not TF1's (every metric); IS: torch.randperm "
        "order, torch.chunk splits, float32, std with ddof=1; KID: torch.randperm draws",
    )


def torchmetrics_tf1(weights: Path) -> dict:
    """torchmetrics' FID with antialias=False: the TF1 resize, the paper's input (IS and KID have no such switch)."""
    from torchmetrics.image import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=2048, antialias=False)
    fid.update(_uint8_images("b"), real=True)
    fid.update(_uint8_images("a"), real=False)
    return dict(
        tool="torchmetrics, antialias=False",
        call="FrechetInceptionDistance(feature=2048, antialias=False)",
        fid=float(fid.compute()),
        why="the TF1 resize: ours up to the matrix square root (torch.linalg.eigvals of the product)",
    )


def _uint8_images(name: str) -> torch.Tensor:
    """A fixture folder as one N x 3 x H x W uint8 tensor, files in name order (torchmetrics' input)."""
    from PIL import Image

    files = sorted((IMAGES / name).iterdir())
    return torch.from_numpy(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])).permute(0, 3, 1, 2)


def same_features(weights: Path) -> dict:
    """Each tool's FID function on one pair of feature sets (torch-fidelity's own pool3 of a and b)."""
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    from inception_score import fid_from_features

    a = np.load(ROOT / "tests" / "data" / "reference_a_pool3.npy")
    b = np.load(ROOT / "tests" / "data" / "reference_b_pool3.npy")
    stats = [dict(mu=x.mean(axis=0), sigma=np.cov(x, rowvar=False)) for x in (a, b)]
    fidelity = fid_statistics_to_metric(stats[0], stats[1], False)["frechet_inception_distance"]
    scipy = calculate_frechet_distance(stats[0]["mu"], stats[0]["sigma"], stats[1]["mu"], stats[1]["sigma"])
    ours_value = fid_from_features(a, b).fid
    return dict(
        tool="FID functions, same features",
        call="ours / torch-fidelity / scipy sqrtm (pytorch-fid, ADM)",
        fid=ours_value,
        fid_others=(fidelity, float(scipy)),
        why="the matrix square root: 120 images give rank-deficient 2048 x 2048 covariances",
    )


def show(rows: list[dict], markdown: bool) -> None:
    def number(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, tuple):
            return " ± ".join(number(v) for v in value if v is not None)
        return f"{value:.6g}"

    header = ("tool", "IS (10 splits)", "FID", f"KID ({SUBSETS} x {SUBSET_SIZE})", "KID (1 x 120)", "why it differs")
    lines = []
    for found in rows:
        fid = number(found.get("fid"))
        if "fid_others" in found:
            fid = " / ".join(number(value) for value in (found["fid"], *found["fid_others"]))
        lines.append(
            (
                found["tool"],
                number(found.get("isc")),
                fid,
                number(found.get("kid")),
                number(found.get("kid_all")),
                found["why"],
            )
        )
    load = os.getloadavg()[0]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        for line in [header, *lines]:
            print("  ".join(f"{cell:<24}" for cell in line[:5]) + "  " + line[5])
    print(f"\n(torch {torch.__version__}; load average {load:.1f})")


if __name__ == "__main__":
    main()
