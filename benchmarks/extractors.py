"""Images per second of the DINOv2 and CLIP extractors beside the 2015 Inception network, same run.

    PYTHONPATH=src python benchmarks/extractors.py              # a few batches each (minutes on 2 CPUs)
    PYTHONPATH=src python benchmarks/extractors.py --smoke      # one block per transformer, tiny batches

Every network gets random weights (speed does not depend on their values): DINOv2 ViT-L/14 at
224 (FD_DINOv2, "edm2" protocol), DINOv2 ViT-S/14, CLIP ViT-L/14@336px ("cmmd" protocol),
CLIP ViT-B/32 ("clean-fid" protocol), and the package's Inception2015 at 299, both as loaded
("plain") and after `optimise_for_inference` (what `load_inception` returns). Two figures per
network: the network alone on an already preprocessed float batch, and for the new extractors
also the whole extractor (uint8 256 x 256 images in: resize, crop, normalise, network).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import torch
from torch import nn

from inception_score.pipeline.networks import clip, dinov2

IMAGE_SIDE = 256


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Fill every parameter with small random values (zeros could hit special fast paths)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.02)
    return model.eval().requires_grad_(False)


def images_per_second(run: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, batches: int) -> float:
    """Best-case steady throughput: one warm-up call, then `batches` timed calls."""
    with torch.inference_mode():
        run(batch)
        start = time.perf_counter()
        for _ in range(batches):
            run(batch)
        elapsed = time.perf_counter() - start
    return batches * batch.shape[0] / elapsed


def inception_networks(smoke: bool) -> list[tuple[str, nn.Module]]:
    """The package's Inception2015, plain and optimised; empty if this layout of the package has none."""
    try:
        from inception_score.pipeline.inception2015 import Inception2015, optimise_for_inference
    except ImportError:
        print("Inception2015 not found at inception_score.pipeline.inception2015: skipped")
        return []
    plain = Inception2015().eval().requires_grad_(False)
    optimised = optimise_for_inference(Inception2015().eval().requires_grad_(False))
    return [("Inception 2015 (plain)", plain), ("Inception 2015 (optimised)", optimised)]


def extractor_cases(smoke: bool) -> list[tuple[str, nn.Module, nn.Module, int]]:
    """(label, network, uint8 extractor, input side) for each new extractor."""
    depth = 1 if smoke else None
    cases = []
    for variant in ("vitl14", "vits14"):
        network = randomise(dinov2.build_dinov2(variant, depth=depth), seed=1)
        cases.append((f"DINOv2 {variant} (edm2)", network, dinov2.DinoV2Extractor(network, "edm2"), dinov2.INPUT_SIZE))
    for variant in ("vit-l-14-336", "vit-b-32"):
        network = randomise(clip.build_clip(variant, layers=depth), seed=2)
        extractor = clip.ClipExtractor(network)
        cases.append((f"CLIP {variant} ({extractor.protocol})", network, extractor, network.config.image_size))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default 4)")
    parser.add_argument(
        "--batches", type=int, default=2, help="timed batches per network, after one warm-up (default 2)"
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--smoke", action="store_true", help="tiny run: one block per transformer, batch 2, one batch")
    args = parser.parse_args()
    if args.smoke:
        args.batch_size, args.batches = 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, batch {args.batch_size}, {args.batches} timed batches"
        f"{', smoke (1 block per transformer)' if args.smoke else ''}, load average {os.getloadavg()[0]:.1f}"
    )
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (args.batch_size, 3, IMAGE_SIDE, IMAGE_SIDE), dtype=torch.uint8, generator=generator)
    print("| network | input | network alone (img/s) | uint8 256 px -> features (img/s) |")
    print("|---|---|---|---|")
    for label, network in inception_networks(args.smoke):
        batch = torch.randn(args.batch_size, 3, 299, 299, generator=generator)
        if getattr(network, "variant", "") == "optimised":
            batch = batch.contiguous(memory_format=torch.channels_last)
        rate = images_per_second(network.pool3, batch, args.batches)
        print(f"| {label} | 299 | {rate:.2f} | - |", flush=True)
    for label, network, extractor, side in extractor_cases(args.smoke):
        batch = torch.randn(args.batch_size, 3, side, side, generator=generator)
        alone = images_per_second(network, batch, args.batches)
        whole = images_per_second(extractor, pixels, args.batches)
        print(f"| {label} | {side} | {alone:.2f} | {whole:.2f} |", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (a shared machine slows every figure)")


if __name__ == "__main__":
    main()
