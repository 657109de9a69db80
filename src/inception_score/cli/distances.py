"""`fid A B` and `kid A B`: one distance between two sides (images, statistics files or catalog names)."""

from __future__ import annotations

import argparse

from ..api import fid, kid
from ..errors import InceptionScoreError
from .common import Commands, add_command, add_kid_options, add_run_options, options_of, print_result


def register(commands: Commands) -> None:
    fid_command = add_command(commands, "fid", "FID between A and B (images or statistics .npz files)")
    fid_command.add_argument("a", help="folder, image file, or statistics .npz")
    fid_command.add_argument("b", help="folder, image file, statistics .npz, or a catalog NAME (refs list)")
    add_run_options(fid_command)
    fid_command.set_defaults(handler=run_fid, joins_torchrun=True)

    kid_command = add_command(commands, "kid", "KID between A and B (images or .npz files with features)")
    kid_command.add_argument("a", help="folder, image file, or statistics .npz written with --with-features")
    kid_command.add_argument(
        "b", help="folder, image file, statistics .npz written with --with-features, or a catalog NAME"
    )
    add_kid_options(kid_command, "--")
    add_run_options(kid_command)
    kid_command.set_defaults(handler=run_kid, joins_torchrun=True)


def run_fid(args: argparse.Namespace) -> int:
    result = fid(args.a, args.b, options=options_of(args))
    return print_result(result, result.to_dict(), args.json)


def run_kid(args: argparse.Namespace) -> int:
    try:
        result = kid(
            args.a, args.b, subsets=args.subsets, subset_size=args.subset_size, seed=args.seed, options=options_of(args)
        )
    except InceptionScoreError as error:
        # the library names the KID options as `score` spells them (--kid-subsets); `kid` spells them --subsets
        raise InceptionScoreError(str(error).replace("--kid-", "--")) from None
    return print_result(result, {"kid": result.to_dict()}, args.json)
