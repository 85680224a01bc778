"""`inject_fault`: ties the config cache, the blast radius and the faults together."""

from __future__ import annotations

import functools
import inspect
import logging
import random as random_module
import time
from collections.abc import Callable, Iterable
from random import Random
from typing import Any, TypeVar, overload

from chaos_layer import settings
from chaos_layer.blast_radius import in_blast_radius
from chaos_layer.config import Config
from chaos_layer.faults import Fault, Invocation, draw, run
from chaos_layer.guardrails import Guarded, check_options, resolve
from chaos_layer.observability import report_injection
from chaos_layer.source import ClientFactory, ConfigCache, ParameterReader, default_client

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
    max_rate: float | None = None,
    faults: str | Iterable[str] | None = None,
    boto3_client: Any = None,
    random: Random | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Callable[[F], F]: ...


def inject_fault(
    handler: F | None = None,
    *,
    parameter: str | None = None,
    kill_switch: str | None = None,
    max_age: float | None = None,
    max_rate: float | None = None,
    faults: str | Iterable[str] | None = None,
    boto3_client: Any = None,
    random: Random | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> F | Callable[[F], F]:
    """Inject the faults of the experiment configured in SSM into a Lambda handler.

    Works bare (`@inject_fault`) or with keyword options. `boto3_client` (an SSM client),
    `random`, `clock` (seconds since the epoch) and `sleep` are seams for tests.
    `max_rate` and `faults` are guardrails (with CHAOS_LAYER_MAX_RATE and CHAOS_LAYER_FAULTS,
    the stricter applies). Options are checked here, at decoration, set parameter or not.
    """
    _check_location("parameter", parameter)
    _check_location("kill_switch", kill_switch)
    check_options(max_rate, faults)

    def decorate(function: F) -> F:
        _check_handler(function)
        if hasattr(function, "chaos_experiment"):  # decorated already: one experiment, never doubled faults
            logger.warning("chaos-layer: %s is decorated with inject_fault twice; serving it once", _name(function))
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
        factory: ClientFactory = default_client if boto3_client is None else lambda: boto3_client
        reader = ParameterReader(name, settings.resolve_kill_switch(kill_switch), factory)
        guardrails = resolve(max_rate, faults)
        source = Guarded(reader, guardrails) if guardrails.bounds else reader
        experiment = Experiment(
            function,
            ConfigCache(source, settings.resolve_max_age(max_age), clock or time.time, random or Random()),
            random or random_module.Random(),
            sleep or time.sleep,
        )
        handle = experiment.handle

        @functools.wraps(function)
        def wrapper(event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
            return handle(event, context, *args, **kwargs)

        wrapper.chaos_experiment = experiment  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if handler is not None:
        if not callable(handler):  # `@inject_fault("/name")` would otherwise fail at every invocation
            raise TypeError("inject_fault takes keyword options only, e.g. @inject_fault(parameter=...)")
        return decorate(handler)
    return decorate


def _check_location(option: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{option} must be a string (an SSM parameter name or ARN), not {type(value).__name__}")
    if value is not None and not value.strip():
        raise ValueError(f"{option} must not be empty; leave it out to use the environment variable")


def _check_handler(function: object) -> None:
    """A coroutine or generator function would be wrapped only while it creates its coroutine or
    generator: the faults would be undone before its body runs, and some would drop it unrun."""
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise TypeError(
            f"inject_fault cannot wrap {_name(function)}: it is an async function, and faults would surround only"
            " the creation of its coroutine, not its run. Decorate a synchronous handler that runs it"
            " (asyncio.run(...)), as Lambda's Python runtime expects"
        )
    if inspect.isgeneratorfunction(function):
        raise TypeError(
            f"inject_fault cannot wrap {_name(function)}: it is a generator function, and faults would surround only"
            " the creation of the generator, not its run. Decorate a handler that returns a value"
        )


def _name(function: object) -> str:
    return str(getattr(function, "__qualname__", function))


class Experiment:
    """One decorated handler and the cached state of its experiment."""

    def __init__(self, handler: Callable[..., Any], cache: ConfigCache, random: Random, sleep: Callable[[float], None]):
        self.handler = handler
        self.cache = cache
        self.random = random
        self.sleep = sleep

    def handle(self, event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        try:
            selected = self._select(event, context)
        except Exception:  # fail safe: a bug of ours must never cost the handler its run
            logger.warning("chaos-layer is not injecting: unexpected error", exc_info=True)
            selected = None
        if selected is None:
            return self.handler(event, context, *args, **kwargs)
        config, faults = selected
        return self._inject(config, faults, event, context, lambda: self.handler(event, context, *args, **kwargs))

    def _select(self, event: Any, context: Any) -> tuple[Config, list[Fault]] | None:
        cache = self.cache
        now = cache.clock()
        if now >= cache.deadline:
            cache.refresh(now)
        config = cache.active
        if config is None or not in_blast_radius(config, event, context, self.random):
            return None
        faults = draw(config.faults, self.random)
        return (config, faults) if faults else None

    def _inject(
        self, config: Config, faults: list[Fault], event: Any, context: Any, run_handler: Callable[[], Any]
    ) -> Any:
        experiment = config.experiment
        if config.dry_run:  # report what would be injected, then leave the invocation alone
            for fault in faults:
                _report(experiment, fault, context, dry_run=True)
            return run_handler()
        invocation = Invocation(event, context, self.sleep, self.random)
        return run(faults, invocation, run_handler, lambda fault: _report(experiment, fault, context))


def _report(experiment: str, fault: Fault, context: Any, dry_run: bool = False) -> None:
    try:
        report_injection(experiment, fault.settings(), context, dry_run)
    except Exception:
        logger.warning("chaos-layer could not report an injected fault", exc_info=True)
