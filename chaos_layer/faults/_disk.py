"""The `diskspace` fault's mechanics: space taken on a disk for one invocation.

The space is held by an open file descriptor alone: the file has no name, created with
O_TMPFILE where the file system supports it, else unlinked right after it is created. So
the space is released when the descriptor is closed, at the end of the invocation, and
also when the process dies however it dies (Lambda's SIGKILL at a timeout or out of
memory): the kernel frees a nameless file with its last descriptor. Nothing is left behind
for a later cold start, and nothing has to be cleaned up. Files named by earlier versions,
which did leave them behind when killed, are swept at cold start: only the library's own
`chaos-layer-diskspace-*` files, nothing else in the directory.

The space is allocated with posix_fallocate where the file system supports it (instant,
and the blocks are really taken, unlike a sparse file), else written in 1 MiB chunks.
It is never made so large that less than the safety margin stays free. Anything that goes
wrong here is reported (`warn`, once per period) and the handler runs without the fault:
the library never breaks a handler by itself.

The sweep itself is in chaos_layer._sweep, which the decorator runs at cold start.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator

from chaos_layer._sweep import PREFIX, sweep

MIB = 1024 * 1024
# posix_fallocate's answers on file systems that cannot preallocate
_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL})
# open(O_TMPFILE)'s answers where the file system (or kernel) has no unnamed files
_NO_TMPFILE = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL})


@contextlib.contextmanager
def filled(directory: str, mb: int, min_free_mb: int, warn: Callable[[str], None]) -> Iterator[int]:
    """Takes up to `mb` MiB in `directory` while the block runs; yields the bytes taken
    (0 when nothing could be taken: `warn` has said why)."""
    sweep(directory)
    descriptor, size = _fill(directory, mb * MIB, min_free_mb * MIB, warn)
    try:
        yield size
    finally:
        if descriptor is not None:
            os.close(descriptor)


def free_bytes(directory: str) -> int:
    """Space left for the function on the disk holding `directory` (a seam for tests)."""
    status = os.statvfs(directory)
    return status.f_bavail * status.f_frsize


def _fill(directory: str, wanted: int, margin: int, warn: Callable[[str], None]) -> tuple[int | None, int]:
    try:
        free = free_bytes(directory)
    except (OSError, ValueError):  # ValueError: a path no file system can take (a NUL, a lone surrogate)
        warn("diskspace fault skipped: its path is not a usable directory")
        return None, 0
    size = min(wanted, free - margin)
    if size <= 0:
        warn("diskspace fault skipped: the disk has no space left above the safety margin")
        return None, 0
    if size < wanted:
        warn("diskspace fault reduced to keep the safety margin free")
    try:
        descriptor = _unnamed_file(directory)
    except (OSError, ValueError):
        warn("diskspace fault skipped: cannot create a file in its path")
        return None, 0
    try:
        _allocate(descriptor, size)
    except OSError:
        os.close(descriptor)
        warn("diskspace fault skipped: could not fill its file")
        return None, 0
    return descriptor, size


def _unnamed_file(directory: str) -> int:
    """A writable descriptor of a new file in `directory` that has no name."""
    tmpfile = getattr(os, "O_TMPFILE", None)
    if tmpfile is not None:
        try:
            return os.open(directory, tmpfile | os.O_RDWR | os.O_CLOEXEC, 0o600)
        except OSError as error:
            if error.errno not in _NO_TMPFILE:
                raise
    import tempfile  # only where O_TMPFILE is missing

    descriptor, path = tempfile.mkstemp(prefix=PREFIX, dir=directory)
    try:
        os.unlink(path)
    except OSError:
        os.close(descriptor)
        with contextlib.suppress(OSError):
            os.remove(path)
        raise
    return descriptor


def _allocate(descriptor: int, size: int) -> None:
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        try:
            fallocate(descriptor, 0, size)
            return
        except OSError as error:
            if error.errno not in _UNSUPPORTED:
                raise
    chunk = bytes(MIB)
    written = 0
    while written < size:
        written += os.write(descriptor, chunk[: min(MIB, size - written)])
    os.fsync(descriptor)
