"""The fault types, their registry, and the pipeline that runs them.

Each fault type is one module here, named after it (latency.py, exception.py, ...): a
`Fault` subclass that declares its config keys (chaos_layer.contract) and wraps the rest of
the invocation in `apply`. Heavy mechanics live in `_` modules imported by `apply` only.
To add a fault type, write its module and add its name to the registry below: validation,
the schema, the docs' tables (`make schema`) and `chaos-layer start --fault` come from its
declarations. A type's module is imported the first time a config (or the schema, or the
CLI) names it, so a cold start compiles only the fault types in use.

The pipeline, for one selected invocation:
- order, once per config: the faults that surround the handler, then those that end the
  invocation, each group in config order (`order`);
- draw: every surrounding fault by its own rate, then the ending ones in order until one is
  drawn: only one can decide how the invocation ends, a second would only blend into its
  outcome, such as one status code replacing another's (`draw`);
- run: the drawn faults nest around the handler like middleware, the first outermost, so
  latency comes before, and `corrupt` after, a fault that ends the invocation (`run`). A
  fault is logged and counted only when it takes effect (chaos_layer.faults.base).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from random import Random
from typing import Any

from chaos_layer.contract import INVALID, Fields, Kind, Text, describe, join
from chaos_layer.exceptions import Problem
from chaos_layer.faults.base import Fault as Fault
from chaos_layer.faults.base import Invocation as Invocation
from chaos_layer.faults.base import Watch as Watch


class Registry(Mapping[str, type[Fault]]):
    """Fault type name -> its class, from the module of that name, imported on first use."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names
        self._loaded: dict[str, type[Fault]] = {}

    def __getitem__(self, name: str) -> type[Fault]:
        loaded = self._loaded.get(name)
        if loaded is None:
            if name not in self._names:
                raise KeyError(name)
            # Only a name of the registry is imported, never another string from a config.
            module = importlib.import_module(f"{__name__}.{name}")
            found = (v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Fault))
            loaded = self._loaded[name] = next(v for v in found if getattr(v, "type", None) == name)
        return loaded

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# The registry: every fault type, in the order of the schema, the docs and messages.
FAULT_TYPES = Registry(
    (
        "latency",
        "exception",
        "status_code",
        "timeout",
        "dependency",
        "denylist",
        "diskspace",
        "corrupt",
        "batch_failure",
    )
)

_TYPE = Text(non_empty=True)


def parse_fault(data: object, location: str, problems: list[Problem]) -> Fault | None:
    known = len(problems)
    fields = Fields(data, location, problems)
    kind = fields.read("type", _TYPE)
    fault_type = FAULT_TYPES.get(kind) if isinstance(kind, str) else None
    if fault_type is None:
        if isinstance(kind, str):
            fields.problem("type", f"unknown fault type; expected one of {', '.join(FAULT_TYPES)}")
        return None
    fault = fault_type.read(fields)
    fields.finish()
    return fault if len(problems) == known else None


class FaultList(Kind):
    """The config's `faults`: each one parsed by its type, then put in pipeline order."""

    def read(self, value: Any, location: str, problems: list[Problem]) -> Any:
        if not isinstance(value, list):
            problems.append(Problem(location, f"must be an array, not {describe(value)}"))
            return INVALID
        known = len(problems)
        faults = [parse_fault(item, join(location, index), problems) for index, item in enumerate(value)]
        return INVALID if len(problems) > known else order(fault for fault in faults if fault is not None)


FAULTS = FaultList()


# --- the pipeline ---------------------------------------------------------------------------


def order(faults: Iterable[Fault]) -> tuple[Fault, ...]:
    """The faults that surround the handler, then those that end the invocation, each
    group in config order."""
    listed = list(faults)
    return (*(f for f in listed if f.surrounds_handler), *(f for f in listed if not f.surrounds_handler))


def draw(faults: Sequence[Fault], random: Random, in_step: bool = False) -> list[Fault]:
    """Every drawn fault that surrounds the handler, then at most one that ends the
    invocation: the first one drawn (`faults` in pipeline order). A fault with `steps` is
    drawn only `in_step`, a durable function's (chaos_layer.durable)."""
    drawn: list[Fault] = []
    ended = False
    for fault in faults:
        if ended and fault.ends_invocation:
            break
        if not in_step and getattr(fault, "steps", None):
            continue
        if fault.rate >= 1 or random.random() < fault.rate:
            drawn.append(fault)
            ended = fault.ends_invocation
    return drawn


def run(faults: Sequence[Fault], invocation: Invocation, handler: Callable[[], Any]) -> Any:
    """The handler with the drawn faults around it, the first outermost. A fault that cannot
    apply to the event (`skipped_for`) is passed over; each other one reports itself through
    `invocation.took_effect` when, and only if, it takes effect."""

    def proceed(index: int) -> Any:
        if index == len(faults):
            return handler()
        fault = faults[index]
        skipped = fault.skipped_for(invocation.event)
        if skipped is not None:  # nothing to do for this event: said once per period, not injected
            invocation.skipped(skipped)
            return proceed(index + 1)
        return fault.apply(invocation, lambda: proceed(index + 1))

    return proceed(0)
