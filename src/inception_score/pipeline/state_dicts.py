"""Checks of a loaded state dict against a network's own: one line that says what is wrong."""

from __future__ import annotations

import pickle
from collections.abc import Mapping

import torch

from ..errors import escaped


def load_failure(error: Exception) -> str:
    """torch.load's failure in one line, without its advice to turn weights_only off (never safe here)."""
    if isinstance(error, pickle.UnpicklingError) or "weights_only" in str(error):
        return "it holds Python objects other than tensors, which are never loaded (not a plain state dict)"
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return f"{error.__class__.__name__}: {first[:200]}" if first else error.__class__.__name__


def state_problems(state: Mapping, expected: Mapping[str, torch.Tensor]) -> str:
    """'' when `state` has exactly the keys of `expected`, each a dense finite tensor of the same
    shape and kind (floating or integer, dense); else what differs, e.g. 'missing: a, b; unexpected: c'."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(map(str, set(state) - set(expected)))
    common = set(expected) & set(state)
    wrong = sorted(key for key in common if not _same_kind(state[key], expected[key]))
    wrong_shape = [
        key for key in wrong if isinstance(state[key], torch.Tensor) and state[key].shape != expected[key].shape
    ]
    wrong_type = [key for key in wrong if key not in wrong_shape]
    not_finite = sorted(key for key in common if key not in wrong and not torch.isfinite(state[key]).all())
    return "; ".join(
        f"{label}: {', '.join(map(escaped, keys[:3]))}{' ...' if len(keys) > 3 else ''}"
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("wrong shape", wrong_shape),
            ("not a dense tensor of the right type", wrong_type),
            ("NaN or infinite values", not_finite),
        )
        if keys
    )


def _same_kind(value: object, template: torch.Tensor) -> bool:
    """A dense tensor of the template's shape, floating point where the template is."""
    return (
        isinstance(value, torch.Tensor)
        and value.layout == torch.strided
        and value.shape == template.shape
        and value.is_floating_point() == template.is_floating_point()
    )
