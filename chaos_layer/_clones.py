"""Copies of one process must not share their random numbers or their reading.

SnapStart resumes many execution environments from one memory snapshot, and a fork copies a
process: every copy would draw the same numbers (a `rate: 0.05` experiment could hit a whole
scale-out at once) and refresh its config in step with the others. After a restore (the
runtime's `snapshot_restore_py` hook, where it exists) or a fork, each tracked object reseeds
its random source and reads afresh.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Protocol

logger = logging.getLogger(__name__)


class Clonable(Protocol):
    def after_clone(self) -> None: ...


_tracked: weakref.WeakSet[Clonable] = weakref.WeakSet()
_hooked = False


def track(item: Clonable) -> None:
    """Call `item.after_clone()` in every restored or forked copy of this process."""
    global _hooked
    if not _hooked:
        _hooked = True
        os.register_at_fork(after_in_child=after_clone)
        try:
            from snapshot_restore_py import register_after_restore  # in Lambda's Python runtimes
        except ImportError:
            pass
        else:
            register_after_restore(after_clone)
    _tracked.add(item)


def after_clone() -> None:
    """The hook: never raises, since a failed hook would fail the restore."""
    for item in list(_tracked):
        try:
            item.after_clone()
        except Exception:
            logger.warning("chaos-layer could not refresh after a restore or fork", exc_info=True)
