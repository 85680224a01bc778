"""The `timeout` fault on its own: parsing and what `apply` does to the invocation (through
the decorator: tests/functional/test_fault_timeout.py)."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_layer.faults.timeout import TIMEOUT_MESSAGE, TimeoutFault
from tests.conftest import FakeLambdaContext
from tests.unit.fault_harness import Handler, invocation, only_fault, problems


def test_defaults() -> None:
    assert only_fault({"type": "timeout"}) == TimeoutFault(fallback_ms=3000)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"type": "timeout", "fallback_ms": -1}, ["faults[0].fallback_ms: must be a number between 0 and 900000"]),
    ],
)
def test_problems_name_the_key_and_the_rule(fault: dict[str, Any], expected: list[str]) -> None:
    assert problems(fault) == expected


class TestTimeout:
    def test_holds_the_invocation_past_the_functions_own_deadline_and_never_runs_the_handler(self) -> None:
        call, sleep = invocation(context=FakeLambdaContext())  # 30 s remaining
        handler = Handler()

        with pytest.raises(TimeoutError, match="Task timed out"):
            only_fault({"type": "timeout"}).apply(call, handler)

        assert sleep.calls == [31.0]  # a second past the deadline: Lambda's timeout ends it first
        assert handler.runs == 0

    @pytest.mark.parametrize("context", [None, object()])
    def test_without_a_lambda_context_raises_after_the_fallback(self, context: object) -> None:
        call, sleep = invocation(context=context)
        handler = Handler()

        with pytest.raises(TimeoutError) as caught:
            only_fault({"type": "timeout", "fallback_ms": 1500}).apply(call, handler)

        assert str(caught.value) == TIMEOUT_MESSAGE
        assert sleep.calls == [1.5]
        assert handler.runs == 0

    def test_a_context_whose_clock_fails_falls_back(self) -> None:
        class Broken:
            def get_remaining_time_in_millis(self) -> int:
                raise RuntimeError("no deadline")

        call, sleep = invocation(context=Broken())
        with pytest.raises(TimeoutError):
            only_fault({"type": "timeout"}).apply(call, Handler())
        assert sleep.calls == [3.0]
