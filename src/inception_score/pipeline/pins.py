"""Pins: the sha256 of a catalog reference recorded at its first use (no publisher gives one).

`<cache>/references/pins.json` is a JSON object, name -> {"sha256": 64 hex digits, "size": bytes,
"origin": where it came from, "recorded": date}. It is read and checked whole on every use: a
file that cannot be read, is not such an object, or holds one malformed pin is an error that names
the file and the pin and says how to repair it; it never matches a file silently. Pins are written
under a lock (other processes may pin other references at the same time) and atomically.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InceptionScoreError, escaped
from .files import atomic_write, locked
from .weights import cache_dir

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    """One recorded hash."""

    sha256: str
    size: int
    origin: str
    recorded: str

    def describe(self) -> str:
        """Where the hash comes from, as results print it."""
        return f"recorded at first use {self.recorded} from {self.origin}"


def references_dir() -> Path:
    """Where catalog references, their pins and converted files live: <cache>/references."""
    return cache_dir() / "references"


def ensure_references_dir() -> Path:
    """The references folder, created if missing; a file (or anything else) in its place is an error."""
    folder = references_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InceptionScoreError(
            f"{escaped(folder)}: should be the folder of catalog references but is a file; move it away "
            "(or set INCEPTION_SCORE_CACHE to another folder)"
        ) from None
    except OSError as error:
        raise InceptionScoreError(
            f"{escaped(folder)}: cannot create the references folder ({error.strerror})"
        ) from None
    return folder


def pins_path() -> Path:
    return references_dir() / "pins.json"


def read_pins() -> dict[str, Pin]:
    """Every pin, each checked; {} when nothing was pinned yet."""
    path = pins_path()
    shown = escaped(path)
    repair = (
        "repair it or delete it (every reference is then pinned again at its next use: "
        "'inception-score refs fetch NAME' or 'refs install NAME FILE')"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except NotADirectoryError:  # the references folder is a file: said with what to do
        ensure_references_dir()
        return {}
    except IsADirectoryError:
        raise InceptionScoreError(f"{shown}: is a folder, where the reference pins file belongs; remove it") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InceptionScoreError(f"{shown}: the reference pins cannot be read ({error}); {repair}") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InceptionScoreError(f"{shown}: the reference pins are not valid JSON ({error}); {repair}") from None
    if not isinstance(document, dict):
        raise InceptionScoreError(
            f"{shown}: the reference pins should be a JSON object (name -> pin), got {type(document).__name__}; "
            f"{repair}"
        )
    return {name: _pin(name, value, shown) for name, value in document.items()}


def _pin(name: str, value: Any, shown: str) -> Pin:
    problem = None
    if not isinstance(value, dict):
        problem = f"is a {type(value).__name__}, not an object"
    elif not (isinstance(value.get("sha256"), str) and _SHA256.fullmatch(value["sha256"])):
        problem = f"has sha256 {str(value.get('sha256'))[:80]!r}, not 64 lower-case hex digits"
    elif isinstance(value.get("size"), bool) or not isinstance(value.get("size"), int) or value["size"] < 0:
        problem = f"has size {str(value.get('size'))[:40]!r}, not a number of bytes"
    elif not all(isinstance(value.get(key, ""), str) for key in ("origin", "recorded")):
        problem = "has an origin or date that is not text"
    if problem is not None:
        raise InceptionScoreError(
            f"{shown}: the pin of {escaped(name)!r} {problem}; delete that entry (or the file) and fetch or "
            f"install {escaped(name)} again to record its hash"
        )
    return Pin(value["sha256"], value["size"], value.get("origin", "?"), value.get("recorded", "?"))


def record_pin(name: str, sha256: str, size: int, origin: str) -> Pin:
    """Add or replace the pin of `name`: read, update and rewrite the pins under a lock."""
    folder = ensure_references_dir()
    with locked(folder / ".pins.lock"):
        pins = read_pins()
        pins[name] = Pin(sha256, size, origin, time.strftime("%Y-%m-%d"))
        document = {
            key: dict(sha256=p.sha256, size=p.size, origin=p.origin, recorded=p.recorded) for key, p in pins.items()
        }
        with atomic_write(pins_path(), "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2, sort_keys=True)
    return pins[name]


def check_pins() -> None:
    """Raise if the pins file is damaged: before any long work whose result would be pinned (refs build)."""
    read_pins()
