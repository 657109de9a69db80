"""Files the tool writes: checked before the work, written atomically, readable as the user's umask says.

`check_outputs` is the one check of every output path of a command (reports, statistics files,
`--also` files, catalog builds, the cache's derived files): a file name in a writable folder,
not an existing folder or special file, a name the file system can hold, and never the same
file as one of the command's inputs or as another of its outputs (compared resolved, so that
symlinks and hard links count). `atomic_write` writes a temporary file in the target folder and
renames it into place, so a failed run leaves the old file (or none), and a symlink or hard link
at the output path is replaced, never written through.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import InceptionScoreError, escaped

TEMPORARY_PREFIX = ".tmp-"  # every temporary file we make starts so (the feature cache removes stale ones)
DEFAULT_NAME_MAX = 255


@dataclass(frozen=True)
class Output:
    """One file a command will write: its path, what it is ("report") and the option that names it."""

    path: object
    what: str
    option: str


def umask_mode(path: str | os.PathLike) -> None:
    """Give a file made by tempfile.mkstemp (always 0600) the mode a plain open() would: 0666 & ~umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def check_output(path: object, what: str, option: str, *, inputs: Iterable[object] = ()) -> Path:
    """`path` as a Path if `what` can be written there (see `check_outputs`); checked before any long work."""
    return check_outputs([Output(path, what, option)], inputs)[0]


def check_outputs(outputs: Sequence[Output], inputs: Iterable[object] = ()) -> list[Path]:
    """The outputs as Paths, each writable and none the same file as an input or as another output.

    inputs: anything the command reads; values that are not paths of existing files or folders
    (catalog names, arrays) are ignored. An output inside an input folder is allowed (the folder's
    images are listed before anything is written).
    """
    targets = [_writable(output) for output in outputs]
    existing = [Path(given) for given in inputs if isinstance(given, (str, os.PathLike)) and _exists(Path(given))]
    for number, (output, target) in enumerate(zip(outputs, targets)):
        for given in existing:
            if same_file(target, given):
                raise InceptionScoreError(
                    f"{escaped(target)}: is also an input ({escaped(given)}); the {output.what} would overwrite it, "
                    f"choose another path ({output.option})"
                )
        for other, other_target in zip(outputs[:number], targets[:number]):
            if same_file(target, other_target):
                raise InceptionScoreError(
                    f"{escaped(target)}: named twice, for the {other.what} ({other.option}) and the {output.what} "
                    f"({output.option}); give each its own file"
                )
    return targets


def same_file(a: Path, b: Path) -> bool:
    """True when a and b are one file: equal once resolved (symlinks, '..'), or one inode (hard links)."""
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop: compared by inode below
        pass
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def path_exists(value: str | os.PathLike) -> bool:
    """Whether a path the user gave exists; a name too long for the file system is one clear error
    (pathlib raises OSError for it instead of saying False)."""
    try:
        return Path(value).exists()
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            raise
    longest = max(Path(value).parts, key=lambda part: len(os.fsencode(part)))
    raise InceptionScoreError(
        f"{escaped(longest)[:60]}...: a file name of {len(os.fsencode(longest))} bytes, longer than the file "
        f"system allows ({name_max(Path('.'))}); check the path"
    )


def _writable(output: Output) -> Path:
    """The output's Path if a file can be made there; one clear error otherwise."""
    what, option = output.what, output.option
    if not isinstance(output.path, (str, os.PathLike)) or not str(output.path):
        shown = type(output.path).__name__ if output.path is not None else "nothing"
        raise InceptionScoreError(f"the {what} path ({option}) must be a file name, got {shown}")
    target = Path(output.path)
    shown = escaped(target)
    try:
        status = target.stat()  # a symlink's target: a link to a folder or a device is refused as they are
    except FileNotFoundError:  # nothing there yet (or a dangling symlink, which is replaced)
        status = None
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:  # a too long name is said below, with the limit
            raise InceptionScoreError(
                f"{shown}: cannot be the {what} ({error.strerror}); choose another path ({option})"
            ) from None
        status = None
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise InceptionScoreError(f"{shown}: is a folder; give a file name for the {what} ({option})")
    if status is not None and not stat.S_ISREG(status.st_mode):
        raise InceptionScoreError(
            f"{shown}: is not a regular file (a device, FIFO or socket); give a file name for the {what} ({option})"
        )
    parent = target.parent
    if not parent.is_dir():
        raise InceptionScoreError(
            f"{shown}: the folder {escaped(parent)} does not exist; create it or choose another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InceptionScoreError(
            f"{shown}: the folder {escaped(parent)} is not writable; choose another path ({option})"
        )
    limit = name_max(parent)
    if len(os.fsencode(target.name)) > limit:
        raise InceptionScoreError(
            f"{shown[:80]}...: the file name is {len(os.fsencode(target.name))} bytes, longer than the "
            f"{limit} this file system allows; choose a shorter name ({option})"
        )
    return target


def name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system of `folder` takes."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return DEFAULT_NAME_MAX


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_args: Any) -> Iterator[IO[Any]]:
    """Write `path` through a temporary file in its folder, renamed into place when the block ends
    without an error (with the umask's permissions); on an error the temporary file is removed."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, mode, **open_args) as file:
            yield file
        umask_mode(temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def locked(path: str | os.PathLike, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """An exclusive lock on the file `path` (created if missing) for the block: other processes wait.

    on_wait: called again and again while another process holds the lock (it should sleep a little;
    it may raise to stop waiting); None waits silently. No lock where fcntl is missing (Windows).
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    shown = escaped(path)
    try:  # non-blocking and read-write: a FIFO put here cannot hang the open
        handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o666)
    except IsADirectoryError:
        raise InceptionScoreError(f"{shown}: a folder is where this lock file belongs; remove it") from None
    except OSError as error:
        raise InceptionScoreError(f"{shown}: cannot open the lock file ({error.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise InceptionScoreError(f"{shown}: is not a regular file, so it cannot be a lock file; remove it")
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (fcntl.LOCK_NB if on_wait is not None else 0))
                break
            except BlockingIOError:
                assert on_wait is not None
                on_wait()
        yield
    finally:
        os.close(handle)  # releases the lock


def copy_file(source: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Copy `source` to `destination` atomically (`atomic_write`); the source is only read."""
    with open(source, "rb") as original, atomic_write(destination) as copy:
        for block in iter(lambda: original.read(1 << 20), b""):
            copy.write(block)
