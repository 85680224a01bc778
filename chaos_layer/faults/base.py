"""What every fault type is: a `Declared` class (chaos_layer.contract) whose fields are its
config keys, and which wraps the rest of the invocation like a middleware:

    apply(invocation, proceed) -> response

`proceed()` runs the next fault, and the handler after the last one. A fault that ends the
invocation simply does not call it, so the handler runs at most once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from random import Random
from typing import Any, ClassVar

from chaos_layer.contract import Declared, ListOf, Number, Text, field

# Lambda's longest timeout (15 minutes): a longer wait could only overflow.
MAX_WAIT_MS = 900_000
WAIT_MS = Number(0, MAX_WAIT_MS)
RATE = Number(0, 1)
# A durable function's step names (or glob patterns of them), matched with fnmatch: keep them short.
STEP_NAMES = ListOf(
    Text(max_length=256, label="step pattern"),
    non_empty=True,
    empty_hint="leave it out to reach every step, or the invocation",
)


class Invocation:
    """One call of the wrapped handler, with the side effects faults may use."""

    __slots__ = ("context", "event", "random", "sleep")

    def __init__(self, event: Any, context: Any, sleep: Callable[[float], None], random: Random) -> None:
        self.event = event
        self.context = context
        self.sleep = sleep
        self.random = random


class Fault(Declared, ABC):
    """One fault type. Its place in the pipeline (chaos_layer.faults) is one of two:
    `surrounds_handler` (every drawn one runs, outermost first) or `ends_invocation` (at
    most one is drawn, and it runs innermost: it decides how the invocation ends)."""

    type: ClassVar[str]
    ends_invocation: ClassVar[bool] = False
    surrounds_handler: ClassVar[bool] = True
    rate: float = field(RATE, "Fraction (0..1) of the invocations in the blast radius this applies to.", default=1.0)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.surrounds_handler = not cls.ends_invocation
        cls.schema_name = getattr(cls, "type", "")

    @staticmethod
    def steps_field() -> Any:
        """The `steps` key, declared by the fault types a durable function's steps can take."""
        return field(
            STEP_NAMES,
            "Durable functions only: just these steps (step names, globs * ? [] allowed), and nowhere else."
            " See Durable functions.",
            default=(),
            examples=(["charge-*", "reserve"],),
        )

    @abstractmethod
    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        """Inject the fault around `proceed`, which runs the rest of the invocation."""

    def settings(self) -> dict[str, Any]:
        """The fault's configuration, for log records (`steps` only when given)."""
        return {"type": self.type, **{key: value for key, value in self.values().items() if value or key != "steps"}}
