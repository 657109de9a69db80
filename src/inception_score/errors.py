"""The one exception type for user mistakes (the CLI prints its message and exits 2), and message helpers."""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class InceptionScoreError(Exception):
    """A problem with the user's input, options or environment, with a message that says what to do."""


class InceptionScoreWarning(UserWarning):
    """A result that may not mean what the user thinks: few images, other weights, class-sorted order,
    a statistics file made with other weights."""


def escaped(name: object) -> str:
    """A file name for a message: as is when printable, else in Python's escaped form, so that a
    newline or control character in a name cannot forge a second message line."""
    text = str(name)
    return text if text.isprintable() else repr(text)[1:-1]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 image', '2 images' (or the given plural)."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def warn(message: str) -> None:
    """Emit an InceptionScoreWarning attributed to the user's line: the first caller outside this package."""
    frame, level = sys._getframe(0), 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, InceptionScoreWarning, stacklevel=level)
