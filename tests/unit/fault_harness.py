"""Shared by the unit tests of the fault types: run one fault around a stand-in handler."""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import Any

import pytest

from chaos_layer.config import parse_config
from chaos_layer.exceptions import ConfigError
from chaos_layer.faults import Fault, Invocation
from tests.conftest import RecordingSleep

OK = {"statusCode": 200, "body": "ok"}


class Handler:
    """Stands in for the rest of the invocation; counts how often it runs."""

    def __init__(self, response: Any = OK) -> None:
        self.response = dict(OK) if response is OK else response
        self.runs = 0

    def __call__(self) -> Any:
        self.runs += 1
        return self.response


def invocation(
    event: Any = None,
    context: Any = None,
    seed: int = 7,
    report: Callable[[Fault], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[Invocation, RecordingSleep]:
    """An invocation of `event`; `report` and `warn` see what the faults log (see
    Invocation), `.effective` lists the faults that took effect."""
    sleep = RecordingSleep()
    call = Invocation(event, context, sleep, Random(seed), report or (lambda fault: None), warn or (lambda text: None))
    return call, sleep


def only_fault(fault: dict[str, Any]) -> Fault:
    return parse_config({"enabled": True, "faults": [fault]}).faults[0]


def problems(fault: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({"enabled": True, "faults": [fault]})
    return [str(p) for p in caught.value.problems]
