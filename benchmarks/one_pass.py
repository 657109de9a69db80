"""One pass for several extractors against one pass per extractor: IS, FID and FD_CLIP of the same images.

    PYTHONPATH=src python benchmarks/one_pass.py --images 64 --wait-idle 60

Writes N synthetic PNG images per side (--size, default 512 px; reference 1 px less) and times, with
the feature cache off and the tests' random weights in the real files' layouts (the speed does not
depend on the values): `evaluate(metrics=("is", "fid", "fd_clip"))`, which decodes each image once
and runs it through the Inception network and CLIP ViT-B/32, beside the same numbers from two calls
(`("is", "fid")`, then `("fd_clip",)`), which decode every image twice, as the engine did before.
Also times decoding alone, what the single pass saves. Best of --repeats, each after waiting for idle CPUs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from throughput import ROOT, _test_weights, best_of, wait_idle, write_images

import inception_score as score
from inception_score.errors import InceptionScoreWarning
from inception_score.pipeline.sources import decode, open_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64, help="images per side (default 64)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each way, best kept (default 2)")
    parser.add_argument("--wait-idle", type=float, default=0, help="wait up to this long for idle CPUs before each run")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=512, help="side of the sample images (default 512)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", InceptionScoreWarning)  # random weights: every result warns so
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        samples = write_images(root / "samples", args.size, args.images)
        reference = write_images(root / "reference", args.size - 1, args.images)
        weights = _test_weights(root / "inception.pth")
        os.environ["INCEPTION_SCORE_CLIP_VIT_B_32_WEIGHTS"] = str(_clip_weights(root / "ViT-B-32.pt"))
        options = dict(
            reference=reference, weights=weights, cache=False, progress=False, splits=2, batch_size=args.batch_size
        )

        def one_pass() -> tuple[float, float, float]:
            found = score.evaluate(samples, metrics=("is", "fid", "fd_clip"), **options)
            return found.inception_score.mean, found.fid.fid, found.fd_clip.fid  # type: ignore[union-attr]

        def two_passes() -> tuple[float, float, float]:
            inception = score.evaluate(samples, metrics=("is", "fid"), **options)
            clip_options = {key: value for key, value in options.items() if key != "weights"}  # CLIP's: its variable
            other = score.evaluate(samples, metrics=("fd_clip",), **clip_options)
            return inception.inception_score.mean, inception.fid.fid, other.fd_clip.fid  # type: ignore[union-attr]

        def decoding() -> int:
            return sum(decode(sample).size for side in (samples, reference) for sample in open_source(side))

        print(
            f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{args.images} images of {args.size} px a side, batch {args.batch_size}, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        one_pass()  # loads both networks (kept for the later calls) and warms them up
        wait_idle(args.wait_idle)
        one, one_values = best_of(args.repeats, one_pass, args.wait_idle)
        two, two_values = best_of(args.repeats, two_passes, args.wait_idle)
        decoded, _ = best_of(args.repeats, decoding, args.wait_idle)
    images = 2 * args.images
    print("| way | seconds | images/s (both sides) |")
    print("|---|---|---|")
    print(f"| one pass, each image decoded once (evaluate is,fid,fd_clip) | {one:.2f} | {images / one:.1f} |")
    print(f"| one pass per extractor (evaluate is,fid; evaluate fd_clip) | {two:.2f} | {images / two:.1f} |")
    print(f"| decoding alone ({images} PNGs, one thread) | {decoded:.2f} | {images / decoded:.1f} |")
    print(f"one pass / two passes: {one / two:.2f} of the time; the same numbers: {one_values == two_values}")
    print(f"  IS, FID, FD_CLIP: {one_values}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (a shared machine slows every figure)")


def _clip_weights(path: Path) -> Path:
    """CLIP ViT-B/32's image tower with random float16 values, in OpenAI's layout (the tests' recipe)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from extractor_recipes import clip_shapes, random_state_dict

    state = random_state_dict(clip_shapes("vit-b-32"), seed=1702, fp16_exact=True)
    torch.save({key: value.half() for key, value in state.items()}, path)
    return path


if __name__ == "__main__":
    began = time.perf_counter()
    main()
    print(f"benchmark ran {time.perf_counter() - began:.0f} s")
