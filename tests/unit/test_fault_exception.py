"""The `exception` fault on its own: what it raises instead of the handler."""

from __future__ import annotations

import pytest

from chaos_layer import InjectedFault
from chaos_layer.faults.exception import ExceptionFault
from tests.unit.fault_harness import Handler, invocation, only_fault


class TestException:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [("TimeoutError", TimeoutError), ("ConnectionError", ConnectionError), ("InjectedFault", InjectedFault)],
    )
    def test_raises_the_named_exception_with_the_message_instead_of_the_handler(
        self, name: str, expected: type[Exception]
    ) -> None:
        call, sleep = invocation()
        handler = Handler()

        with pytest.raises(expected) as caught:
            only_fault({"type": "exception", "exception": name, "message": "injected"}).apply(call, handler)

        assert type(caught.value) is expected
        assert caught.value.args == ("injected",)
        assert handler.runs == 0
        assert sleep.calls == []

    def test_default_is_injected_fault(self) -> None:
        call, _ = invocation()
        with pytest.raises(InjectedFault, match=r"^Injected by chaos-layer$"):
            ExceptionFault().apply(call, Handler())
