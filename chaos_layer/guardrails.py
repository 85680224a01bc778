"""Guardrails: what any config may do in this function, bounded at deploy time by its owner
(docs/blast-radius.md, "Guardrails").

`CHAOS_LAYER_MAX_RATE` / `max_rate=` caps the `rate` a config asks for: that alone counts. A
cohort decides who is in the experiment, never how much of the traffic (members' traffic is
uneven, and a key can be constant across events, which would put every invocation in a 1 %
cohort); each fault's own `rate` only thins further, and a control group is not touched.
`CHAOS_LAYER_FAULTS` / `faults=` lists the fault types allowed. Where both are set, and where
a handler is decorated twice, the stricter applies. A config past them is refused as a config
error is, whichever way `targets` would admit it; the refusal is said (one warning per
period) only where the experiment is active for this function. A variable that cannot be read
refuses every config: a guardrail fails closed (unlike the periods, whose bad values fall back
to defaults), because its owner meant to forbid something and we cannot tell what.

The check runs on each reading (once per period), never per invocation.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chaos_layer.config import Config
from chaos_layer.faults import FAULT_TYPES
from chaos_layer.settings import FAULTS_ENV, MAX_RATE_ENV
from chaos_layer.source import Reading

FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"


@dataclass(frozen=True)
class Guardrails:
    """The bounds in force. `unreadable` names a guardrail that cannot be read: every config is refused."""

    max_rate: float = 1.0
    max_rate_from: str | None = None  # which setting bounds the rate (for the warning)
    faults: frozenset[str] | None = None  # None: every type
    faults_from: str | None = None
    unreadable: str | None = None

    @property
    def bounds(self) -> bool:
        return self.max_rate < 1.0 or self.faults is not None or self.unreadable is not None

    def refusal(self, config: Config) -> str | None:
        """Why this config is refused here, or None. Names the guardrail, never a config value."""
        if self.unreadable is not None:
            return f"{self.unreadable}: every config is refused until it is fixed (a guardrail fails closed)"
        if config.rate > self.max_rate:
            return (
                f"the config asks for a larger rate than the guardrail {self.max_rate_from}"
                f" allows here ({self.max_rate:g}), so it is refused"
            )
        if self.faults is not None and any(fault.type not in self.faults for fault in config.faults):
            return (
                f"the config has a fault type that the guardrail {self.faults_from} does not allow here,"
                " so it is refused"
            )
        return None

    def stricter(self, other: Guardrails) -> Guardrails:
        """The bounds of both: the lower rate, the common fault types, every unreadable one."""
        rate, rate_from = self.max_rate, self.max_rate_from
        if other.max_rate < rate or rate_from is None:
            rate, rate_from = other.max_rate, other.max_rate_from
        types, types_from = self.faults, self.faults_from
        if other.faults is not None:
            types = other.faults if types is None else types & other.faults
            same = types_from in (None, other.faults_from)
            types_from = other.faults_from if same else f"{types_from} with {other.faults_from}"
        unreadable = "; ".join(dict.fromkeys(p for p in (self.unreadable, other.unreadable) if p is not None))
        return Guardrails(rate, rate_from, types, types_from, unreadable or None)


def check_options(max_rate: object = None, faults: object = None) -> tuple[float | None, frozenset[str] | None]:
    """The decorator's guardrail options, checked at decoration: TypeError or ValueError."""
    rate = None
    if max_rate is not None:
        if isinstance(max_rate, bool) or not isinstance(max_rate, (int, float)):
            raise TypeError(f"max_rate must be a number from 0 to 1, not {type(max_rate).__name__}")
        if not 0 <= max_rate <= 1:  # NaN fails this too
            raise ValueError("max_rate must be a number from 0 to 1 (the largest share of invocations)")
        rate = float(max_rate)
    types = None
    if faults is not None:
        if isinstance(faults, str):
            names: Iterable[Any] = faults.split(",")
        elif isinstance(faults, (list, tuple, set, frozenset)):
            names = faults
        else:
            raise TypeError(f"faults must be a list of fault type names, not {type(faults).__name__}")
        if not all(isinstance(name, str) for name in names):
            raise TypeError("faults must be a list of fault type names (strings)")
        types, problem = _fault_types(names)
        if problem is not None:
            raise ValueError(f"faults: {problem}")
    return rate, types


def resolve(max_rate: object = None, faults: object = None) -> Guardrails:
    """The guardrails in force: the variables and the decorator's options, the stricter of each."""
    option_rate, option_faults = check_options(max_rate, faults)
    rate, rate_from = (1.0, None) if option_rate is None else (option_rate, "max_rate=")
    types, types_from = option_faults, None if option_faults is None else "faults="
    unreadable = []
    text = os.environ.get(MAX_RATE_ENV, "").strip()
    if MAX_RATE_ENV in os.environ:
        env_rate = _number(text)
        if env_rate is None:
            unreadable.append(f"{MAX_RATE_ENV} cannot be read (a number from 0 to 1)")
        elif env_rate < rate or rate_from is None:
            rate, rate_from = env_rate, MAX_RATE_ENV
        elif env_rate == rate:
            rate_from = f"{MAX_RATE_ENV} and max_rate="
    if FAULTS_ENV in os.environ:
        env_types, problem = _fault_types(os.environ[FAULTS_ENV].split(","))
        if env_types is None:
            unreadable.append(f"{FAULTS_ENV} cannot be read ({problem})")
        elif types is None:
            types, types_from = env_types, FAULTS_ENV
        else:
            types, types_from = types & env_types, f"{FAULTS_ENV} with faults="
    return Guardrails(rate, rate_from, types, types_from, "; ".join(unreadable) or None)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 <= value <= 1 else None


def _fault_types(names: Iterable[str]) -> tuple[frozenset[str] | None, str | None]:
    chosen = [name.strip() for name in names if name.strip()]
    if not chosen:
        return None, "an empty list allows nothing; leave it unset to allow every fault type"
    unknown = [name for name in chosen if name not in FAULT_TYPES]
    if unknown:
        return None, f"unknown fault type {unknown[0][:40]!r}; the types are {', '.join(FAULT_TYPES)}"
    return frozenset(chosen), None


def _leaves_this_function_out(config: Config) -> bool:
    """Whether the config's targets leave this function out by its name (known only on Lambda;
    aliases are decided per invocation)."""
    targets = config.targets
    name = os.environ.get(FUNCTION_NAME_ENV)
    if targets is None or not name:
        return False
    return not targets.admits_function(name)


class Guarded:
    """A reader whose readings are refused, as a config error is, when they ask for more than
    the guardrails allow. Everything else is the wrapped reader's."""

    def __init__(self, reader: Any, guardrails: Guardrails) -> None:
        self.reader = reader
        self.guardrails = guardrails

    def read(self) -> Reading:
        return self.check(self.reader.read())

    def interpret(self, config: str | None, kill_switch: str | None) -> Reading:
        return self.check(self.reader.interpret(config, kill_switch))

    def check(self, reading: Reading) -> Reading:
        """The reading, or the same without its config when the guardrails refuse it. Every
        config past them is refused, so that no invocation escapes them, however `targets`
        admit it (by the context's function name where the environment has none), whatever
        the clock; the refusal is said only where the experiment would be active here."""
        config = reading.config
        if config is None:
            return reading
        refusal = self.guardrails.refusal(config)
        if refusal is None:
            return reading
        said = config.is_active(time.time()) and not _leaves_this_function_out(config)
        return reading.replace(config=None, problem=refusal if said else reading.problem)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)


def tighten(reader: Any, guardrails: Guardrails) -> Any:
    """`reader` bounded by `guardrails` as well as by whatever bounds it already (a handler
    decorated twice keeps the stricter guardrails of both)."""
    if isinstance(reader, Guarded):
        reader.guardrails = reader.guardrails.stricter(guardrails)
        return reader
    return Guarded(reader, guardrails)
