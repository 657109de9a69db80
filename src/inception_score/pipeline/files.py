"""Files the tool writes: checked before the work, written atomically, readable as the user's umask says."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InceptionScoreError, escaped


def umask_mode(path: str | os.PathLike) -> None:
    """Give a file made by tempfile.mkstemp (always 0600) the mode a plain open() would: 0666 & ~umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def check_output(path: object, what: str, option: str, *, inputs: tuple[object, ...] = ()) -> Path:
    """`path` as a Path if `what` can be written there; checked before any long work.

    Refused: not a path, an existing folder, a missing or unwritable parent folder, or one of `inputs`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InceptionScoreError(f"the {what} path ({option}) must be a file name, got a {type(path).__name__}")
    target = Path(path)
    shown = escaped(target)
    if target.is_dir():
        raise InceptionScoreError(f"{shown}: is a folder; give a file name for the {what} ({option})")
    parent = target.parent
    if not parent.is_dir():
        raise InceptionScoreError(
            f"{shown}: the folder {escaped(parent)} does not exist; create it or choose another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InceptionScoreError(
            f"{shown}: the folder {escaped(parent)} is not writable; choose another path ({option})"
        )
    for given in inputs:
        if isinstance(given, (str, os.PathLike)) and Path(given).exists() and Path(given).resolve() == target.resolve():
            raise InceptionScoreError(
                f"{shown}: is also an input; the {what} would overwrite it, choose another path ({option})"
            )
    return target
