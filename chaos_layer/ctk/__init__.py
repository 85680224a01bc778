"""Chaos Toolkit actions and probes for chaos-layer, as Python providers:

    {"type": "action", "name": "inject-latency",
     "provider": {"type": "python", "module": "chaos_layer.ctk", "func": "start_experiment",
                  "arguments": {"parameter": "/chaos-layer/checkout",
                                "faults": [{"type": "latency", "delay_ms": 300}],
                                "rate": 0.05, "duration": "15m"}}}

Chaos Toolkit brings steady-state hypotheses, rollbacks and its journal; these functions bring
the faults inside Lambda handlers. Every config is validated with the library's own rules
before it is written (and a `dependency` fault's services and error codes against botocore's),
it needs a `rate` (there is no default: nothing starts at 100 % by accident), and it always
expires (`duration`, 15 minutes unless told), so a run that dies leaves nothing injecting for
long. Put `stop_experiment` in the rollbacks. A refused config fails the activity with every
problem and its location in the message.

AWS settings come from the experiment's `configuration` (`aws_region`, `aws_profile_name`, as
chaostoolkit-aws names them, and `aws_endpoint_url`), else from the usual AWS variables and
files. `chaos_layer_max_age` (else CHAOS_LAYER_MAX_AGE, else 5) is the functions' cache period:
a stop or kill reaches every function within it. Errors are raised, so Chaos Toolkit marks the
activity failed with the message.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

from chaos_layer import control, settings
from chaos_layer.ctk.settings_actions import (
    restore_settings,
    set_event_source_mapping_enabled,
    set_memory,
    set_reserved_concurrency,
    set_timeout,
)
from chaos_layer.exceptions import Problem

__all__ = [
    "engage_kill_switch",
    "get_comparison",
    "get_status",
    "is_injecting",
    "no_breach",
    "release_kill_switch",
    "restore_settings",
    "set_event_source_mapping_enabled",
    "set_memory",
    "set_reserved_concurrency",
    "set_timeout",
    "start_experiment",
    "stop_experiment",
]

Configuration = Mapping[str, Any] | None
P = ParamSpec("P")
R = TypeVar("R")


def _detailed(action: Callable[P, R]) -> Callable[P, R]:
    """Chaos Toolkit shows an exception as its type and `str()`: a refused config's message
    carries every problem with its location, as the CLI lists them."""

    @functools.wraps(action)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return action(*args, **kwargs)
        except control.InvalidConfig as error:
            if not error.problems:
                raise
            listed = "; ".join(str(problem) for problem in error.problems)
            raise control.InvalidConfig(f"{error.template}: {listed}", error.problems) from None

    return run


@_detailed
def start_experiment(
    parameter: str,
    faults: list[dict[str, Any]],
    rate: float,
    experiment: str = "chaostoolkit",
    duration: str = "15m",
    blast_radius: dict[str, Any] | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Write an enabled config with these faults, validated first, injecting into `rate` (0..1,
    required) of the invocations; it expires after `duration` (90s, 15m, 1h30m). `blast_radius`
    may hold dry_run, targets, match, cohort and control_group."""
    if not faults:
        raise control.InvalidConfig(
            "the config has no faults, nothing was written", [Problem("faults", "must list a fault")]
        )
    controller = _controller(parameter, None, configuration)
    expires_at = control.format_instant(controller.clock() + control.parse_duration(duration))
    document = {
        "enabled": True,
        "experiment": experiment,
        "expires_at": expires_at,
        "rate": rate,
        **(blast_radius or {}),
        "faults": faults,
    }
    written = controller.write_config(document)
    return {
        "parameter": written.name,
        "version": written.version,
        "experiment": experiment,
        "rate": rate,
        "expires_at": expires_at,
    }


def stop_experiment(parameter: str, configuration: Configuration = None) -> dict[str, Any]:
    """Disable the config, keeping the rest. Functions stop injecting within one cache period."""
    controller = _controller(parameter, None, configuration)
    written = controller.stop()
    return {
        "parameter": parameter,
        "stopped": written is not None,
        "version": None if written is None else written.version,
        "reaches_every_function_within": controller.max_age,
    }


def engage_kill_switch(kill_switch: str | None = None, configuration: Configuration = None) -> dict[str, Any]:
    """Engage the kill switch: every function using chaos-layer stops injecting."""
    controller = _controller(None, kill_switch, configuration)
    written = controller.kill()
    return {"kill_switch": written.name, "engaged": True, "reaches_every_function_within": controller.max_age}


def release_kill_switch(kill_switch: str | None = None, configuration: Configuration = None) -> dict[str, Any]:
    """Release the kill switch: enabled configs inject again."""
    controller = _controller(None, kill_switch, configuration)
    written = controller.resume()
    return {"kill_switch": written.name, "engaged": False, "reaches_every_function_within": controller.max_age}


def get_status(parameter: str, kill_switch: str | None = None, configuration: Configuration = None) -> dict[str, Any]:
    """What `chaos-layer status --json` prints: config, kill switch, and `injecting`."""
    return dict(_controller(parameter, kill_switch, configuration).status().to_dict())


def is_injecting(parameter: str, kill_switch: str | None = None, configuration: Configuration = None) -> bool:
    """Whether faults are injected right now: a probe for a steady-state tolerance."""
    return bool(_controller(parameter, kill_switch, configuration).status().injecting)


@_detailed
def get_comparison(
    experiment: str,
    compare: str = "errors",
    max_increase: float | None = None,
    statistic: str = "Average",
    max_increase_ms: float | None = None,
    since: str = "15m",
    namespace: str | None = None,
    min_samples: int = 100,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """The treatment group against the control group now (an experiment started with
    `control_group` in its blast radius), from both groups' metrics over the last `since`, as
    `chaos-layer run` reads a `compare` entry: `errors` with `max_increase` (0.01 is one
    point), or `duration` with `statistic` (Average, p50 .. p99.9) and `max_increase_ms`.

    Returns `status` (ok, breach, inconclusive or insufficient), `breached`, both groups'
    counts and rates or statistics, the difference, its bounds and the verdict in words. One
    call is one look: `duration` counts as breached when it is over the allowed increase now
    (`run` waits for two polls in a row). As a steady-state tolerance, use `no_breach`."""
    from chaos_layer.experiment import checks

    entry: dict[str, Any] = {"compare": compare}
    if compare == "errors" and max_increase is not None:
        entry["max_increase"] = max_increase
    if compare == "duration":
        entry["statistic"] = statistic
        if max_increase_ms is not None:
            entry["max_increase_ms"] = max_increase_ms
    problems: list[Problem] = []
    check = checks.PARSERS["compare"](entry, "", problems)
    if problems or not isinstance(check, checks.CompareCheck):
        raise control.InvalidConfig("the comparison is invalid", problems)
    if not isinstance(min_samples, int) or isinstance(min_samples, bool) or min_samples < 1:
        raise control.UsageError("min_samples must be a whole number, 1 or more")
    check = replace(
        check, experiment=experiment, namespace=namespace or settings.DEFAULT_METRICS_NAMESPACE, min_samples=min_samples
    )
    options = configuration or {}
    cloudwatch = checks.cloudwatch_client(
        region=options.get("aws_region"),
        profile=options.get("aws_profile_name"),
        endpoint_url=options.get("aws_endpoint_url"),
    )
    now = time.time()
    started = now - control.parse_duration(since)
    reading = check.read(checks.Context(cloudwatch, now, checks.Phase.DURING, started))
    data = dict(reading.data or {})
    return {
        "check": reading.check,
        "status": reading.status.value,
        "breached": reading.status is checks.Judgement.BREACH or bool(data.get("exceeded")),
        "passed": reading.status.passed,
        "since": control.format_instant(started),
        "description": reading.detail,
        **data,
    }


def no_breach(value: Mapping[str, Any] | None = None) -> bool:
    """A steady-state tolerance for `get_comparison`: true unless the comparison breached
    (`{"type": "probe", ..., "func": "no_breach"}`: Chaos Toolkit passes the probe's value)."""
    return isinstance(value, Mapping) and value.get("breached") is False


def _controller(parameter: str | None, kill_switch: str | None, configuration: Configuration) -> control.Controller:
    options = configuration or {}
    client = control.clients(  # for every source the locations name
        region=options.get("aws_region"),
        profile=options.get("aws_profile_name"),
        endpoint_url=options.get("aws_endpoint_url"),
    )
    kill_switch = settings.resolve_kill_switch(kill_switch)
    max_age = options.get("chaos_layer_max_age", os.environ.get(settings.MAX_AGE_ENV) or settings.DEFAULT_MAX_AGE)
    try:
        seconds = float(max_age)
    except (TypeError, ValueError):
        raise control.UsageError("chaos_layer_max_age must be a number of seconds") from None
    return control.Controller(client, parameter, kill_switch, max_age=seconds)
