"""The layer rule, read from the package's own imports: every import points down, never up.

    errors, _version  <  maths  <  metrics | pipeline | parallel  <  options  <  engine
                      <  api, streaming  <  report  <  cli, the package itself

Modules of one subpackage may import each other; modules side by side on one level (metrics,
pipeline, parallel) may not. The maths are pure: no torch, no files. Inside the cli package a
command's module imports only `cli.common`, never another command, and every command module is
registered in `cli.COMMANDS`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "inception_score"
RANKS = {
    "errors": 0,
    "_version": 0,
    "maths": 1,
    "metrics": 2,
    "pipeline": 2,
    "parallel": 2,
    "options": 3,
    "engine": 4,
    "api": 5,
    "streaming": 5,
    "compat": 5,
    "export": 5,
    "report": 6,
    "cli": 7,
    "__main__": 8,
    "__init__": 8,
}
ALLOWED: set[tuple[str, str]] = set()  # no exceptions
IMPURE = ("torch", "PIL", "os", "pathlib", "io", "tempfile", "shutil", "zipfile", "tarfile", "urllib")


def group_of(module: str) -> str:
    """'pipeline.sources' -> 'pipeline'; 'engine' -> 'engine'."""
    return module.split(".")[0]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts)
        found[name] = path
    return found


def imports_of(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported module inside the package, line) for every relative import, at any depth of the file."""
    package_parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package_parts[: len(package_parts) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # from . import x
                found += [(".".join(base + [alias.name]), node.lineno) for alias in node.names]
            else:
                found.append((target, node.lineno))
    return found


def test_every_module_has_a_layer():
    unknown = sorted(name for name in modules() if group_of(name) not in RANKS)
    assert not unknown, f"give these modules a layer in RANKS: {unknown}"


def test_imports_only_point_down():
    wrong = []
    for name, path in modules().items():
        for target, line in imports_of(name, path):
            if not target or group_of(target) == group_of(name) or (group_of(name), group_of(target)) in ALLOWED:
                continue
            if RANKS[group_of(target)] >= RANKS[group_of(name)]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not wrong, "imports that run back up (or sideways):\n" + "\n".join(wrong)


def test_maths_is_pure_numpy():
    impure = []
    for name, path in modules().items():
        if group_of(name) != "maths":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            impure += [f"{name} imports {n}" for n in names if n.split(".")[0] in IMPURE]
    assert not impure, impure


def test_commands_import_only_the_shared_cli_module():
    """cli/score.py, cli/refs.py, ... stand side by side: one command never reaches into another."""
    wrong = []
    for name, path in modules().items():
        if group_of(name) != "cli" or name in ("cli", "cli.common"):
            continue
        wrong += [
            f"{name}:{line} imports {target}"
            for target, line in imports_of(name, path)
            if target.startswith("cli.") and target != "cli.common"
        ]
    assert not wrong, wrong


def test_every_command_module_is_registered():
    from inception_score import cli

    commands = {name for name in modules() if group_of(name) == "cli" and name not in ("cli", "cli.common")}
    assert commands == {f"cli.{module.__name__.rsplit('.', 1)[1]}" for module in cli.COMMANDS}


def test_the_rule_catches_an_upward_import(tmp_path):
    """The checker itself: a metrics module that imported the engine would be reported."""
    fake = tmp_path / "fake.py"
    fake.write_text("from ..engine import evaluate\nfrom ..maths import inception\n")
    targets = [target for target, _ in imports_of("metrics.fake", fake)]
    assert targets == ["engine", "maths"]
    assert RANKS[group_of("engine")] > RANKS[group_of("metrics")]


def test_every_folder_of_the_package_is_a_regular_package():
    """setuptools installs only folders with an __init__.py: a namespace folder would be left out of a wheel."""
    folders = {path.parent for path in PACKAGE.rglob("*.py")}
    assert sorted(str(f.relative_to(PACKAGE)) for f in folders if not (f / "__init__.py").exists()) == []
