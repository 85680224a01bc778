"""The cold start's sweep of what killed processes of earlier versions left in /tmp.

Earlier versions named the `diskspace` fault's file, so a process killed while it held one
left the file behind. The decorator sweeps them at cold start: only the library's own
`chaos-layer-diskspace-*` regular files of this user, nothing else in the directory. Apart
from chaos_layer.faults._disk, whose package a cold start must not load.
"""

from __future__ import annotations

import contextlib
import os
import stat

PREFIX = "chaos-layer-diskspace-"
# Where a cold start sweeps: Lambda's temporary directory (also the fault's default path).
DEFAULT_DIRECTORY = "/tmp"  # noqa: S108 - a fixed, well-known place; only our own names are removed

_swept: set[str] = set()


def sweep(directory: str | None = None) -> int:
    """Removes stale `chaos-layer-diskspace-*` files (regular files of this user) from
    `directory` (default: the temporary directory), once per directory per process.
    Returns how many were removed; never raises."""
    if directory is None:
        directory = os.environ.get("TMPDIR") or DEFAULT_DIRECTORY
    if directory in _swept:
        return 0
    _swept.add(directory)
    removed = 0
    with contextlib.suppress(OSError, ValueError), os.scandir(directory) as entries:
        for entry in entries:
            if not entry.name.startswith(PREFIX):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                    os.unlink(entry.path)
                    removed += 1
    return removed
