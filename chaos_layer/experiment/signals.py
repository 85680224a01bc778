"""Ctrl-C and SIGTERM during a run: raised once as Interrupted, then held off while the stop runs."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM. A BaseException, like KeyboardInterrupt, so that no `except
    Exception` on the way (in a check, in botocore) swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalGuard:
    """SIGINT and SIGTERM raise Interrupted, once; later ones, and any that arrive inside
    `shielded()`, are only recorded, so a second Ctrl-C cannot break off the stop. Installed
    only in the main thread (the only one Python delivers signals to)."""

    # SIGHUP too: a closed terminal or a dropped SSH session must stop the experiment as well.
    SIGNALS = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))

    def __init__(self) -> None:
        self.received: list[int] = []
        self._raised = False
        self._depth = 0
        self._entered = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        """Installs the handlers; nested uses keep the outermost's."""
        self._entered += 1
        if self._entered == 1 and threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._entered -= 1
        if self._entered:
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self._depth or self._raised:
            return
        self._raised = True
        raise Interrupted(signum)

    def interrupt(self, signum: int) -> Interrupted:
        """An interrupt that did not come through the handler (KeyboardInterrupt)."""
        self.received.append(signum)
        self._raised = True
        return Interrupted(signum)

    @contextmanager
    def shielded(self, *, deliver: bool = True) -> Iterator[None]:
        """No Interrupted inside; with `deliver`, one that arrived meanwhile is raised after."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if deliver and not self._depth and self.received and not self._raised:
            self._raised = True
            raise Interrupted(self.received[-1])
