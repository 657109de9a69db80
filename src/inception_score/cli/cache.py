"""`cache info | clear`: the per-image feature cache."""

from __future__ import annotations

import argparse

from ..pipeline.cache import FeatureCache
from .common import Commands, add_command


def register(commands: Commands) -> None:
    cache = add_command(commands, "cache", "the per-image feature cache")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True)
    add_command(cache_commands, "info", "where the cache is, its entries and size")
    add_command(cache_commands, "clear", "delete every cached feature (the weights file stays)")
    cache.set_defaults(handler=run, joins_torchrun=False)


def run(args: argparse.Namespace) -> int:
    cache = FeatureCache()
    if args.cache_command == "clear":
        print(f"removed {cache.clear()} cached images from {cache.folder}")
        return 0
    info = cache.info()
    print(f"{info.folder}: {info.entries} cached images, {info.bytes / 1e6:.1f} MB")
    return 0
