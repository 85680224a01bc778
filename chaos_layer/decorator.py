"""`inject_fault`: ties the config cache, the blast radius and the faults together.

Loading on demand (docs/benchmarks.md, "Cold start"): importing this module, and decorating a handler, load only the
settings and the config cache. Parsing loads at the first read, and what an active
experiment needs (the blast radius, the pipeline, durable executions, control groups, each
fault's mechanics, observability) when a reading first turns active, before any draw: never
inside a fault, and never in a function whose experiment is off.

The hot path, while no invocation can be selected (nothing active, or `rate: 0`), is one
monotonic clock read and a comparison in the wrapper, then the handler.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from chaos_layer import settings

if TYPE_CHECKING:
    from random import Random

    from chaos_layer.config import Config
    from chaos_layer.control_group import Selection
    from chaos_layer.faults import Fault
    from chaos_layer.source import ConfigCache, ConfigReader
    from chaos_layer.source.shared import SharedFile

# What an active experiment needs, bound by `prepare` (never read before it has run).
if TYPE_CHECKING:
    from chaos_layer import blast_radius as _blast_radius
    from chaos_layer import durable as _durable
    from chaos_layer import faults as _faults
else:
    _blast_radius = _durable = _faults = None

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


@overload
def inject_fault(handler: F) -> F: ...


@overload
def inject_fault(
    handler: None = None,
    *,
    parameter: str | None = None,
    kill_switch: str | None = None,
    max_age: float | None = None,
    idle_max_age: float | None = None,
    max_rate: float | None = None,
    faults: str | Iterable[str] | None = None,
    boto3_client: Any = None,
    random: Random | None = None,
    clock: Callable[[], float] | None = None,
    monotonic: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Callable[[F], F]: ...


def inject_fault(
    handler: F | None = None,
    *,
    parameter: str | None = None,
    kill_switch: str | None = None,
    max_age: float | None = None,
    idle_max_age: float | None = None,
    max_rate: float | None = None,
    faults: str | Iterable[str] | None = None,
    boto3_client: Any = None,
    random: Random | None = None,
    clock: Callable[[], float] | None = None,
    monotonic: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> F | Callable[[F], F]:
    """Inject the faults of the experiment configured in SSM into a Lambda handler.

    Works bare (`@inject_fault`) or with keyword options. `boto3_client` (an SSM client),
    `random`, `clock` (seconds since the epoch, for `expires_at`), `monotonic` (the cache
    periods' clock; `clock` when only that is given) and `sleep` are seams for tests.
    `max_rate` and `faults` are guardrails (with CHAOS_LAYER_MAX_RATE and CHAOS_LAYER_FAULTS,
    the stricter applies). Options are checked here, at decoration, set parameter or not.
    """
    settings.check_periods(max_age, idle_max_age)
    _check_location("parameter", parameter)
    _check_location("kill_switch", kill_switch)
    guarded = (
        max_rate is not None
        or faults is not None
        or settings.MAX_RATE_ENV in os.environ
        or settings.FAULTS_ENV in os.environ
    )
    if max_rate is not None or faults is not None:
        from chaos_layer.guardrails import check_options  # the fault types' names: only with guardrails

        check_options(max_rate, faults)

    def decorate(function: F) -> F:
        _check_handler(function)
        inner = getattr(function, "chaos_experiment", None)
        if isinstance(inner, Experiment):  # decorated already: one experiment, never doubled faults
            logger.warning("chaos-layer: %s is decorated with inject_fault twice; serving it once", _name(function))
            if guarded:  # with the stricter guardrails of both
                from chaos_layer.guardrails import resolve, tighten

                inner.cache.reader = tighten(inner.cache.reader, resolve(max_rate, faults))
                inner.cache.after_clone()  # a reading taken already is checked again
            return function
        if settings.is_disabled():
            return function
        name = settings.resolve_parameter(parameter)
        if name is None:
            logger.warning(
                "chaos-layer is not injecting into %s: set %s or pass parameter=",
                _name(function),
                settings.PARAM_ENV,
            )
            return function
        import random as random_module

        from chaos_layer import _sweep
        from chaos_layer.source import ClientFactory, ConfigCache, ConfigReader, default_client
        from chaos_layer.source.cache import Reads

        _sweep.sweep()  # cold start: what a killed process of an earlier version left in /tmp
        factory: ClientFactory = default_client if boto3_client is None else lambda: boto3_client
        reader = ConfigReader(name, settings.resolve_kill_switch(kill_switch), factory)
        source: Reads = reader
        if guarded:
            from chaos_layer.guardrails import Guarded, resolve

            guardrails = resolve(max_rate, faults)
            source = Guarded(reader, guardrails) if guardrails.bounds else reader
        active_period, idle_period = settings.resolve_periods(max_age, idle_max_age)
        cache = ConfigCache(
            source,
            active_period,
            idle_period,
            clock=monotonic or clock or time.monotonic,
            wall_clock=clock or time.time,
            random=random,
            shared=_shared_file(reader) if settings.shares_processes() else None,
        )
        experiment = Experiment(function, cache, random or random_module.Random(), sleep or time.sleep, random is None)
        handle_at = experiment.handle_at

        @functools.wraps(function)
        def wrapper(event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
            now = cache.clock()
            if now < cache.quiet_until:  # fresh, and selects nothing: the handler alone
                return function(event, context, *args, **kwargs)
            return handle_at(now, event, context, *args, **kwargs)

        wrapper.chaos_experiment = experiment  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if handler is not None:
        if not callable(handler):  # `@inject_fault("/name")` would otherwise fail at every invocation
            raise TypeError("inject_fault takes keyword options only, e.g. @inject_fault(parameter=...)")
        return decorate(handler)
    return decorate


def _shared_file(reader: ConfigReader) -> SharedFile:
    from chaos_layer.source.shared import SharedFile  # only Lambda Managed Instances need it

    return SharedFile(reader.config_location, reader.kill_switch)


def _check_location(option: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{option} must be a string (an SSM parameter name or ARN), not {type(value).__name__}")
    if value is not None and not value.strip():
        raise ValueError(f"{option} must not be empty; leave it out to use the environment variable")
    if value is not None and "://" in value:  # else it would warn at every read, never inject
        from chaos_layer.source import location_problem

        if problem := location_problem(value):
            raise ValueError(f"{option}: {problem}")


# Code flags (the `inspect` module's CO_* values), read directly: importing inspect would cost a
# new environment's init several milliseconds of CPU for these three tests.
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


def _check_handler(function: object) -> None:
    """A coroutine or generator function would be wrapped only while it creates its coroutine or
    generator: the faults would be undone before its body runs, and some would drop it unrun."""
    while isinstance(function, functools.partial):  # as inspect's is*function() see through them
        function = function.func
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    flags = code.co_flags if isinstance(code, type(_check_handler.__code__)) else 0
    if flags & (_CO_COROUTINE | _CO_ASYNC_GENERATOR):
        raise TypeError(
            f"inject_fault cannot wrap {_name(function)}: it is an async function, and faults would surround only"
            " the creation of its coroutine, not its run. Decorate a synchronous handler that runs it"
            " (asyncio.run(...)), as Lambda's Python runtime expects"
        )
    if flags & _CO_GENERATOR:
        raise TypeError(
            f"inject_fault cannot wrap {_name(function)}: it is a generator function, and faults would surround only"
            " the creation of the generator, not its run. Decorate a handler that returns a value"
        )


def _name(function: object) -> str:
    return str(getattr(function, "__qualname__", function))


class Experiment:
    """One decorated handler and the cached state of its experiment."""

    def __init__(
        self,
        handler: Callable[..., Any],
        cache: ConfigCache,
        random: Random,
        sleep: Callable[[float], None],
        own_random: bool = False,
    ):
        from chaos_layer import _clones

        self.handler = handler
        self.cache = cache
        self.random = random
        self.sleep = sleep
        self._own_random = own_random
        self._prepared: Config | None = None  # the last active config whose needs are loaded
        _clones.track(self)

    def after_clone(self) -> None:
        """A restored or forked copy draws its own numbers and reads afresh."""
        if self._own_random:
            self.random.seed()
        self.cache.after_clone()

    def handle(self, event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self.handle_at(self.cache.clock(), event, context, *args, **kwargs)

    def handle_at(self, now: float, event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        """One invocation, `now` on the cache's clock (the wrapper has just read it). The
        config is refreshed when its period is up, and what it needs is loaded the first time
        it is seen (docs/benchmarks.md, "Cold start"), before any draw."""
        cache = self.cache
        try:
            if now >= cache.deadline:
                cache.refresh(now)
            config = cache.active
            if config is not None and config is not self._prepared:
                try:  # marked only once loaded, so that an invocation beside it never runs on unloaded modules
                    prepare(config)
                finally:  # once per config, even when loading fails (one warning, then on without it)
                    self._prepared = config
        except Exception as error:  # fail safe: a bug of ours must never cost the handler its run
            self.unexpected(error)
            config = None
        if config is None:
            return self.handler(event, context, *args, **kwargs)
        if _durable.detect(event, context):  # its replays take faults by other rules
            return _durable.handle(self, event, context, *args, **kwargs)
        try:
            selected = (
                self._select(config, event, context)
                if _blast_radius.in_blast_radius(config, event, context, self.random)
                else None
            )
        except Exception as error:
            self.unexpected(error)
            selected = None
        if selected is None:
            return self.handler(event, context, *args, **kwargs)
        config, faults, group = selected
        run_handler = lambda: self.handler(event, context, *args, **kwargs)  # noqa: E731
        if group is not None:  # a control-group invocation: measured, and only the treatment injected
            from chaos_layer import control_group

            return control_group.measure(
                selected, event, context, run_handler, self._inject, cache.clock, self.sleep, cache.wall_clock
            )
        return self._inject(config, faults, event, context, run_handler)

    def _select(self, config: Config, event: Any, context: Any) -> Selection | None:
        """The group and the faults of an invocation the blast radius has admitted."""
        if config.control_group:
            from chaos_layer import control_group

            return control_group.select(config, event, context, self.random)
        faults = _faults.draw(config.faults, self.random)
        return (config, faults, None) if faults else None

    def _inject(
        self,
        config: Config,
        faults: list[Fault],
        event: Any,
        context: Any,
        run_handler: Callable[[], Any],
        sleep: Callable[[float], None] | None = None,
    ) -> Any:
        experiment = config.experiment
        if config.dry_run:  # report what would be injected, then leave the invocation alone
            for fault in faults:
                skipped = fault.skipped_for(event)
                if skipped is None:
                    _report(experiment, fault, context, dry_run=True)
                else:
                    self.warn(skipped)
            return run_handler()
        report: Callable[[Fault], None] = lambda fault: _report(experiment, fault, context)  # noqa: E731
        watch = _faults.Watch(self.cache)  # a kill or a stop ends the faults under way
        invocation = _faults.Invocation(event, context, sleep or self.sleep, self.random, report, self.warn, watch)
        return _faults.run(faults, invocation, run_handler)

    def unexpected(self, error: Exception) -> None:
        """A bug of ours, once per period: what it was and where, never a traceback that
        could show a config's values, and never once per invocation."""
        from chaos_layer.once import unexpected

        self.warn(f"not injecting: {unexpected(error)}")

    def warn(self, problem: str) -> None:
        """A fault's problem, once per period (the cache's warning memory)."""
        from chaos_layer.source.cache import MIN_WARNING_WINDOW

        cache = self.cache
        now = cache.clock()
        if cache.warnings.due(problem, now, max(cache.max_age, MIN_WARNING_WINDOW)):
            logger.warning("chaos-layer: %s", problem)


def prepare(config: Config) -> None:
    """Load what an active config needs: the blast radius, the pipeline, durable executions,
    observability, control groups if it has them, and each fault's mechanics. Called when a
    reading first turns active, before any draw, so no fault pays for an import."""
    global _blast_radius, _durable, _faults
    from chaos_layer import blast_radius as _blast_radius
    from chaos_layer import durable as _durable
    from chaos_layer import faults as _faults
    from chaos_layer import observability  # noqa: F401 - its first record must not import it

    if config.control_group:
        from chaos_layer import control_group  # noqa: F401
    for fault in config.faults:
        fault.prepare()


def _report(experiment: str, fault: Fault, context: Any, dry_run: bool = False) -> None:
    from chaos_layer.observability import report_safely

    report_safely(experiment, fault.settings(), context, dry_run)
