"""Atomic file writes: a destination is either its old content or the complete new one."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator

# Temporary files being written, for a process ending at once (`_interrupt`) to remove.
_PENDING: set[str] = set()


def remove_pending() -> None:
    """Removes every temporary file `atomic_path` is still writing; destinations keep their
    old content."""
    for tmp in list(_PENDING):
        with contextlib.suppress(OSError):
            os.remove(tmp)


def _new_file_mode(path: str) -> int:
    """The mode an ordinary ``open(path, "w")`` would leave: the old file's, else ``0o666``
    less the umask (``mkstemp`` creates ``0o600``, which would hide a model from its group)."""
    with contextlib.suppress(FileNotFoundError):
        return os.stat(path).st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _naming(error: OSError, path: str) -> OSError:
    """The same error about the destination the caller gave, not our temporary file."""
    if isinstance(error, IsADirectoryError) or os.path.isdir(path):
        return IsADirectoryError(errno.EISDIR, "is a folder, not a file", path)
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return FileNotFoundError(errno.ENOENT, "no such folder", os.path.dirname(path) or ".")
    return type(error)(error.errno, error.strerror, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    The temporary file is named ``.{name}.tmp-XXXXXXXX{suffix}`` in the destination's folder (a
    rename within one file system is atomic) and keeps the destination's suffix, so writers that
    choose a format by extension (matplotlib) see the right one. It is flushed to disk before
    the rename. If the body raises, the temporary file is removed and the exception propagates:
    ``path`` keeps its old content, byte for byte, or stays absent.

    Write through the yielded path with a writer that does not rename it: ``numpy.savez`` appends
    ``.npz`` to a name without it, so hand it an open file object instead.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> target = os.path.join(folder, "out.txt")
    >>> with atomic_path(target) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("done")
    >>> os.listdir(folder), os.path.getsize(target)
    (['out.txt'], 4)
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    suffix = os.path.splitext(name)[1]
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.tmp-", suffix=suffix, dir=folder)
    except OSError as error:
        raise _naming(error, path) from None
    os.close(fd)
    _PENDING.add(tmp)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(error, OSError) and tmp in (error.filename, error.filename2):
            raise _naming(error, path) from None
        raise
    finally:
        _PENDING.discard(tmp)
