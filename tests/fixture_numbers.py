"""Every number the documented calls give on the fixtures, as repr strings, for before/after comparisons.

A refactor must leave each of them identical (compare two runs with `diff` or `cmp`):

    PYTHONPATH=src:tests python tests/fixture_numbers.py -o before.json
    ... change the code ...
    PYTHONPATH=src:tests python tests/fixture_numbers.py -o after.json && cmp before.json after.json

Numbers are collected from each result's `to_dict()` (every float and int leaf, by its path) and
from `Evaluation.metrics_dict()`. Pytest-free, like recipe.py; the recipe weights and the small
DINOv2 ViT-S/14 and CLIP ViT-B/32 random weights are built in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from extractor_recipes import clip_shapes, dinov2_shapes, random_state_dict
from PIL import Image
from recipe import DATA, build_recipe_state_dict

import inception_score as score
from inception_score.errors import InceptionScoreWarning


def numbers(value: Any, path: str = "") -> dict[str, str]:
    """Every number under `value` (dicts, lists), keyed by its path, as repr."""
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for key in sorted(value):
            found.update(numbers(value[key], f"{path}.{key}" if path else str(key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found.update(numbers(item, f"{path}[{index}]"))
    elif isinstance(value, (bool, str)) or value is None:
        pass
    elif isinstance(value, (int, float, np.integer, np.floating)):
        found[path] = repr(float(value)) if isinstance(value, (float, np.floating)) else repr(int(value))
    return found


def collect(root: Path) -> dict[str, dict[str, str]]:
    weights = root / "inception.pth"
    torch.save(build_recipe_state_dict(), weights)
    images = {name: DATA / "images" / name for name in ("a", "b", "mixed")}
    common = dict(weights=weights, progress=False, cache=False, device="cpu")
    out: dict[str, dict[str, str]] = {}

    for name, folder in images.items():
        for splits in (10, 5, 1):
            for order in ("shuffled", "given"):
                result = score.inception_score(folder, splits=splits, order=order, **common)
                out[f"is/{name}/{splits}/{order}"] = numbers(result.to_dict())
    out["is/a/bootstrap20"] = numbers(score.inception_score(images["a"], bootstrap=20, **common).to_dict())

    every = dict(kid_subsets=10, kid_subset_size=50)
    evaluation = score.evaluate(images["a"], reference=images["b"], metrics="all", **every, **common)
    out["evaluate/a-b/all"] = numbers(evaluation.to_dict())
    out["evaluate/a-b/all/metrics_dict"] = numbers(evaluation.metrics_dict())
    adm = score.evaluate(images["a"], reference=images["b"], metrics="all", protocol="adm", **every, **common)
    out["evaluate/a-b/adm/metrics_dict"] = numbers(adm.metrics_dict())

    statistics = root / "b_stats.npz"
    score.save_statistics(images["b"], statistics, with_features=True, **common)
    from_file = score.evaluate(images["a"], reference=statistics, metrics="all", **every, **common)
    out["evaluate/a-bstats/all/metrics_dict"] = numbers(from_file.metrics_dict())
    out["fid/a-b"] = numbers(score.fid(images["a"], images["b"], **common).to_dict())
    out["kid/a-b"] = numbers(score.kid(images["a"], images["b"], subsets=10, subset_size=50, **common).to_dict())
    out["fid/mixed-a"] = numbers(score.fid(images["mixed"], images["a"], **common).to_dict())

    streaming = score.InceptionScore(weights=weights, device="cpu", splits=5)
    pixels = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in sorted(images["a"].iterdir())])
    for start in range(0, len(pixels), 37):
        streaming.update(pixels[start : start + 37])
    out["InceptionScore/a/5"] = numbers(streaming.compute().to_dict())

    few = root / "few"
    for name in ("a", "b"):
        (few / name).mkdir(parents=True)
        for image in sorted(images[name].iterdir())[:6]:
            shutil.copy(image, few / name / image.name)
    dinov2 = root / "dinov2_vits14_pretrain.pth"
    torch.save(random_state_dict(dinov2_shapes("vits14"), seed=1701), dinov2)
    clip = root / "ViT-B-32.pt"
    state = random_state_dict(clip_shapes("vit-b-32"), seed=1702, fp16_exact=True)
    torch.save({key: value.half() for key, value in state.items()}, clip)
    os.environ["INCEPTION_SCORE_DINOV2_VITS14_WEIGHTS"] = str(dinov2)
    os.environ["INCEPTION_SCORE_CLIP_VIT_B_32_WEIGHTS"] = str(clip)
    spaces = score.evaluate(
        few / "a",
        reference=few / "b",
        metrics=("is", "fid", "fd_dinov2", "fd_clip", "cmmd"),
        extractors={"fd_dinov2": "dinov2-vits14", "cmmd": "clip-vit-b-32"},
        splits=2,
        **common,
    )
    out["evaluate/spaces/metrics_dict"] = numbers(spaces.metrics_dict())
    dino = score.evaluate(
        few / "a",
        reference=few / "b",
        metrics=("kid", "pr", "dc"),
        kid_subsets=4,
        kid_subset_size=5,
        classifier="dinov2-vits14",
        **{**common, "weights": dinov2},
    )
    out["evaluate/dinov2/kid-pr-dc/metrics_dict"] = numbers(dino.metrics_dict())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True, help="the JSON file to write")
    args = parser.parse_args()
    warnings.simplefilter("ignore", InceptionScoreWarning)
    with tempfile.TemporaryDirectory() as folder:
        found = collect(Path(folder))
    Path(args.output).write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    print(f"{sum(len(group) for group in found.values())} numbers in {len(found)} groups -> {args.output}")


if __name__ == "__main__":
    main()
