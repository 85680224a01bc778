"""Warn once per problem per period, in bounded memory.

A problem that lasts (a config error, a fault that cannot apply to this function's events)
is logged once per period, never once per invocation. The memory of what was said is
bounded: problems whose period is over are forgotten first, then the oldest, so a stream of
distinct problems (an attacker varying an event, say) cannot grow it without limit.
"""

from __future__ import annotations

# Distinct problems remembered at once; a real function has a handful.
LIMIT = 64


class WarningMemory:
    """Which problems were warned about, and until when."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._until: dict[str, float] = {}

    def due(self, problem: str, now: float, period: float) -> bool:
        """Whether to warn about `problem` now; if so, it is quiet for `period` from `now`."""
        until = self._until.get(problem)
        if until is not None:
            if now < until:
                return False
            del self._until[problem]  # re-inserted below, as the newest
        elif len(self._until) >= self.limit:
            self._prune(now)
        self._until[problem] = now + period
        return True

    def __len__(self) -> int:
        return len(self._until)

    def _prune(self, now: float) -> None:
        for problem in [p for p, until in self._until.items() if until <= now]:
            del self._until[problem]
        while len(self._until) >= self.limit:  # the oldest first (dicts keep insertion order)
            del self._until[next(iter(self._until))]


def unexpected(error: BaseException) -> str:
    """An error of the library's own, as a problem to warn about once per period: its type and
    where it was raised, never its message or its values (they may hold a config's text)."""
    innermost = error.__traceback__
    if innermost is None:
        return f"unexpected error {type(error).__name__}"
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
    code = innermost.tb_frame.f_code
    path = code.co_filename.replace("\\", "/")
    where = path[path.rfind("chaos_layer/") :] if "chaos_layer/" in path else path.rsplit("/", 1)[-1]
    return f"unexpected error {type(error).__name__} ({where}:{innermost.tb_lineno}, in {code.co_name})"
