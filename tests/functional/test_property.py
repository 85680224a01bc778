"""Property: whatever JSON is stored as the config, an invocation either returns the handler's
normal response or gets exactly the effects of faults the document configures (its exception
type and message, its status response, a sleep of its delay), never anything else: no other
exception, no second run of the handler.

The oracle reads the raw document, not the library's parser, so a validation gap that lets
something unconfigured through would be caught.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from random import Random
from typing import Any

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from chaos_layer import inject_fault
from tests.conftest import REGION, FakeClock, RecordingSleep

PARAM = "/chaos-layer/orders"
NORMAL = {"statusCode": 200, "headers": {"x-handler": "1"}, "body": "from the handler"}
EVENTS: list[Any] = [
    {"httpMethod": "GET", "path": "/", "requestContext": {"stage": "prod"}},
    {"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}},
    {"httpMethod": "GET", "path": "/", "requestContext": {"elb": {"targetGroupArn": "arn"}}},
    {"httpMethod": "GET", "requestContext": {"elb": {}}, "multiValueHeaders": {}},
    {"Records": []},
    None,
]

# --- strategies -----------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
any_json = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
rates = st.one_of(st.floats(0, 1), st.sampled_from([0, 1, 0.5, -0.1, 1.5]), scalars)
milliseconds = st.one_of(st.integers(0, 2000), st.floats(0, 2000), st.sampled_from([-1, 10**12, 1e400]), scalars)
exception_names = st.sampled_from(
    [
        "InjectedFault",
        "TimeoutError",
        "ValueError",
        "KeyError",
        "ConnectionError",
        "Exception",
        "SystemExit",
        "KeyboardInterrupt",
        "GeneratorExit",
        "UnicodeDecodeError",
        "os.system",
        "__import__",
        "",
    ]
)
expiries = st.sampled_from(
    ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00+02:00", "2030-01-01T00:00:00", "soon", 7]
)
latency = st.fixed_dictionaries(
    {"type": st.just("latency")},
    optional={"delay_ms": milliseconds, "min_ms": milliseconds, "max_ms": milliseconds, "rate": rates},
)
exception = st.fixed_dictionaries(
    {"type": st.just("exception")},
    optional={"exception": exception_names | scalars, "message": st.text(max_size=20) | scalars, "rate": rates},
)
status = st.fixed_dictionaries(
    {"type": st.just("status_code")},
    optional={
        "status_code": st.integers(50, 650) | scalars,
        "body": st.text(max_size=20) | scalars,
        "headers": st.dictionaries(st.text(max_size=8), st.text(max_size=8) | scalars, max_size=3) | scalars,
        "prevent_execution": st.booleans() | scalars,
        "rate": rates,
    },
)
fault = st.one_of(latency, exception, status, any_json)
current = st.fixed_dictionaries(
    {"enabled": st.booleans() | scalars, "faults": st.lists(fault, max_size=4)},
    optional={"experiment": st.text(max_size=12) | scalars, "expires_at": expiries, "rate": rates},
)
legacy = st.fixed_dictionaries(
    {
        "fault_type": st.sampled_from(["latency", "exception", "status_code", "teleport"]) | scalars,
        "is_enabled": st.booleans() | scalars,
    },
    optional={
        "delay": milliseconds,
        "error_code": st.integers(50, 650) | scalars,
        "exception_msg": st.text(max_size=20) | scalars,
        "rate": rates,
    },
)


# Mostly valid building blocks, so that faults really fire and the property is exercised.
valid_rates = st.sampled_from([1, 1, 0.5]) | st.floats(0.2, 1)
valid_ms = st.integers(0, 2000) | st.floats(0, 2000)
valid_latency = st.one_of(
    st.fixed_dictionaries({"type": st.just("latency"), "delay_ms": valid_ms}, optional={"rate": valid_rates}),
    st.tuples(valid_ms, valid_ms).map(lambda pair: {"type": "latency", "min_ms": min(pair), "max_ms": max(pair)}),
)
valid_exception = st.fixed_dictionaries(
    {"type": st.just("exception")},
    optional={
        "exception": st.sampled_from(["InjectedFault", "TimeoutError", "KeyError", "ConnectionError"]),
        "message": st.text(max_size=20),
        "rate": valid_rates,
    },
)
valid_status = st.fixed_dictionaries(
    {"type": st.just("status_code"), "status_code": st.integers(100, 599)},
    optional={
        "body": st.text(max_size=20),
        "headers": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
        "prevent_execution": st.booleans(),
        "rate": valid_rates,
    },
)
valid_current = st.fixed_dictionaries(
    {
        "enabled": st.just(True),
        "faults": st.lists(valid_latency | valid_exception | valid_status, min_size=1, max_size=4),
    },
    optional={
        "experiment": st.text(min_size=1, max_size=12).filter(str.strip),
        "expires_at": st.sampled_from(["2030-01-01T00:00:00Z", "2030-01-01T00:00:00+02:00"]),
        "rate": valid_rates,
    },
)
valid_legacy = st.fixed_dictionaries(
    {
        "fault_type": st.sampled_from(["latency", "exception", "status_code"]),
        "is_enabled": st.just(True),
        "delay": st.integers(0, 2000),
        "error_code": st.integers(100, 599),
        "exception_msg": st.text(max_size=20),
    },
    optional={"rate": valid_rates},
)


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy[dict[str, Any]]) -> Any:
    """A near-valid document with one mutation: a key dropped, added or given any value."""
    document = draw(documents)
    how = draw(st.sampled_from(["none", "drop", "add", "replace", "fault"]))
    if how == "drop" and document:
        document.pop(draw(st.sampled_from(sorted(document))))
    elif how == "add":
        document[draw(st.text(max_size=10))] = draw(any_json)
    elif how == "replace" and document:
        document[draw(st.sampled_from(sorted(document)))] = draw(any_json)
    elif how == "fault" and isinstance(document.get("faults"), list) and document["faults"]:
        item = document["faults"][0]
        if isinstance(item, dict):
            item[draw(st.sampled_from(["rate", "type", "extra", "delay_ms", "status_code"]))] = draw(any_json)
    return document


stored_text = st.one_of(
    st.builds(json.dumps, any_json),
    st.text(min_size=1, max_size=40),
    st.builds(json.dumps, current),
    st.builds(json.dumps, legacy),
    st.builds(json.dumps, mutated(current)),
    st.builds(json.dumps, mutated(valid_current)),
    st.builds(json.dumps, mutated(valid_legacy)),
    st.builds(json.dumps, valid_current),
    st.builds(json.dumps, valid_legacy),
)

# --- the oracle -----------------------------------------------------------------------------


class Allowed:
    """Effects the raw document configures, whether or not it is valid."""

    def __init__(self, document: Any) -> None:
        self.exceptions: list[tuple[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.delays: list[tuple[float, float]] = []
        self.latency_faults = 0
        if not isinstance(document, dict):
            return
        if "enabled" not in document and "fault_type" in document:
            self._legacy(document)
            return
        faults = document.get("faults")
        for item in faults if isinstance(faults, list) else []:
            if isinstance(item, dict):
                self._fault(item)

    def _fault(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "latency":
            self.latency_faults += 1
            if "delay_ms" in item:
                self._delay(item["delay_ms"], item["delay_ms"])
            else:
                self._delay(item.get("min_ms"), item.get("max_ms"))
        elif kind == "exception":
            self.exceptions.append((item.get("exception", "InjectedFault"), item.get("message", _DEFAULT_MESSAGE)))
        elif kind == "status_code":
            self.statuses.append(item)

    def _legacy(self, document: dict[str, Any]) -> None:
        kind = document.get("fault_type")
        if kind == "latency":
            self.latency_faults += 1
            self._delay(document.get("delay"), document.get("delay"))
        elif kind == "exception":
            self.exceptions.append(("Exception", document.get("exception_msg")))
        elif kind == "status_code":
            self.statuses.append({"status_code": document.get("error_code"), "prevent_execution": False})

    def _delay(self, low: Any, high: Any) -> None:
        if _number(low) and _number(high):
            self.delays.append((float(low), float(high)))

    def slept_a_configured_delay(self, seconds: float) -> bool:
        return any(low - 1e-6 <= seconds * 1000 <= high + 1e-6 for low, high in self.delays)

    def raised_a_configured_exception(self, error: BaseException) -> bool:
        return any(type(error).__name__ == name and error.args == (message,) for name, message in self.exceptions)

    def a_configured_status(self, response: Any, runs: int) -> bool:
        if not isinstance(response, dict):
            return False
        for item in self.statuses:
            if item.get("status_code") != response.get("statusCode"):
                continue
            if item.get("prevent_execution", True) is False:
                if runs == 1 and response.get("body") == NORMAL["body"]:
                    return True
            elif runs == 0 and response.get("body") == item.get("body", ""):
                return True
        return False


_DEFAULT_MESSAGE = "Injected by chaos-layer"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- the property ---------------------------------------------------------------------------


def test_only_configured_faults_ever_reach_the_handler() -> None:
    outcomes: Counter[str] = Counter()
    with mock_aws():
        admin = boto3.client("ssm", region_name=REGION)
        library = boto3.client("ssm", region_name=REGION)

        @settings(
            max_examples=250,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(text=stored_text, seed=st.integers(0, 2**16), event=st.sampled_from(EVENTS))
        def check(text: str, seed: int, event: Any) -> None:
            admin.put_parameter(Name=PARAM, Value=text[:4096], Type="String", Overwrite=True)
            try:
                document = json.loads(text[:4096])
            except ValueError:
                document = None
            allowed = Allowed(document)
            runs = []
            sleeps = RecordingSleep()

            def handler(event: Any, context: Any) -> Any:
                runs.append(1)
                return dict(NORMAL)

            function = inject_fault(
                parameter=PARAM, boto3_client=library, clock=FakeClock(), sleep=sleeps, random=Random(seed)
            )(handler)

            raised: Exception | None = None
            try:
                response = function(event, None)
            except Exception as error:  # the library may raise only a configured exception
                raised = error
            if raised is not None:
                assert allowed.raised_a_configured_exception(raised), repr(raised)
                assert runs == []
                outcomes["exception"] += 1
            else:
                assert len(runs) <= 1
                if response == NORMAL:
                    assert runs == [1]
                    outcomes["normal"] += 1
                else:
                    assert allowed.a_configured_status(response, len(runs)), response
                    outcomes["status"] += 1
            assert len(sleeps.calls) <= allowed.latency_faults
            for seconds in sleeps.calls:
                assert allowed.slept_a_configured_delay(seconds), seconds
                outcomes["latency"] += 1

        check()

    # The generator reaches every kind of outcome, so the property is not vacuously true.
    assert {"normal", "exception", "status", "latency"} <= set(outcomes), outcomes


# --- odd responses ----------------------------------------------------------------------------

# Whatever a handler returns, what chaos-layer does after it (a control group's record, the
# faults that act on the response) raises nothing into the caller but the configured exception.
odd_statuses = st.one_of(
    st.sampled_from(["\u00b2", "\u0665\u0660\u0663", "9" * 5000, " 500", "500 ", "5e2", "-500", "0x1F4", "", "503"]),
    st.text(max_size=6),
    scalars,
    any_json,
)
odd_values = st.one_of(any_json, st.binary(max_size=6), st.tuples(any_json, any_json), st.sets(st.integers()))
odd_responses = st.one_of(
    odd_values,
    st.fixed_dictionaries(
        {"statusCode": odd_statuses},
        optional={
            "body": odd_values,
            "headers": odd_values,
            "multiValueHeaders": odd_values,
            "statusDescription": odd_values,
            "isBase64Encoded": odd_values,
            "batchItemFailures": odd_values | st.lists(st.fixed_dictionaries({"itemIdentifier": odd_values})),
        },
    ),
    st.fixed_dictionaries(
        {"batchItemFailures": st.lists(st.fixed_dictionaries({"itemIdentifier": st.sampled_from(["m1", "m2"])}))}
    ).map(lambda response: {"batchItemFailures": tuple(response["batchItemFailures"])}),
    st.dictionaries(st.tuples(st.integers()), st.integers(), min_size=1, max_size=2),  # keys JSON has no form for
)
SQS_BATCH = {
    "Records": [{"eventSource": "aws:sqs", "messageId": name, "body": "x"} for name in ("m1", "m2", "m3", "m4")]
}
AFTER_HANDLER = [
    {"type": "status_code", "status_code": 503, "prevent_execution": False},
    {"type": "status_code", "status_code": 502, "prevent_execution": False, "headers": {"Retry-After": "1"}},
    {"type": "corrupt", "truncate": 3},
    {"type": "corrupt", "body": "{"},
    {"type": "batch_failure", "fraction": 0.5},
    {"type": "exception", "prevent_execution": False, "message": "after"},
]


def test_nothing_but_the_configured_exception_follows_an_odd_response() -> None:
    outcomes: Counter[str] = Counter()
    with mock_aws():
        admin = boto3.client("ssm", region_name=REGION)
        library = boto3.client("ssm", region_name=REGION)

        @settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            response=odd_responses,
            fault=st.sampled_from(AFTER_HANDLER),
            control_group=st.booleans(),
            event=st.sampled_from([*EVENTS, SQS_BATCH]),
            seed=st.integers(0, 2**16),
        )
        def check(response: Any, fault: dict[str, Any], control_group: bool, event: Any, seed: int) -> None:
            document = {"enabled": True, "control_group": control_group, "rate": 0.5 if control_group else 1}
            admin.put_parameter(
                Name=PARAM, Value=json.dumps({**document, "faults": [fault]}), Type="String", Overwrite=True
            )
            runs = []

            def handler(event: Any, context: Any) -> Any:
                runs.append(1)
                return response

            function = inject_fault(parameter=PARAM, boto3_client=library, clock=FakeClock(), random=Random(seed))(
                handler
            )
            raised: Exception | None = None
            try:
                returned = function(event, None)
            except Exception as error:  # only the configured exception may reach the caller
                raised = error
            if raised is not None:
                assert fault["type"] == "exception", repr(raised)
                assert type(raised).__name__ == "InjectedFault", repr(raised)
                assert raised.args == ("after",)
                outcomes["exception"] += 1
            else:
                outcomes["same" if returned is response else "changed"] += 1
                reported = response.get("batchItemFailures") if isinstance(response, dict) else None
                if fault["type"] == "batch_failure" and isinstance(reported, (list, tuple)):
                    kept = returned["batchItemFailures"]
                    assert all(any(item is mine for item in kept) for mine in reported)
            assert runs == [1]

        check()

    assert {"same", "changed", "exception"} <= set(outcomes), outcomes
