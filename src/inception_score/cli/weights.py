"""`weights install FILE | path`: the classifiers' weights files in the cache."""

from __future__ import annotations

import argparse

from ..pipeline import weights as weights_module
from ..pipeline.extractors import REGISTRY
from .common import Commands, add_command


def register(commands: Commands) -> None:
    weights = add_command(commands, "weights", "manage the Inception weights file")
    weights_commands = weights.add_subparsers(dest="weights_command", required=True)
    install = add_command(weights_commands, "install", "verify FILE and copy it into the cache")
    install.add_argument("file")
    path = add_command(weights_commands, "path", "where the weights are, or would be installed")
    path.add_argument(
        "--classifier",
        choices=tuple(REGISTRY),
        default="inception-2015",
        metavar="NAME",
        help=f"whose weights file: {', '.join(REGISTRY)} (default: %(default)s)",
    )
    weights.set_defaults(handler=run, joins_torchrun=False)


def run(args: argparse.Namespace) -> int:
    if args.weights_command == "install":
        known = tuple(dict.fromkeys(entry.weights for entry in REGISTRY.values()))
        print(weights_module.install_weights(args.file, known))
        return 0
    spec = REGISTRY[args.classifier].weights
    found = weights_module.find_weights(spec)
    if found is None:
        print(f"{weights_module.installed_path(spec)} (not installed yet; ${spec.env_weights} or {spec.urls[0]})")
    else:
        path, origin = found
        print(f"{path} (from {origin})")
    return 0
