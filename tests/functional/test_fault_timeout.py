"""`timeout` through `@inject_fault`: the invocation ends as Lambda's own timeout ends it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FakeLambdaContext, MotoServer, RecordingSleep
from tests.functional.fault_harness import with_chaos


class TestTimeout:
    def test_holds_until_past_the_deadline_and_the_handler_never_runs(
        self, moto_server: MotoServer, sleeps: RecordingSleep
    ) -> None:
        runs: list[Any] = []

        @with_chaos(moto_server, sleeps, {"type": "timeout"})
        def handler(event: Any, context: Any) -> str:
            runs.append(event)
            return "ran"

        with pytest.raises(TimeoutError):
            handler({}, FakeLambdaContext())  # 30 000 ms remaining

        assert sum(sleeps.calls) == pytest.approx(31.0)
        assert runs == []

    def test_without_a_context_times_out_after_the_fallback(
        self, moto_server: MotoServer, sleeps: RecordingSleep
    ) -> None:
        runs: list[Any] = []

        @with_chaos(moto_server, sleeps, {"type": "timeout", "fallback_ms": 250})
        def handler(event: Any, context: Any) -> str:
            runs.append(event)
            return "ran"

        with pytest.raises(TimeoutError):
            handler({}, None)
        assert sleeps.calls == [0.25]
        assert runs == []
