"""What one read of the config and the kill switch produced: shared by the cache and by the
file through which the processes of one Lambda Managed Instances environment share a read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos_layer.config import Config

# How much slower than its period an environment may read after being throttled.
MAX_SLOWDOWN = 64.0


@dataclass(frozen=True)
class Reading:
    """The outcome of one read: an active config, or why nothing is injected."""

    config: Config | None = None
    killed: bool = False
    problem: str | None = None
    throttled: bool = False
    # What the read found stored (config text, kill-switch value), when it found anything:
    # processes that share a read check these values again with the library's rules.
    stored: tuple[str | None, str | None] | None = None
