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


class TestAfterTheHandler:
    """`prevent_execution: false`: the work is done, the answer is lost."""

    def test_the_handler_runs_once_then_the_exception_is_raised(self) -> None:
        reported: list[str] = []
        call, _ = invocation(report=lambda fault: reported.append(fault.type))
        handler = Handler()
        fault = only_fault({"type": "exception", "exception": "TimeoutError", "prevent_execution": False})

        with pytest.raises(TimeoutError, match=r"^Injected by chaos-layer$"):
            fault.apply(call, handler)

        assert handler.runs == 1
        assert reported == ["exception"]

    def test_the_handlers_own_exception_wins_and_nothing_is_injected(self) -> None:
        reported: list[str] = []
        call, _ = invocation(report=lambda fault: reported.append(fault.type))

        def failing() -> None:
            raise KeyError("the handler's own bug")

        fault = ExceptionFault(exception="TimeoutError", prevent_execution=False)
        with pytest.raises(KeyError, match="the handler's own bug") as caught:
            fault.apply(call, failing)

        assert caught.value.__context__ is None
        assert reported == []

    def test_prevent_execution_defaults_to_true(self) -> None:
        fault = only_fault({"type": "exception"})
        assert isinstance(fault, ExceptionFault)
        assert fault.prevent_execution is True

    def test_the_message_is_free_text_left_out_of_the_log_record(self) -> None:
        fault = only_fault({"type": "exception", "message": "card 4111-1111", "prevent_execution": False})
        assert fault.settings() == {
            "type": "exception",
            "rate": 1.0,
            "exception": "InjectedFault",
            "prevent_execution": False,
        }
