"""Process-wide patches, in force while at least one rule needs them.

A fault that must reach code it does not call (every botocore client, every socket) patches
something the whole process shares. Each injection adds a rule; the first rule installs the
patches and the last one to go removes them, in `finally`, so also after a handler
exception, and whatever the order when invocations overlap (local tests with threads).

Threads: in Lambda one execution environment serves one invocation at a time, so calls from
threads the handler starts are affected too (as they should be), as are background threads,
but only while the invocation runs.

The library's own reads run inside `exempt()`: a patch asks `exempted()` and leaves those
calls alone, so a fault on SSM never hides the kill switch.

A rule added inside `scoped()` applies only to calls made inside that block (in its thread or
task): a durable function's step attempt, not the SDK's checkpoints or the code running beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

R = TypeVar("R")
# What to patch: the owner (a class or module), the attribute, and wrap(original) -> patched.
Target = tuple[Any, str, Callable[[Any], Callable[..., Any]]]

_MISSING = object()
_exempt: ContextVar[bool] = ContextVar("chaos_layer_exempt", default=False)
_scope: ContextVar[object | None] = ContextVar("chaos_layer_scope", default=None)


@contextmanager
def exempt() -> Iterator[None]:
    """Calls made inside the block (in this thread or task) are never touched by a patch."""
    token = _exempt.set(True)
    try:
        yield
    finally:
        _exempt.reset(token)


def exempted() -> bool:
    return _exempt.get()


@contextmanager
def scoped() -> Iterator[None]:
    """Rules added inside the block reach only calls made inside it (in this thread or task;
    threads it starts begin outside it)."""
    token = _scope.set(object())
    try:
        yield
    finally:
        _scope.reset(token)


class Patches(Generic[R]):
    """The patches of one fault type and the rules in force. The rules are replaced, never
    mutated, so patched code reads them without the lock."""

    def __init__(self, targets: Callable[[], list[Target]]) -> None:
        self._targets = targets
        self._lock = threading.Lock()
        # Every rule, and the scope each was added in (None for every rule unscoped: the usual case).
        self._state: tuple[tuple[R, ...], tuple[object | None, ...] | None] = ((), None)
        self._saved: dict[tuple[Any, str], Any] = {}
        self._installed: dict[tuple[Any, str], Any] = {}

    @property
    def rules(self) -> tuple[R, ...]:
        """The rules in force for the calling code: the unscoped ones and those of its scope."""
        rules, scopes = self._state
        if scopes is None:
            return rules
        current = _scope.get()
        return tuple(rule for rule, scope in zip(rules, scopes, strict=True) if scope is None or scope is current)

    @contextmanager
    def applied(self, rule: R) -> Iterator[R]:
        self._add(rule)
        try:
            yield rule
        finally:
            self._remove(rule)

    def active(self) -> bool:
        """Whether any rule is in force, in any scope (for tests and diagnostics)."""
        return bool(self._state[0])

    def _add(self, rule: R) -> None:
        with self._lock:
            rules, scopes = self._state
            if not rules:
                for owner, name, wrap in self._targets():
                    self._saved[(owner, name)] = vars(owner).get(name, _MISSING)
                    patched = wrap(getattr(owner, name))
                    self._installed[(owner, name)] = patched
                    setattr(owner, name, patched)
            scope = _scope.get()
            if scopes is None and scope is not None:
                scopes = (None,) * len(rules)
            self._state = ((*rules, rule), None if scopes is None else (*scopes, scope))

    def _remove(self, rule: R) -> None:
        with self._lock:
            rules, scopes = self._state
            kept = [index for index, r in enumerate(rules) if r is not rule]
            left = tuple(scopes[index] for index in kept) if scopes is not None else None
            self._state = (
                tuple(rules[index] for index in kept),
                None if left is None or all(scope is None for scope in left) else left,
            )
            if kept:
                return
            for (owner, name), saved in self._saved.items():
                # If someone patched on top of ours meanwhile, theirs stays, and ours (inert
                # now, with no rules) stays under it rather than dropping their patch.
                if vars(owner).get(name) is not self._installed.get((owner, name)):
                    continue
                if saved is _MISSING:
                    delattr(owner, name)  # inherited again, e.g. socket.socket.connect from _socket.socket
                else:
                    setattr(owner, name, saved)
            self._saved.clear()
            self._installed.clear()
