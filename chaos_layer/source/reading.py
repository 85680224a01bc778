"""What one read of the config and the kill switch produced: shared by the cache and by the
file through which the processes of one Lambda Managed Instances environment share a read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaos_layer.config import Config

# How much slower than its period an environment may read after being throttled.
MAX_SLOWDOWN = 64.0


class Reading:
    """The outcome of one read: an active config, or why nothing is injected. Immutable. A plain
    class rather than a dataclass: `dataclasses` (and the `inspect` it imports) would cost a new
    environment's init several milliseconds of CPU."""

    __slots__ = ("config", "killed", "problem", "stored", "throttled")

    config: Config | None
    killed: bool
    problem: str | None
    throttled: bool
    # What the read found stored (config text, kill-switch value), when it found anything:
    # processes that share a read check these values again with the library's rules.
    stored: tuple[str | None, str | None] | None

    def __init__(
        self,
        config: Config | None = None,
        killed: bool = False,
        problem: str | None = None,
        throttled: bool = False,
        stored: tuple[str | None, str | None] | None = None,
    ) -> None:
        for name, value in zip(_FIELDS, (config, killed, problem, throttled, stored), strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Reading is immutable: cannot set {name}")

    def replace(self, **changes: Any) -> Reading:
        """A copy with `changes`, as dataclasses.replace makes one."""
        return Reading(**{name: getattr(self, name) for name in _FIELDS} | changes)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reading) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "Reading(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS) + ")"


_FIELDS = ("config", "killed", "problem", "throttled", "stored")
