"""`refs list | info NAME | fetch NAME | install NAME FILE | build NAME --data DIR`: the reference catalog."""

from __future__ import annotations

import argparse
import json

from ..api import save_statistics
from ..parallel import launch as distributed
from ..pipeline import references
from .common import Commands, add_command, add_run_options, options_of

LIST_COLUMNS = ("name", "protocol", "metrics", "here", "dataset")


def register(commands: Commands) -> None:
    refs = add_command(commands, "refs", "the catalog of named references (FID/KID statistics)")
    refs_commands = refs.add_subparsers(dest="refs_command", required=True)
    add_command(refs_commands, "list", "every catalog entry, its protocol and whether it is here")
    info = add_command(refs_commands, "info", "everything known about NAME: provenance, URLs, hash")
    info.add_argument("name")
    fetch = add_command(refs_commands, "fetch", "download NAME into the cache (resumable, verified)")
    fetch.add_argument("name")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.add_argument("--allow-other-protocol", action="store_true", help="fetch an entry of another protocol")
    install = add_command(refs_commands, "install", "verify FILE (a copy of NAME) and copy it into the cache")
    install.add_argument("name")
    install.add_argument("file")
    build = add_command(refs_commands, "build", "compute NAME from your copy of its dataset (our protocol)")
    build.add_argument("name")
    build.add_argument("--data", required=True, metavar="DIR", help="the dataset folder")
    add_run_options(build, json_option=False)
    refs.set_defaults(handler=run, joins_torchrun=False)


def run(args: argparse.Namespace) -> int:
    if args.refs_command == "list":
        _print_row(*(column.upper() for column in LIST_COLUMNS))
        for entry in references.CATALOG:
            here = "installed" if references.installed_path(entry).is_file() else "build" if entry.build else "-"
            _print_row(entry.name, entry.protocol.name, "+".join(entry.metrics), here, entry.dataset)
        return 0
    entry = references.entry_named(args.name)
    if args.refs_command == "info":
        print(json.dumps(references.describe(entry), indent=2))
    elif args.refs_command == "fetch":
        references.check_protocol(entry, args.allow_other_protocol)
        path = references.fetch(entry, progress=not args.quiet)
        print(f"{path} sha256 {references.sha256_file(path)} ({references.expected_sha256(entry)[1]})")
    elif args.refs_command == "install":
        path = references.install(entry, args.file)
        print(f"{path} sha256 {references.sha256_file(path)} ({references.expected_sha256(entry)[1]})")
    else:
        destination = references.build_destination(entry)
        data = references.read_cifar10_batches(args.data) if entry.build == "cifar10-python" else args.data
        written = save_statistics(data, destination, with_features=True, options=options_of(args))
        if distributed.is_main_process():
            sha256 = references.record_build(entry, written.path)
            print(f"built {written.path}: {written.n} images, sha256 {sha256} (pinned)")
    return 0


def _print_row(name: str, protocol: str, metrics: str, here: str, dataset: str) -> None:
    print(f"{name:30} {protocol:26} {metrics:12} {here:9} {dataset}")
