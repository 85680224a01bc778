"""The longest an invocation of the experiment's functions may run: their timeout, read with
Lambda's GetFunctionConfiguration for each function `targets` names. An `errors` comparison
counts an invocation that never completed as a failure only once it can no longer be running.
Where a timeout cannot be known (no `targets`, a pattern, a refused read), Lambda's maximum
(900 s) stands in: counting later never makes an in-flight invocation a false failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos_layer.experiment.observations import DEFAULT_FUNCTION_TIMEOUT
from chaos_layer.source.base import error_code

_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class Timeout:
    seconds: float
    said: str  # how it was found, for the journal


def function_timeout(functions: Any, blast_radius: Mapping[str, Any]) -> Timeout:
    """The largest timeout of the functions `targets` names; Lambda's maximum where one is not known."""
    default = f"Lambda's maximum, {DEFAULT_FUNCTION_TIMEOUT:g} s"
    targets = blast_radius.get("targets")
    names = targets.get("functions") if isinstance(targets, Mapping) else None
    if not names:
        return Timeout(DEFAULT_FUNCTION_TIMEOUT, f"targets name no function, so {default}")
    if functions is None:
        return Timeout(DEFAULT_FUNCTION_TIMEOUT, f"no Lambda client to read the functions' timeouts, so {default}")
    found: list[str] = []
    unknown: list[str] = []
    longest = 0.0
    for name in names:
        if not isinstance(name, str) or _GLOB & set(name):
            unknown.append(f"{name} (a pattern)")
            continue
        try:
            seconds = float(functions.get_function_configuration(FunctionName=name)["Timeout"])
        except Exception as error:  # any failure leaves the timeout unknown, never the run stopped
            unknown.append(f"{name} ({error_code(error) or type(error).__name__})")
            continue
        found.append(f"{name} {seconds:g} s")
        longest = max(longest, seconds)
    if unknown:
        read = f"; read: {', '.join(found)}" if found else ""
        return Timeout(DEFAULT_FUNCTION_TIMEOUT, f"not read for {', '.join(unknown)}{read}, so {default}")
    return Timeout(longest, f"the longest of {', '.join(found)}")
