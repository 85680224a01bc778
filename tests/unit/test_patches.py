"""chaos_layer._patches: process-wide patches, installed by the first rule and removed by the
last, whatever the order; and the exemption the library's own reads run in."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from chaos_layer import _patches


class Target:
    """Something a fault patches: a method, and a function it inherits."""

    def greet(self) -> str:
        return "hello"


class Child(Target):
    pass


def shout(original: Any) -> Any:
    def greet(self: Any) -> str:
        return str(original(self)).upper() if patches.rules else str(original(self))

    return greet


patches: _patches.Patches[str] = _patches.Patches(lambda: [(Child, "greet", shout)])


def test_the_first_rule_installs_and_the_last_one_removes_in_any_order() -> None:
    with patches.applied("first"):
        second = patches.applied("second")
        second.__enter__()
        assert Child().greet() == "HELLO"
    assert patches.active()  # "second" is still in force, though "first" ended before it
    assert Child().greet() == "HELLO"
    second.__exit__(None, None, None)
    assert not patches.active()
    assert "greet" not in vars(Child)  # inherited again, as before
    assert Child().greet() == "hello"


def test_a_patch_someone_put_on_top_is_left_in_place() -> None:
    with patches.applied("rule"):
        ours = vars(Child)["greet"]

        def theirs(self: Any) -> str:
            return "theirs:" + str(ours(self))

        Child.greet = theirs  # type: ignore[method-assign]
    assert vars(Child)["greet"] is theirs  # not dropped for the original
    assert Child().greet() == "theirs:hello"  # ours, inert now, stays under it
    del Child.greet


def test_removed_after_an_exception_too() -> None:
    try:
        with patches.applied("rule"):
            raise KeyError("the handler's own")
    except KeyError:
        pass
    assert not patches.active()
    assert "greet" not in vars(Child)


def test_exempt_holds_for_its_block_in_its_own_thread_and_task_only() -> None:
    seen: dict[str, bool] = {}

    def elsewhere() -> None:
        seen["thread"] = _patches.exempted()

    async def task() -> bool:
        return _patches.exempted()

    assert not _patches.exempted()
    with _patches.exempt():
        assert _patches.exempted()
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        with _patches.exempt():
            pass
        assert _patches.exempted()  # a nested block leaves the outer one exempt
    assert not _patches.exempted()
    assert seen == {"thread": False}
    assert asyncio.run(task()) is False


def test_a_scoped_rule_reaches_only_the_calls_inside_its_scope() -> None:
    """A durable step attempt's fault: not the threads beside it, not the code after it."""
    seen: dict[str, tuple[str, ...]] = {}
    inside = threading.Event()
    done = threading.Event()

    def beside() -> None:
        inside.wait(5)
        seen["beside"] = patches.rules
        done.set()

    thread = threading.Thread(target=beside)
    thread.start()
    with _patches.scoped(), patches.applied("step"):
        assert patches.rules == ("step",)
        assert Child().greet() == "HELLO"
        inside.set()
        done.wait(5)
        with _patches.scoped():
            seen["another scope"] = patches.rules
    thread.join()
    assert seen == {"beside": (), "another scope": ()}
    assert not patches.active()
    assert "greet" not in vars(Child)


def test_an_unscoped_rule_reaches_every_scope_beside_a_scoped_one() -> None:
    with patches.applied("everywhere"):
        with _patches.scoped(), patches.applied("step"):
            assert list(patches.rules) == ["everywhere", "step"]
            assert patches.active()
        assert list(patches.rules) == ["everywhere"]
        with _patches.scoped():
            assert list(patches.rules) == ["everywhere"]
    assert not patches.active()
