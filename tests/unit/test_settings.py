"""Every environment setting resolves in one order: the argument, the variable, the default."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from chaos_layer import settings


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new execution environment: the disabled switch not yet announced."""
    monkeypatch.setattr(settings, "_disabled_logged", False)


class TestParameter:
    def test_the_argument_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAOS_LAYER_PARAM", "/from/env")
        assert settings.resolve_parameter("/given") == "/given"

    def test_then_chaos_layer_param_then_chaos_lambdas_chaos_param(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert settings.resolve_parameter() is None
        monkeypatch.setenv("CHAOS_PARAM", "chaoslambda.config")
        assert settings.resolve_parameter() == "chaoslambda.config"
        monkeypatch.setenv("CHAOS_LAYER_PARAM", "/from/env")
        assert settings.resolve_parameter() == "/from/env"

    def test_an_empty_variable_counts_as_unset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAOS_LAYER_PARAM", "")
        monkeypatch.setenv("CHAOS_PARAM", "chaoslambda.config")
        assert settings.resolve_parameter() == "chaoslambda.config"


def test_kill_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.resolve_kill_switch() == "/chaos-layer/kill-switch"
    monkeypatch.setenv("CHAOS_LAYER_KILL_SWITCH", "/team/kill")
    assert settings.resolve_kill_switch() == "/team/kill"
    assert settings.resolve_kill_switch("/given") == "/given"


class TestMaxAge:
    def test_argument_variable_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert settings.resolve_max_age() == 5.0
        monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "30")
        assert settings.resolve_max_age() == 30.0
        assert settings.resolve_max_age(0) == 0.0

    @pytest.mark.parametrize("value", [-1, 300.5, float("nan"), float("inf"), 1e308])
    def test_an_argument_out_of_bounds_is_the_callers_bug(self, value: float) -> None:
        with pytest.raises(ValueError, match="max_age must be a number of seconds from 0 to 300"):
            settings.resolve_max_age(value)

    @pytest.mark.parametrize("value", ["5", True, [5]])
    def test_an_argument_of_the_wrong_type_is_a_type_error(self, value: object) -> None:
        with pytest.raises(TypeError, match="max_age must be a number of seconds"):
            settings.check_periods(max_age=value)

    @pytest.mark.parametrize("text", ["soon", "-1", "inf", "nan", "1e308", "301"])
    def test_an_unusable_variable_is_logged_and_ignored(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, text: str
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", text)
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert settings.resolve_max_age() == 5.0
        assert [r.getMessage() for r in caplog.records] == [
            "CHAOS_LAYER_MAX_AGE must be a number of seconds from 0 to 300; using 5"
        ]

    def test_the_bound_itself_is_allowed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "300")
        assert settings.resolve_max_age() == 300.0


class TestIdleMaxAge:
    def test_argument_variable_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert settings.resolve_periods() == (5.0, 60.0)
        monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "600")
        assert settings.resolve_periods() == (5.0, 600.0)
        assert settings.resolve_periods(idle_max_age=30) == (5.0, 30.0)
        assert settings.resolve_periods(max_age=0, idle_max_age=0) == (0.0, 0.0)

    @pytest.mark.parametrize("text", ["soon", "-1", "inf", "nan", "1e308", "3601"])
    def test_an_unusable_variable_is_logged_and_ignored(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, text: str
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", text)
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert settings.resolve_periods() == (5.0, 60.0)
        assert [r.getMessage() for r in caplog.records] == [
            "CHAOS_LAYER_IDLE_MAX_AGE must be a number of seconds from 0 to 3600; using 60"
        ]

    @pytest.mark.parametrize("value", [-1, 3601, float("nan"), float("inf")])
    def test_an_argument_out_of_bounds_is_the_callers_bug(self, value: float) -> None:
        with pytest.raises(ValueError, match="idle_max_age must be a number of seconds from 0 to 3600"):
            settings.check_periods(idle_max_age=value)

    def test_never_below_max_age(self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
        with pytest.raises(ValueError, match=r"idle_max_age \(10\) must not be below max_age \(30\)"):
            settings.check_periods(max_age=30, idle_max_age=10)
        with pytest.raises(ValueError, match="must not be below max_age"):
            settings.resolve_periods(max_age=30, idle_max_age=10)
        # The default follows a longer max_age without a word...
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert settings.resolve_periods(max_age=120) == (120.0, 120.0)
        assert caplog.records == []
        # ...a chosen idle period below it is raised to it, with one warning.
        monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "10")
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert settings.resolve_periods(max_age=30) == (30.0, 30.0)
        assert [r.getMessage() for r in caplog.records] == [
            "CHAOS_LAYER_IDLE_MAX_AGE (10) must not be below the active period (30); using 30"
        ]


def test_handler_and_metrics_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.resolve_handler() is None
    assert settings.resolve_metrics_namespace() == "ChaosLayer"
    monkeypatch.setenv("CHAOS_LAYER_HANDLER", "app.handler")
    monkeypatch.setenv("CHAOS_LAYER_METRICS_NAMESPACE", "GameDay")
    assert settings.resolve_handler() == "app.handler"
    assert settings.resolve_metrics_namespace() == "GameDay"


class TestDisabled:
    @pytest.mark.parametrize(("value", "disabled"), [("true", True), (" Yes ", True), ("1", True), ("no", False)])
    def test_values(self, monkeypatch: pytest.MonkeyPatch, fresh_process: None, value: str, disabled: bool) -> None:
        monkeypatch.setenv("CHAOS_LAYER_DISABLED", value)
        assert settings.is_disabled() is disabled

    def test_one_line_says_so_once_per_process(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fresh_process: None
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="chaos_layer")
        assert not settings.is_disabled()
        assert caplog.records == []
        monkeypatch.setenv("CHAOS_LAYER_DISABLED", "true")
        for _ in range(3):
            assert settings.is_disabled()
        assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
            (
                logging.WARNING,
                "chaos-layer is disabled by CHAOS_LAYER_DISABLED: handlers run unchanged and SSM is never read",
            )
        ]


def test_a_disabled_cold_start_logs_one_line_for_all_its_handlers() -> None:
    """As Lambda runs it: the handler module is imported once (the cold start) and decorates
    two handlers, which then serve invocations; one line in the log, never one per call."""
    code = textwrap.dedent(
        """
        import logging
        logging.basicConfig(format="%(levelname)s %(name)s %(message)s")
        from chaos_layer import inject_fault

        @inject_fault(parameter="/chaos-layer/orders")
        def orders(event, context):
            return "orders"

        @inject_fault
        def payments(event, context):
            return "payments"

        for _ in range(5):
            assert (orders({}, None), payments({}, None)) == ("orders", "payments")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"CHAOS_LAYER_DISABLED": "true", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "WARNING chaos_layer.settings chaos-layer is disabled by CHAOS_LAYER_DISABLED:"
        " handlers run unchanged and SSM is never read"
    ]
