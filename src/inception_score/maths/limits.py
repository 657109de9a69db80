"""What the metrics' options may be: numpy's seed range, and costs no run should start with.

Checked when a request is made, before any image is read, so a bad value costs nothing.
"""

from __future__ import annotations

import numpy as np

from ..errors import InceptionScoreError

SEED_LIMIT = 2**32  # numpy.random.RandomState takes seeds 0 .. 2**32 - 1
MAX_BOOTSTRAP = 100_000  # resamples; 1,000 give a 95% interval, 100,000 already take minutes at N = 50,000
MAX_KID_SUBSETS = 10_000  # KID subsets; 100 is the convention, each costs three subset_size^2 x d products


def _is_integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_seed(value: object, option: str) -> None:
    """A seed numpy accepts (0 .. 2**32 - 1), whether or not this run uses it; `option` names it."""
    if value is None:
        return
    if not _is_integer(value) or not 0 <= int(value) < SEED_LIMIT:  # type: ignore[call-overload]
        raise InceptionScoreError(f"{option} must be a whole number from 0 to {SEED_LIMIT - 1}, got {value!r}")


def check_cost(value: object, limit: int, option: str, advice: str) -> None:
    """Refuse a count over `limit` up front (the run would take days, not give a better number)."""
    if _is_integer(value) and int(value) > limit:  # type: ignore[call-overload]
        raise InceptionScoreError(f"{option} {value} is over the limit of {limit:,}; {advice}")


def check_whole(value: object, option: str, least: int) -> None:
    """A whole number >= least (bool is not a number here)."""
    if not _is_integer(value) or int(value) < least:  # type: ignore[call-overload]
        raise InceptionScoreError(f"{option} must be a whole number >= {least}, got {value!r}")
