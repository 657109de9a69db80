"""Score handwritten digits with a digit classifier: IS over a domain model, end to end, offline.

Trains a small CNN on scikit-learn's bundled 8x8 digits (1,797 images), saves it as TorchScript,
writes the held-out real digits and degraded sets as PNG folders, scores each folder with the
`inception-score` command and prints a table. Needs scikit-learn (pip install scikit-learn).

    python examples/digits/run.py --out /tmp/digits
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import nn

HELD_OUT = 600
SEED = 0


class DigitsCNN(nn.Module):
    """Two 3x3 convolutions, a max pool and two linear layers: 1 x 8 x 8 in [0, 1] -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        # Declared input contract, read by inception-score (command-line options override it).
        self.input_contract = {"input_size": "8", "resize": "bilinear", "normalize": "0-1", "channels": "1"}
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
        )
        self.classify = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return self.classify(features), features


def load_digits_uint8() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as uint8 8x8 images (0..16 scaled to 0..255) and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.round(digits.images * (255 / 16)).astype(np.uint8), digits.target.astype(np.int64)


def train(images: np.ndarray, labels: np.ndarray, epochs: int) -> DigitsCNN:
    torch.manual_seed(SEED)
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    inputs = torch.from_numpy(images).float().div(255).unsqueeze(1)
    targets = torch.from_numpy(labels)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs), generator=generator).split(64):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(inputs[batch])[0], targets[batch]).backward()
            optimiser.step()
    return model.eval()


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    with torch.no_grad():
        logits = model(torch.from_numpy(images).float().div(255).unsqueeze(1))[0]
    return float((logits.argmax(1).numpy() == labels).mean())


def degraded_sets(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The held-out digits, and sets of the same size that collapse modes or lose recognisability."""
    rng = np.random.RandomState(SEED)
    count = len(images)

    def only(digits: list[int]) -> np.ndarray:
        pool = images[np.isin(labels, digits)]
        return pool[rng.permutation(count) % len(pool)]

    def blurred(radius: float) -> np.ndarray:
        return np.stack(
            [np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius))) for image in images]
        )

    return {
        "real (held-out digits)": images,
        "five digits only (0-4)": only([0, 1, 2, 3, 4]),
        "two digits only (0, 1)": only([0, 1]),
        "one digit only (0)": only([0]),
        "blurred (radius 1)": blurred(1.0),
        "blurred (radius 2)": blurred(2.0),
        "uniform noise": rng.randint(0, 256, size=images.shape, dtype=np.uint8),
    }


def write_folder(folder: Path, images: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        Image.fromarray(image, mode="L").save(folder / f"{index:04d}.png")


def score(folder: Path, model_file: Path, splits: int) -> dict:
    """One run of the command line, exactly as a user would type it; returns its JSON result."""
    command = [
        sys.executable,
        "-m",
        "inception_score",
        "score",
        str(folder),
        "--classifier",
        str(model_file),
        "--input-size",
        "8",
        "--channels",
        "1",
        "--normalize",
        "0-1",
        "--resize",
        "bilinear",
        "--splits",
        str(splits),
        "--json",
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        raise SystemExit(f"inception-score failed on {folder}:\n{done.stderr}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("digits-out"), help="folder for the model and image sets")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--splits", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))

    images, labels = load_digits_uint8()
    order = np.random.RandomState(SEED).permutation(len(images))
    test, train_ = order[:HELD_OUT], order[HELD_OUT:]
    started = time.perf_counter()
    model = train(images[train_], labels[train_], args.epochs)
    seconds = time.perf_counter() - started
    print(
        f"trained on {len(train_)} digits in {seconds:.1f} s; "
        f"held-out accuracy {accuracy(model, images[test], labels[test]):.3f} on {len(test)} digits"
    )

    args.out.mkdir(parents=True, exist_ok=True)
    model_file = args.out / "digits_cnn.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated in torch 2.9+, still works
        torch.jit.save(torch.jit.script(model), str(model_file))

    rows = []
    for number, (name, set_images) in enumerate(degraded_sets(images[test], labels[test]).items()):
        folder = args.out / f"set{number}"
        write_folder(folder, set_images)
        result = score(folder, model_file, args.splits)
        rows.append(
            {
                "set": name,
                "folder": str(folder),
                "n": result["n"],
                "mean": result["mean"],
                "std": result["std"],
                "classes_covered": float(np.exp(result["marginal_entropy"])),
                "classes_per_image": float(np.exp(result["mean_conditional_entropy"])),
            }
        )
    print(f"\n| set | images | IS (splits {args.splits}) | exp H(y) | exp E H(y|x) |\n|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['set']} | {row['n']} | {row['mean']:.3f} ± {row['std']:.3f} | "
            f"{row['classes_covered']:.2f} | {row['classes_per_image']:.2f} |"
        )
    (args.out / "results.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
