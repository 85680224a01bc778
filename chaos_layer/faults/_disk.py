"""The `diskspace` fault's mechanics: a file that takes up space for one invocation.

The file is allocated with posix_fallocate where the file system supports it (instant,
and the blocks are really taken, unlike a sparse file), else written in 1 MiB chunks.
It is never made so large that less than the safety margin stays free, and it is removed
in `finally`, so also when the handler fails. Anything that goes wrong here is logged and
the handler runs without the fault: the library never breaks a handler by itself.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
PREFIX = "chaos-layer-diskspace-"
# posix_fallocate's answers on file systems that cannot preallocate
_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL})


@contextlib.contextmanager
def filled(directory: str, mb: int, min_free_mb: int) -> Iterator[str | None]:
    """Takes up to `mb` MiB in `directory` while the block runs; yields the file's path
    (None when nothing could be filled)."""
    path = _fill(directory, mb * MIB, min_free_mb * MIB)
    try:
        yield path
    finally:
        if path is not None:
            _remove(path)


def free_bytes(directory: str) -> int:
    """Space left for the function on the disk holding `directory` (a seam for tests)."""
    return shutil.disk_usage(directory).free


def _fill(directory: str, wanted: int, margin: int) -> str | None:
    try:
        free = free_bytes(directory)
    except OSError:
        logger.warning("chaos-layer diskspace fault skipped: its path is not a usable directory")
        return None
    size = min(wanted, free - margin)
    if size <= 0:
        logger.warning("chaos-layer diskspace fault skipped: the disk has no space left above the safety margin")
        return None
    if size < wanted:
        logger.warning("chaos-layer diskspace fault reduced to keep the safety margin free")
    try:
        descriptor, path = tempfile.mkstemp(prefix=PREFIX, dir=directory)
    except OSError:
        logger.warning("chaos-layer diskspace fault skipped: cannot create a file in its path")
        return None
    try:
        with os.fdopen(descriptor, "wb") as file:
            _allocate(file.fileno(), size)
    except OSError:
        logger.warning("chaos-layer diskspace fault skipped: could not fill its file")
        _remove(path)
        return None
    return path


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


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
