"""`diskspace`: a file takes up disk space during the invocation (mechanics: _disk.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos_layer.contract import Number, Text, field
from chaos_layer.faults.base import ON_INVOCATION, Fault, Invocation


class DiskSpaceFault(Fault):
    """Takes `mb` megabytes in `path` for the invocation, always keeping `min_free_mb`
    free on its disk, with a file that has no name, so the space comes back when the
    invocation ends or the process dies."""

    type = "diskspace"
    durable = ON_INVOCATION
    description = (
        "Takes mb megabytes (MiB) in path for the invocation with a file that has no name, so the space comes back"
        " when the invocation ends or the process dies, always leaving min_free_mb free."
    )
    examples = ({"type": "diskspace", "mb": 100, "path": "/tmp", "min_free_mb": 32},)  # noqa: S108
    mb: int = field(Number(1, integer=True), "Megabytes (MiB) to take.")
    path: str = field(
        Text(
            non_empty=True,
            rules=(
                ("/", "must be an absolute path such as /tmp"),
                (r"[^\x00]*\Z", "must not contain a NUL character"),
                # A lone surrogate (valid JSON, \ud800) has no UTF-8 form: no file system can take it.
                (r"[^\ud800-\udfff]*\Z", "must be valid Unicode (no lone surrogate)"),
            ),
            label="absolute path",
        ),
        "The directory to fill.",
        default="/tmp",  # noqa: S108 - Lambda's only writable directory; nothing secret is written
    )
    min_free_mb: int = field(
        Number(0, integer=True), "Safety margin: the fill is reduced or skipped to keep this much free.", default=64
    )

    def prepare(self) -> None:
        from chaos_layer.faults import _disk  # noqa: F401

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        from chaos_layer.faults import _disk

        if not invocation.ongoing():  # a fault earlier in the invocation outlasted the experiment
            return proceed()
        with _disk.filled(self.path, self.mb, self.min_free_mb, invocation.skipped) as taken:
            if taken:
                invocation.took_effect(self)
            return proceed()
