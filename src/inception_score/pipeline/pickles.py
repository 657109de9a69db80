"""Pickles of arrays (EDM2's statistics, CIFAR-10's batches), loaded so that no pickle can run code or
exhaust memory.

The file is read whole (at most MAX_BYTES), its opcodes are scanned before anything is built
(their number, the nesting depth, integer sizes, declared byte counts: a length larger than the
bytes that follow is refused there, never allocated), and it is then loaded by an unpickler that
resolves only the globals numpy arrays need. Any problem is one InceptionScoreError line naming
the file. What the loaded structure must be is checked by its reader (references, CIFAR-10).
"""

from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path
from typing import Any

from ..errors import InceptionScoreError, escaped

MAX_BYTES = 1024**3  # EDM2's statistics are ~50 MB, a CIFAR-10 batch ~30 MB
MAX_DEPTH = 100  # containers inside containers; array pickles need fewer than 10
MAX_INTEGER_BITS = 256  # the largest plain integer (shapes and counts need 64)
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),  # arrays in protocol 5 pickles
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in pickles of protocol < 3 (e.g. written by Python 2)
}
MAX_OPCODES = 5_000_000  # arrays are a few opcodes each; CIFAR-10's lists of 10,000 labels and names ~40,000
_NEVER = {"PERSID", "BINPERSID", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER", "READONLY_BUFFER"}
_RECEIVERS = {"APPEND", "SETITEM", "BUILD"}  # return the object below their arguments, changed
_CONTAINERS = {"list", "dict", "tuple", "set", "frozenset"}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays, numbers, strings, bytes, lists, tuples and dicts; nothing that runs code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: only numpy arrays and plain containers are loaded")


def safe_load_pickle(path: str | Path, *, encoding: str = "ASCII") -> Any:
    """Load a pickle that may only hold numpy arrays and plain containers; anything else is refused."""
    path = Path(path)
    shown = escaped(path)
    data = _read_bounded(path)
    try:
        scan(data)
    except _Refused as error:
        raise InceptionScoreError(f"{shown}: {error}; the file was not loaded") from None
    except Exception as error:  # pickletools raises ValueError and friends for a damaged opcode stream
        raise InceptionScoreError(f"{shown}: not a readable pickle of arrays ({_one_line(error)})") from None
    try:
        return _ArraysOnly(io.BytesIO(data), encoding=encoding).load()
    except pickle.UnpicklingError as error:
        raise InceptionScoreError(f"{shown}: {_one_line(error)}; the file was not loaded") from None
    except Exception as error:  # numpy and the unpickler raise many types for malformed arguments
        raise InceptionScoreError(f"{shown}: not a readable pickle of arrays ({_one_line(error)})") from None


class _Refused(Exception):
    """A pickle that is refused before anything of it is built."""


def scan(data: bytes) -> None:
    """Refuse, before anything is built, a pickle with more than MAX_OPCODES opcodes, containers nested
    more than MAX_DEPTH deep, an integer over MAX_INTEGER_BITS bits, or opcodes array pickles never use
    (persistent ids, extension codes, out-of-band buffers). A length beyond the data ends the scan with a
    ValueError (pickletools reads from the bytes in memory, so nothing large is allocated)."""
    stack: list[list[int] | None] = []  # a cell [depth] per object (shared with the memo); None for a MARK
    memo: dict[int, list[int]] = {}
    for count, (opcode, argument, _) in enumerate(pickletools.genops(io.BytesIO(data))):
        name = opcode.name
        if count >= MAX_OPCODES:
            raise _Refused(f"more than {MAX_OPCODES} opcodes, not a pickle of a few arrays")
        if name in _NEVER:
            raise _Refused(f"{name} opcodes are not used by pickles of arrays")
        if isinstance(argument, int) and argument.bit_length() > MAX_INTEGER_BITS:
            raise _Refused(f"an integer of {argument.bit_length()} bits (at most {MAX_INTEGER_BITS})")
        if name in ("PROTO", "FRAME"):
            continue
        if name == "MARK":
            stack.append(None)
        elif name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
            memo[len(memo) if name == "MEMOIZE" else int(argument or 0)] = _top(stack)
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if argument not in memo:
                raise _Refused(f"{name} of a memo entry that was never stored")
            stack.append(memo[argument])
        elif name == "DUP":
            stack.append(_top(stack))
        else:
            _apply(opcode, stack)


def _apply(opcode: pickletools.OpcodeInfo, stack: list[list[int] | None]) -> None:
    """The stack effect of one opcode on the cells' depths; a container deeper than MAX_DEPTH is refused."""
    before, after = opcode.stack_before, opcode.stack_after
    if pickletools.markobject in before:
        children = []
        while stack and stack[-1] is not None:
            children.append(stack.pop())
        if not stack:
            raise _Refused(f"{opcode.name} without a MARK")
        stack.pop()
        receivers = [_pop(stack) for _ in range(before.index(pickletools.markobject))]
    else:
        popped = [_pop(stack) for _ in before][::-1]
        receivers, children = (popped[:1], popped[1:]) if opcode.name in _RECEIVERS else ([], popped)
    deepest = max((child[0] for child in children if child is not None), default=0)
    if receivers:  # APPEND(S), SETITEM(S), ADDITEMS, BUILD: the object below gains children
        receiver = receivers[0]
        assert receiver is not None
        receiver[0] = max(receiver[0], deepest + 1)
        cell = receiver
    else:
        cell = [deepest + 1 if after and after[0].name in _CONTAINERS else deepest]
    if cell[0] > MAX_DEPTH:
        raise _Refused(f"containers nested more than {MAX_DEPTH} deep")
    stack.extend(cell for _ in after)


def _top(stack: list[list[int] | None]) -> list[int]:
    if not stack or stack[-1] is None:
        raise _Refused("an opcode that needs an object on an empty stack")
    return stack[-1]


def _pop(stack: list[list[int] | None]) -> list[int] | None:
    if not stack:
        raise _Refused("an opcode that needs an object on an empty stack")
    return stack.pop()


def _read_bounded(path: Path) -> bytes:
    shown = escaped(path)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise InceptionScoreError(f"{shown}: is a folder, not a pickle file") from None
    except OSError as error:
        raise InceptionScoreError(f"{shown}: cannot be read ({error.strerror})") from None
    if len(data) > MAX_BYTES:
        raise InceptionScoreError(f"{shown}: larger than {MAX_BYTES} bytes, too large for a statistics pickle")
    return data


def _one_line(error: BaseException) -> str:
    """An exception as one short line (numpy's messages can span lines; names can hold control characters)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return escaped(f"{type(error).__name__}: {text}"[:300])
