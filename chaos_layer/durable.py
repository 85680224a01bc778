"""Durable functions (the AWS Durable Execution SDK's `@durable_execution`): the faults an
execution that replays can take.

A durable execution runs its handler from the top on every invocation and replays finished
operations from their checkpoints; the SDK fails the execution when a replay takes another
path than the first run did. So, for a durable execution:

- the blast radius is decided per execution: `rate` by a hash of the experiment and the
  execution's ARN, `targets`, `match` and `cohort` on the execution's input and the Lambda
  context (never the service's envelope), the same on every invocation of it;
- faults on the invocation (`latency`, `exception` with `prevent_execution`, `timeout`,
  `diskspace`) apply only while the execution has checkpointed nothing, drawn afresh on each
  such attempt; a disk fill ends when the handler starts its first operation;
- faults on calls (`dependency`, `denylist`), and `exception` and `latency` with `steps`,
  apply inside step attempts only: the step function is wrapped, each attempt drawn on its
  own, against the current reading (a kill switch or a stop reaches the steps of an
  invocation under way), from a hash of the experiment, ARN, operation id and attempt, and
  the patches reach only the calls that attempt makes (never the SDK's checkpoints, nor code
  beside it);
- `status_code`, `corrupt` and `batch_failure` are never applied (the service would reject
  the output), and the SDK's suspension (a BaseException) passes through untouched.

So orchestration code (the handler outside steps) gets no fault once anything is
checkpointed, and a replay takes the path the first run took, whatever the config says.

Two modes. Inside (`@inject_fault` below `@durable_execution`), the handler gets the
DurableContext, whose `step` and `create_child_context` are wrapped on the instance.
Outside (above it, or zero-code mode), the event is the service's envelope and the SDK
builds the context itself: while such an invocation runs, the SDK's factory of root contexts
is patched, so the context it builds on the calling thread gets the same wrapping.

The SDK is never imported here: a durable execution is recognised by the envelope's keys or
by the SDK's classes, looked up only when the SDK is already loaded.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from fnmatch import fnmatchcase
from random import Random
from typing import TYPE_CHECKING, Any, Protocol

from chaos_layer import _patches
from chaos_layer.config import Config
from chaos_layer.faults import Fault, Invocation, Watch, draw, run
from chaos_layer.faults.base import IN_STEPS, ON_INVOCATION
from chaos_layer.observability import report_safely
from chaos_layer.once import unexpected

SDK = "aws_durable_execution_sdk_python"
_CONTEXT_MODULE = f"{SDK}.context"
_EXECUTION_MODULE = f"{SDK}.execution"
# What the SDK needs of the service's envelope (a dict on Lambda).
ENVELOPE_KEYS = ("DurableExecutionArn", "CheckpointToken")
EXECUTION = "EXECUTION"

# The DurableContext's operations besides `step`: the first one started ends a disk fill.
OPERATIONS = (
    "wait",
    "invoke",
    "map",
    "parallel",
    "run_in_child_context",
    "create_callback",
    "wait_for_callback",
    "wait_for_condition",
)
_UNSEEN: Any = object()  # an input the envelope's first page does not carry


if TYPE_CHECKING:  # what this module needs of the decorator, for the type checker only

    class _Cache(Protocol):
        """The decorator's config cache, read as its hot path reads it."""

        @property
        def clock(self) -> Callable[[], float]: ...

        @property
        def deadline(self) -> float: ...

        @property
        def active(self) -> Config | None: ...

        def refresh(self, now: float) -> None: ...

        def current(self) -> Config | None: ...

        def current_until(self) -> float: ...

    class Host(Protocol):
        """What this module needs of the decorator's Experiment."""

        @property
        def handler(self) -> Callable[..., Any]: ...

        @property
        def cache(self) -> _Cache: ...

        @property
        def random(self) -> Random: ...

        @property
        def sleep(self) -> Callable[[float], None]: ...

        def warn(self, problem: str) -> None: ...


def detect(event: Any, context: Any) -> bool:
    """Whether an invocation belongs to a durable execution: the service's envelope as the
    event (outside), or a DurableContext as the context (inside). Any other invocation pays
    a lookup or two."""
    if isinstance(event, dict):
        if ENVELOPE_KEYS[0] in event and ENVELOPE_KEYS[1] in event:
            return True
    elif _is_loaded(event, _EXECUTION_MODULE, "DurableExecutionInvocationInput"):  # the SDK's local test runner's
        return True
    return _durable_context(context)


def _durable_context(context: Any) -> bool:
    return _is_loaded(context, _CONTEXT_MODULE, "DurableContext")


def _is_loaded(value: Any, module_name: str, class_name: str) -> bool:
    """Whether `value` is an instance of the SDK's class, if the SDK is loaded at all."""
    module = sys.modules.get(module_name)
    if module is None:
        return False
    cls = getattr(module, class_name, None)
    return isinstance(cls, type) and isinstance(value, cls)


def handle(host: Host, event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
    """One invocation of a durable execution (`detect` said so), with the faults it may take."""
    try:
        plan = _plan(host, event, context)
    except Exception as error:  # fail safe: a bug of ours must never cost the handler its run
        host.warn(f"not injecting: {unexpected(error)}")
        plan = None
    if plan is None:
        return host.handler(event, context, *args, **kwargs)
    return plan.run(lambda: host.handler(event, context, *args, **kwargs))


# --- the execution -------------------------------------------------------------------------


class Execution:
    """What one invocation tells of its execution."""

    __slots__ = ("arn", "checkpointed", "context", "input", "lambda_context")

    def __init__(self, arn: str, user_input: Any, checkpointed: bool, lambda_context: Any, context: Any) -> None:
        self.arn = arn
        self.input = user_input
        self.checkpointed = checkpointed
        self.lambda_context = lambda_context
        self.context = context  # the DurableContext inside; None outside


def inside(user_input: Any, context: Any) -> Execution:
    """The handler below `@durable_execution`: its input, and the DurableContext."""
    arn = context.execution_context.durable_execution_arn
    # At the handler's entry the SDK says "replaying" exactly when an operation is checkpointed.
    return Execution(str(arn), user_input, bool(context.is_replaying()), context.lambda_context, context)


def outside(event: Any, lambda_context: Any) -> Execution | None:
    """The service's envelope: a dict on Lambda, the SDK's own input object in its local
    test runner. None when it is neither."""
    if isinstance(event, dict):
        arn = event.get(ENVELOPE_KEYS[0])
        state = event.get("InitialExecutionState")
        state = state if isinstance(state, dict) else {}
        marker = state.get("NextMarker")
        listed = state.get("Operations")
        operations = [
            (op.get("Type"), (op.get("ExecutionDetails") or {}).get("InputPayload"))
            for op in (listed if isinstance(listed, list) else [])
            if isinstance(op, dict)
        ]
    else:
        arn = getattr(event, "durable_execution_arn", None)
        state = getattr(event, "initial_execution_state", None)
        marker = getattr(state, "next_marker", None)
        operations = [
            (
                getattr(getattr(op, "operation_type", None), "value", None),
                getattr(getattr(op, "execution_details", None), "input_payload", None),
            )
            for op in getattr(state, "operations", None) or ()
        ]
    if not isinstance(arn, str):
        return None
    # A further page (NextMarker) holds operations the first one did not: count them as checkpointed.
    checkpointed = bool(marker) or any(kind != EXECUTION for kind, _ in operations)
    payloads = [payload for kind, payload in operations if kind == EXECUTION]
    return Execution(arn, _parse_input(payloads[0]) if payloads else _UNSEEN, checkpointed, lambda_context, None)


def _parse_input(payload: Any) -> Any:
    """The input as the SDK hands it to the handler: JSON, `{}` when empty."""
    if payload is None or (isinstance(payload, str) and not payload.strip()):
        return {}
    if not isinstance(payload, str):
        return _UNSEEN
    try:
        return json.loads(payload)
    except ValueError:  # the SDK fails such an execution itself
        return _UNSEEN


def unit(*parts: str) -> float:
    """A number in [0, 1) that depends on `parts` alone: the same in every process."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def admits(config: Config, execution: Execution) -> bool:
    """Whether the execution is in the blast radius: the same answer on each of its invocations."""
    if execution.input is _UNSEEN:
        return False
    if config.rate < 1 and unit(config.experiment, execution.arn) >= config.rate:
        return False
    return all(check(execution.input, execution.lambda_context) for check in config.treatment_checks)


def split(faults: Sequence[Fault]) -> tuple[tuple[Fault, ...], tuple[Fault, ...]]:
    """The faults on the invocation and those in steps, each in pipeline order, as each fault
    type says (Fault.durable_place); the others (status_code, corrupt, batch_failure, an
    exception that lets the handler run) never apply."""
    on_invocation: list[Fault] = []
    in_steps: list[Fault] = []
    for fault in faults:
        place = fault.durable_place()
        if place == IN_STEPS:
            in_steps.append(fault)
        elif place == ON_INVOCATION:
            on_invocation.append(fault)
    return tuple(on_invocation), tuple(in_steps)


def reaches(fault: Fault, step_name: str | None) -> bool:
    """Whether a step fault reaches a step: every step without `steps`, else those it names."""
    patterns: tuple[str, ...] = getattr(fault, "steps", ())
    if not patterns:
        return True
    return step_name is not None and any(fnmatchcase(step_name, pattern) for pattern in patterns)


def _plan(host: Host, event: Any, context: Any) -> Plan | None:
    cache = host.cache
    now = cache.clock()
    if now >= cache.deadline:
        cache.refresh(now)
    config = cache.active
    if config is None:
        return None
    execution = inside(event, context) if _durable_context(context) else outside(event, context)
    if execution is None or not admits(config, execution):
        return None
    on_invocation, in_steps = split(config.faults)
    drawn = [] if execution.checkpointed else draw(on_invocation, host.random)
    if not drawn and not in_steps:
        return None
    return Plan(config, execution, drawn, in_steps, host.sleep, host.random, host.warn, cache)


# --- one invocation ------------------------------------------------------------------------

# Outside: the plan of the invocation the calling thread is running, for the SDK's factory.
_CLAIMING: ContextVar[Plan | None] = ContextVar("chaos_layer_durable_plan", default=None)


class Plan:
    """The faults of one invocation of a durable execution, and the hooks that apply them."""

    def __init__(
        self,
        config: Config,
        execution: Execution,
        drawn: list[Fault],
        in_steps: tuple[Fault, ...],
        sleep: Callable[[float], None],
        random: Random,
        warn: Callable[[str], None],
        cache: _Cache,
    ) -> None:
        self.config = config
        self.cache = cache
        self.warn = warn
        self.execution = execution
        self.drawn = drawn
        self.in_steps = in_steps
        self.sleep = sleep
        self.random = random
        self.attached = False
        self._lock = threading.Lock()
        self._until_first_operation: contextlib.ExitStack | None = None

    def run(self, call: Callable[[], Any]) -> Any:
        with contextlib.ExitStack() as stack:
            stack.callback(self._release)
            pipeline = self._prepare(stack)
            if self.config.dry_run:
                for fault in pipeline:
                    self._report(fault)
                return call()
            invocation = Invocation(
                self.execution.input,
                self.execution.lambda_context,
                self.sleep,
                self.random,
                self._report,
                self.warn,
                Watch(self.cache),
            )
            return run(pipeline, invocation, call)

    def _prepare(self, stack: contextlib.ExitStack) -> list[Fault]:
        """Fill the disk and wire the step hooks; returns the faults left to run around the
        handler. A failure here costs the experiment, never the handler."""
        pipeline = [fault for fault in self.drawn if fault.type != "diskspace"]
        try:
            for fault in self.drawn:
                if fault.type == "diskspace":
                    if self.config.dry_run:
                        self._report(fault)
                    else:
                        self._hold(fault)
            if self.in_steps or self._until_first_operation is not None:
                if self.execution.context is not None:
                    self.attach(self.execution.context)
                else:
                    stack.enter_context(_claiming(self))
        except Exception as error:
            self.warn(f"not injecting into steps: {unexpected(error)}")
        return pipeline

    # A disk fill lasts until the handler starts its first operation, which may checkpoint.

    def _hold(self, fault: Fault) -> None:
        from chaos_layer.faults import _disk

        stack = contextlib.ExitStack()
        taken = stack.enter_context(_disk.filled(fault.path, fault.mb, fault.min_free_mb, self.warn))  # type: ignore[attr-defined]
        if taken:  # only a fill that took space is reported
            self._report(fault)
        self._until_first_operation = stack

    def _release(self) -> None:
        with self._lock:
            stack, self._until_first_operation = self._until_first_operation, None
        if stack is not None:
            stack.close()

    # The DurableContext's wrapping, on the instance: nothing is left on the SDK's classes.

    def attach(self, context: Any) -> None:
        """Wrap the root context's operations (outside: as the SDK builds it)."""
        self.attached = True
        self._wrap(context, root=True)

    def _wrap(self, context: Any, root: bool) -> None:
        plan = self
        real_step = context.step

        def step(func: Callable[..., Any], name: str | None = None, config: Any = None) -> Any:
            plan._release()
            step_name = name or getattr(func, "_original_name", None)  # the SDK's own rule
            try:
                wrapped = plan.wrap_step(func, step_name)
            except Exception as error:
                plan.warn(f"not injecting into a step: {unexpected(error)}")
                wrapped = func
            return real_step(wrapped, step_name, config)

        context.step = step
        if self.in_steps:
            real_child = context.create_child_context

            def create_child_context(*args: Any, **kwargs: Any) -> Any:
                child = real_child(*args, **kwargs)
                try:
                    plan._wrap(child, root=False)
                except Exception as error:
                    plan.warn(f"not injecting into steps: {unexpected(error)}")
                return child

            context.create_child_context = create_child_context
        if root and self._until_first_operation is not None:
            for name in OPERATIONS:
                operation = getattr(context, name, None)
                if callable(operation):
                    setattr(context, name, self._releasing(operation))

    def _releasing(self, operation: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(operation)
        def started(*args: Any, **kwargs: Any) -> Any:
            self._release()
            return operation(*args, **kwargs)

        return started

    def wrap_step(self, func: Callable[..., Any], step_name: str | None) -> Callable[..., Any]:
        """The step function, with the step faults that reach it drawn on each attempt."""
        faults = [fault for fault in self.in_steps if reaches(fault, step_name)]
        if not faults:
            return func
        plan = self

        @functools.wraps(func)
        def attempt(step_context: Any, *args: Any, **kwargs: Any) -> Any:
            drawn: list[Fault] = []
            config: Config | None = None
            try:
                config = plan._current()
                if config is not None:
                    reaching = faults if config is plan.config else plan._reaching(config, step_name)
                    random = plan._attempt_random(step_context, config)
                    drawn = draw(reaching, random, in_step=True)
            except Exception as error:
                plan.warn(f"not injecting: {unexpected(error)}")
                drawn = []
            if not drawn or config is None:
                return func(step_context, *args, **kwargs)
            report: Callable[[Fault], None] = functools.partial(plan._report, config=config)
            if config.dry_run:
                for fault in drawn:
                    report(fault)
                return func(step_context, *args, **kwargs)
            invocation = Invocation(
                plan.execution.input,
                plan.execution.lambda_context,
                plan.sleep,
                random,
                report,
                plan.warn,
                Watch(plan.cache),
            )
            with _patches.scoped():  # the patches reach this attempt's calls, nothing beside it
                return run(drawn, invocation, lambda: func(step_context, *args, **kwargs))

        return attempt

    def _current(self) -> Config | None:
        """The config a step attempt draws from: the current reading, not the one this
        invocation started with, so that a kill switch or a stop reaches its later steps."""
        config = self.cache.current()
        if config is None or config is self.config:
            return config
        return config if admits(config, self.execution) else None

    def _reaching(self, config: Config, step_name: str | None) -> list[Fault]:
        """The step faults of a config read since the invocation started that reach a step."""
        return [fault for fault in split(config.faults)[1] if reaches(fault, step_name)]

    def _attempt_random(self, step_context: Any, config: Config | None = None) -> Random:
        """Draws of one step attempt, the same whenever that attempt runs (an interrupted
        attempt runs again under its number): keyed by experiment, execution, operation id
        (step names repeat in loops, operation ids do not) and attempt."""
        extra = getattr(getattr(step_context, "logger", None), "_default_extra", None)
        operation = extra.get("operationId") if isinstance(extra, dict) else None
        attempt = getattr(step_context, "attempt", None)
        if not isinstance(operation, str) or not isinstance(attempt, int):
            return self.random
        experiment = (config or self.config).experiment
        key = "\x00".join((experiment, self.execution.arn, operation, str(attempt)))
        return Random(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest())

    def _report(self, fault: Fault, config: Config | None = None) -> None:
        config = config or self.config
        report_safely(config.experiment, fault.settings(), self.execution.lambda_context, config.dry_run)


# --- outside: the SDK builds the context ---------------------------------------------------


def _factory_targets() -> list[_patches.Target]:
    module = sys.modules.get(_CONTEXT_MODULE)  # loaded by the handler's @durable_execution, if any
    return [] if module is None else [(module.DurableContext, "from_lambda_context", _claim_root)]


def _claim_root(original: Callable[..., Any]) -> Any:
    def from_lambda_context(*args: Any, **kwargs: Any) -> Any:
        context = original(*args, **kwargs)
        plan = _CLAIMING.get()
        if plan is not None and not plan.attached:
            try:
                if context.execution_context.durable_execution_arn == plan.execution.arn:
                    plan.attach(context)
            except Exception as error:
                plan.warn(f"not injecting into steps: {unexpected(error)}")
        return context

    return staticmethod(from_lambda_context)


_FACTORY: _patches.Patches[Plan] = _patches.Patches(_factory_targets)


@contextlib.contextmanager
def _claiming(plan: Plan) -> Iterator[None]:
    """While the SDK runs on this thread, the root context it builds gets the plan's wrapping."""
    with _FACTORY.applied(plan):
        token = _CLAIMING.set(plan)
        try:
            yield
        finally:
            _CLAIMING.reset(token)
