"""The config document: every key, its default, and every way it can be wrong."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest

from chaos_layer.config import Config, load_config, parse_config
from chaos_layer.constants import kill_switch_engaged
from chaos_layer.exceptions import ConfigError
from chaos_layer.faults.exception import ExceptionFault
from chaos_layer.faults.latency import LatencyFault
from chaos_layer.faults.status_code import StatusCodeFault

DOCUMENTED_EXAMPLE: dict[str, Any] = {
    "enabled": True,
    "experiment": "checkout-latency",
    "expires_at": "2026-11-27T15:00:00Z",
    "rate": 0.05,
    "faults": [
        {"type": "latency", "delay_ms": 300},
        {"type": "latency", "min_ms": 100, "max_ms": 800, "rate": 0.5},
        {"type": "exception", "exception": "TimeoutError", "message": "injected"},
        {
            "type": "status_code",
            "status_code": 503,
            "body": '{"message": "busy"}',
            "headers": {"Retry-After": "1"},
            "prevent_execution": True,
        },
    ],
}


def problems_of(document: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    return [str(problem) for problem in caught.value.problems]


def locations_of(document: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    return [problem.location for problem in caught.value.problems]


def with_fault(fault: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"enabled": True, "faults": [fault], **top}


class TestValidDocuments:
    def test_the_spec_example_means_what_the_spec_says(self) -> None:
        config = parse_config(DOCUMENTED_EXAMPLE)

        assert config.enabled is True
        assert config.experiment == "checkout-latency"
        assert config.expires_at == datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)
        assert config.rate == 0.05
        assert config.faults == (
            LatencyFault(min_ms=300, max_ms=300),
            LatencyFault(min_ms=100, max_ms=800, rate=0.5),
            ExceptionFault(exception="TimeoutError", message="injected"),
            StatusCodeFault(
                status_code=503,
                body='{"message": "busy"}',
                headers={"Retry-After": "1"},
                prevent_execution=True,
            ),
        )

    def test_defaults_of_the_top_level_keys(self) -> None:
        config = parse_config({"enabled": True, "faults": [{"type": "latency", "delay_ms": 1}]})

        assert config.experiment == "default"
        assert config.expires_at is None
        assert config.rate == 1.0

    def test_defaults_of_each_fault(self) -> None:
        config = parse_config(
            {
                "enabled": True,
                "faults": [
                    {"type": "latency", "delay_ms": 10},
                    {"type": "exception"},
                    {"type": "status_code", "status_code": 500},
                ],
            }
        )
        latency, exception, status = config.faults

        assert latency.rate == 1.0
        assert exception == ExceptionFault(rate=1.0, exception="InjectedFault", message="Injected by chaos-layer")
        assert status == StatusCodeFault(rate=1.0, status_code=500, body="", headers={}, prevent_execution=True)

    def test_disabled_config_needs_no_faults_and_is_never_active(self) -> None:
        config = parse_config({"enabled": False})

        assert config.faults == ()
        assert not config.is_active(now=0)

    def test_enabled_config_is_active_until_expires_at(self) -> None:
        config = parse_config(with_fault({"type": "exception"}, expires_at="2026-11-27T15:00:00Z"))
        expiry = datetime(2026, 11, 27, 15, tzinfo=timezone.utc).timestamp()

        assert config.is_active(expiry - 0.001)
        assert not config.is_active(expiry)

    def test_enabled_config_with_an_empty_fault_list_injects_nothing(self) -> None:
        assert not parse_config({"enabled": True, "faults": []}).is_active(now=0)

    def test_latency_comes_before_faults_that_end_the_invocation_whatever_the_order(self) -> None:
        config = parse_config(
            {
                "enabled": True,
                "faults": [
                    {"type": "status_code", "status_code": 503},
                    {"type": "latency", "delay_ms": 5},
                    {"type": "exception"},
                    {"type": "latency", "delay_ms": 7},
                ],
            }
        )

        assert [type(f).__name__ for f in config.faults] == [
            "LatencyFault",
            "LatencyFault",
            "StatusCodeFault",
            "ExceptionFault",
        ]
        assert [f.max_ms for f in config.faults if isinstance(f, LatencyFault)] == [5, 7]

    def test_load_config_reads_json_text(self) -> None:
        assert load_config(json.dumps(DOCUMENTED_EXAMPLE)) == parse_config(DOCUMENTED_EXAMPLE)

    @pytest.mark.parametrize("rate", [0, 0.0, 1, 0.5])
    def test_rates_from_zero_to_one_are_accepted(self, rate: float) -> None:
        config = parse_config(with_fault({"type": "exception", "rate": rate}, rate=rate))
        assert config.rate == rate
        assert config.faults[0].rate == rate


class TestExpiresAt:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-11-27T15:00:00Z", datetime(2026, 11, 27, 15, tzinfo=timezone.utc)),
            ("2026-11-27T15:00:00z", datetime(2026, 11, 27, 15, tzinfo=timezone.utc)),
            ("2026-11-27T15:00:00+00:00", datetime(2026, 11, 27, 15, tzinfo=timezone.utc)),
            ("2026-11-27T16:00:00+01:00", datetime(2026, 11, 27, 15, tzinfo=timezone.utc)),
            ("2026-11-27T10:30:00-04:30", datetime(2026, 11, 27, 15, tzinfo=timezone.utc)),
            ("2026-11-27T15:00:00.250Z", datetime(2026, 11, 27, 15, 0, 0, 250000, tzinfo=timezone.utc)),
        ],
    )
    def test_offsets_are_honoured(self, text: str, expected: datetime) -> None:
        config = parse_config(with_fault({"type": "exception"}, expires_at=text))
        assert config.expires_at == expected
        assert config.expires_at is not None
        assert config.expires_at.utcoffset() is not None

    def test_an_offset_is_required(self) -> None:
        assert problems_of(with_fault({"type": "exception"}, expires_at="2026-11-27T15:00:00")) == [
            "expires_at: must include a UTC offset, such as Z or +01:00"
        ]

    @pytest.mark.parametrize("value", ["tomorrow", "", "27/11/2026 15:00", 1795000000, None, True])
    def test_anything_but_an_iso_timestamp_is_one_problem(self, value: object) -> None:
        assert locations_of(with_fault({"type": "exception"}, expires_at=value)) == ["expires_at"]


class TestProblems:
    def test_every_problem_is_listed_at_once_with_its_location(self) -> None:
        document = {
            "enabled": "yes",
            "experiment": "",
            "rate": 2,
            "faults": [
                {"type": "latency", "delay_ms": -1},
                {"type": "latency", "delay_ms": "slow"},
                {"type": "status_code", "status_code": 99, "headers": {"Retry-After": 1}},
                {"type": "exception", "exception": "SystemExit"},
                {"type": "teleport"},
                "latency",
            ],
        }

        assert locations_of(document) == [
            "enabled",
            "experiment",
            "rate",
            "faults[0].delay_ms",
            "faults[1].delay_ms",
            "faults[2].status_code",
            "faults[2].headers",
            "faults[3].exception",
            "faults[4].type",
            "faults[5]",
        ]

    @pytest.mark.parametrize(
        ("document", "expected"),
        [
            ({}, ["enabled: is required"]),
            ({"enabled": True}, ["faults: is required"]),
            ({"rate": 0.5, "faults": []}, ["enabled: is required"]),
            ({"enabled": True, "faults": {}}, ["faults: must be an array, not an object"]),
            ({"enabled": 1, "faults": []}, ["enabled: must be true or false, not a number"]),
            ({"enabled": False, "experiment": 7}, ["experiment: must be a string, not a number"]),
            ({"enabled": False, "experiment": "  "}, ["experiment: must not be empty"]),
            ({"enabled": False, "rate": -0.1}, ["rate: must be a number between 0 and 1"]),
            ({"enabled": False, "rate": 1.01}, ["rate: must be a number between 0 and 1"]),
            ({"enabled": False, "rate": "0.5"}, ["rate: must be a number, not a string"]),
            ({"enabled": False, "rate": True}, ["rate: must be a number, not a boolean"]),
            ([], ["must be an object, not an array"]),
            ("on", ["must be an object, not a string"]),
            (None, ["must be an object, not null"]),
        ],
    )
    def test_top_level_problems(self, document: object, expected: list[str]) -> None:
        assert problems_of(document) == expected

    @pytest.mark.parametrize(
        ("fault", "expected"),
        [
            ({}, ["faults[0].type: is required"]),
            ({"type": ""}, ["faults[0].type: must not be empty"]),
            ({"type": "latency"}, ["faults[0].delay_ms: is required (or min_ms and max_ms)"]),
            (
                {"type": "latency", "delay_ms": 1.5e400},
                ["faults[0].delay_ms: must be a number, not an out-of-range number"],
            ),
            ({"type": "latency", "delay_ms": 900_001}, ["faults[0].delay_ms: must be a number between 0 and 900000"]),
            (
                {"type": "latency", "min_ms": 0, "max_ms": 1e9},
                ["faults[0].max_ms: must be a number between 0 and 900000"],
            ),
            (
                {"type": "latency", "delay_ms": 5, "min_ms": 1, "max_ms": 9},
                ["faults[0].delay_ms: give either delay_ms or min_ms and max_ms, not both"],
            ),
            ({"type": "latency", "min_ms": 100}, ["faults[0].max_ms: is required"]),
            ({"type": "latency", "max_ms": 100}, ["faults[0].min_ms: is required"]),
            (
                {"type": "latency", "min_ms": 800, "max_ms": 100},
                ["faults[0].max_ms: must not be less than min_ms"],
            ),
            ({"type": "latency", "delay_ms": 1, "rate": 7}, ["faults[0].rate: must be a number between 0 and 1"]),
            ({"type": "exception", "message": 3}, ["faults[0].message: must be a string, not a number"]),
            ({"type": "status_code"}, ["faults[0].status_code: is required"]),
            (
                {"type": "status_code", "status_code": 503.5},
                ["faults[0].status_code: must be a whole number, not a number"],
            ),
            (
                {"type": "status_code", "status_code": 503, "body": {"message": "busy"}},
                ["faults[0].body: must be a string, not an object"],
            ),
            (
                {"type": "status_code", "status_code": 503, "headers": ["Retry-After"]},
                ["faults[0].headers: must be an object whose values are strings"],
            ),
            (
                {"type": "status_code", "status_code": 503, "prevent_execution": "false"},
                ["faults[0].prevent_execution: must be true or false, not a string"],
            ),
        ],
    )
    def test_fault_problems(self, fault: dict[str, Any], expected: list[str]) -> None:
        assert problems_of(with_fault(fault)) == expected

    def test_unknown_fault_type_names_the_known_ones(self) -> None:
        assert problems_of(with_fault({"type": "teleport"})) == [
            "faults[0].type: unknown fault type; expected one of " + ", ".join(_fault_type_names())
        ]

    def test_unknown_top_level_key_is_an_error(self) -> None:
        document = with_fault({"type": "exception"}, max_invocations=10)
        assert problems_of(document) == ["max_invocations: unknown key"]

    def test_unknown_fault_key_is_an_error(self) -> None:
        """A newer limit the library does not know must never silently widen the blast radius."""
        assert problems_of(with_fault({"type": "latency", "delay_ms": 5, "only_on_tuesdays": True})) == [
            "faults[0].only_on_tuesdays: unknown key"
        ]

    def test_an_unknown_key_is_echoed_short_and_printable(self) -> None:
        """A key is the document's to choose: as long, and as strange, as it likes."""
        document = with_fault({"type": "exception"}, **{"x" * 5_000: 1, "a\nb\ud800c": 2})
        assert problems_of(document) == ["x" * 40 + "...: unknown key", "a?b?c: unknown key"]

    def test_a_fault_for_another_type_is_an_unknown_key(self) -> None:
        assert locations_of(with_fault({"type": "exception", "status_code": 503})) == ["faults[0].status_code"]

    @pytest.mark.parametrize("code", [99, 600, 0, -200, 1000])
    def test_status_code_must_be_from_100_to_599(self, code: int) -> None:
        assert problems_of(with_fault({"type": "status_code", "status_code": code})) == [
            "faults[0].status_code: must be a whole number between 100 and 599"
        ]

    @pytest.mark.parametrize("code", [100, 200, 429, 503, 599])
    def test_status_code_bounds_are_inclusive(self, code: int) -> None:
        fault = parse_config(with_fault({"type": "status_code", "status_code": code})).faults[0]
        assert isinstance(fault, StatusCodeFault)
        assert fault.status_code == code

    def test_problem_messages_never_contain_the_documents_values(self) -> None:
        secret = "tok-9f2c41d7e8"
        document = {
            "enabled": secret,
            "experiment": 12345.678,
            "expires_at": secret,
            "rate": secret,
            "faults": [
                {"type": secret},
                {"type": "exception", "exception": secret, "message": 98765},
                {"type": "status_code", "status_code": secret, "headers": {"X": 24680}, "body": [secret]},
                {"type": "latency", "min_ms": secret, "max_ms": 13579},
                secret,
            ],
        }
        with pytest.raises(ConfigError) as caught:
            parse_config(document)
        text = str(caught.value) + repr(caught.value.problems)

        for value in (secret, "12345", "98765", "24680", "13579"):
            assert value not in text
        assert len(caught.value.problems) >= 10

    def test_huge_numbers_are_a_problem_not_a_crash(self) -> None:
        with pytest.raises(ConfigError) as caught:
            load_config('{"enabled": true, "rate": 1' + "0" * 400 + ', "faults": []}')
        assert [p.location for p in caught.value.problems] == ["rate"]

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "{",
            "enabled: true",
            "{'enabled': true}",
            '{"enabled": true,}',
            "[" * 100_000,
            '{"enabled": true, "rate": 1' + "0" * 5000 + "}",
        ],
    )
    def test_text_that_is_not_json_is_one_problem(self, text: str) -> None:
        with pytest.raises(ConfigError) as caught:
            load_config(text)
        assert len(caught.value.problems) == 1
        assert str(caught.value).startswith("not valid JSON")


def _fault_type_names() -> list[str]:
    from chaos_layer.faults import FAULT_TYPES

    return list(FAULT_TYPES)


class TestExceptionAllowList:
    @pytest.mark.parametrize(
        "name",
        ["InjectedFault", "Exception", "TimeoutError", "ValueError", "RuntimeError", "ConnectionError", "KeyError"],
    )
    def test_builtin_exceptions_and_injected_fault_are_allowed(self, name: str) -> None:
        assert parse_config(with_fault({"type": "exception", "exception": name})).faults[0] == ExceptionFault(
            exception=name
        )

    @pytest.mark.parametrize(
        "name",
        [
            "SystemExit",  # would take the runtime down
            "KeyboardInterrupt",
            "GeneratorExit",
            "BaseException",
            "BaseExceptionGroup",
            "ExceptionGroup",  # needs more than one message
            "UnicodeDecodeError",
            "UnicodeEncodeError",
            "UnicodeTranslateError",
            "os.system",  # nothing is ever imported or evaluated from the config
            "__import__",
            "subprocess.CalledProcessError",
            "chaos_layer.InjectedFault",
            "json.JSONDecodeError",
            "print",
            "object",
            "timeouterror",
            " TimeoutError",
        ],
    )
    def test_other_names_are_refused(self, name: str) -> None:
        assert problems_of(with_fault({"type": "exception", "exception": name})) == [
            "faults[0].exception: must name a built-in exception (a subclass of Exception) or InjectedFault"
        ]


class TestChaosLambdaFormat:
    """chaos-lambda 0.3's documents mean what they meant there."""

    BASE: ClassVar[dict[str, Any]] = {
        "delay": 400,
        "is_enabled": True,
        "error_code": 404,
        "exception_msg": "chaos",
        "rate": 1,
    }

    def legacy(self, **changes: Any) -> Config:
        return parse_config({**self.BASE, **changes})

    def test_latency_sleeps_delay_milliseconds_then_runs_the_handler(self) -> None:
        assert self.legacy(fault_type="latency").faults == (LatencyFault(min_ms=400, max_ms=400),)

    def test_exception_raises_exception_with_the_message(self) -> None:
        assert self.legacy(fault_type="exception").faults == (ExceptionFault(exception="Exception", message="chaos"),)

    def test_status_code_runs_the_handler_and_replaces_its_status(self) -> None:
        assert self.legacy(fault_type="status_code").faults == (
            StatusCodeFault(status_code=404, prevent_execution=False),
        )

    def test_rate_is_the_fraction_of_invocations(self) -> None:
        config = self.legacy(fault_type="latency", rate=0.25)
        assert config.rate == 0.25
        assert config.enabled

    def test_missing_rate_means_every_invocation(self) -> None:
        document = {**self.BASE, "fault_type": "exception"}
        del document["rate"]
        assert parse_config(document).rate == 1.0

    def test_is_enabled_false_injects_nothing(self) -> None:
        config = self.legacy(fault_type="latency", is_enabled=False)
        assert not config.is_active(now=0)

    def test_disabled_legacy_document_may_omit_the_fault_type(self) -> None:
        assert not parse_config({"is_enabled": False}).is_active(now=0)

    def test_legacy_experiment_is_the_default_label(self) -> None:
        assert self.legacy(fault_type="latency").experiment == "default"

    def test_unknown_fault_type_is_a_problem(self) -> None:
        assert problems_of({**self.BASE, "fault_type": "teleport"}) == [
            "fault_type: must be latency, exception or status_code"
        ]

    def test_legacy_unknown_keys_are_errors(self) -> None:
        assert problems_of({**self.BASE, "fault_type": "latency", "blast_radius": 1}) == ["blast_radius: unknown key"]

    def test_legacy_bad_values_are_problems(self) -> None:
        assert locations_of({**self.BASE, "fault_type": "status_code", "error_code": "404"}) == ["error_code"]
        assert locations_of({**self.BASE, "fault_type": "latency", "delay": -5}) == ["delay"]
        assert locations_of({**self.BASE, "fault_type": "latency", "delay": 10**12}) == ["delay"]
        assert locations_of({**self.BASE, "fault_type": "latency", "rate": 3}) == ["rate"]


class TestKillSwitch:
    @pytest.mark.parametrize("value", [None, "off", "OFF", "Off", " off ", "false", "FALSE", " False\n", "0", " 0 "])
    def test_released(self, value: str | None) -> None:
        assert not kill_switch_engaged(value)

    @pytest.mark.parametrize("value", ["on", "ON", "true", "1", "yes", "", " ", "engaged", "offf", "no", "00", "0.0"])
    def test_engaged(self, value: str) -> None:
        assert kill_switch_engaged(value)


def test_expiry_in_the_past_is_valid_but_inactive() -> None:
    past = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    config = parse_config(with_fault({"type": "exception"}, expires_at=past))
    assert not config.is_active(datetime.now(timezone.utc).timestamp())
