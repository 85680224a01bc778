"""Each fault type says itself where durable functions apply it: a type that does not say is
refused when its class is made, and the durable rules follow what a type says, so a new type
cannot silently never apply in durable functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chaos_layer import durable
from chaos_layer.faults import FAULT_TYPES
from chaos_layer.faults.base import DURABLE_PLACES, IN_STEPS, ON_INVOCATION, Fault, Invocation


def test_a_fault_type_that_does_not_say_where_durable_functions_apply_it_is_refused() -> None:
    with pytest.raises(TypeError, match="durable"):

        class Forgotten(Fault):
            type = "forgotten"

            def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
                return proceed()


def test_every_registered_fault_type_says_it() -> None:
    for name in FAULT_TYPES:
        assert FAULT_TYPES[name].durable in DURABLE_PLACES, name


def test_a_new_fault_type_applies_in_durable_functions_where_it_says() -> None:
    class AtTheStart(Fault):
        type = "at_the_start"
        durable = ON_INVOCATION

        def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
            return proceed()

    class InEachStep(Fault):
        type = "in_each_step"
        durable = IN_STEPS

        def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
            return proceed()

    start, step = AtTheStart(), InEachStep()
    assert durable.split([step, start]) == ((start,), (step,))
