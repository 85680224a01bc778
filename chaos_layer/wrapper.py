"""Zero-code mode: the handler that the layer's exec wrapper points `_HANDLER` at.

`/opt/chaos-layer` moves the function's own handler into CHAOS_LAYER_HANDLER and sets
`_HANDLER=chaos_layer.wrapper.handler`. The runtime imports this module at init, so the real
handler is imported here, once, and a handler that cannot be imported fails the init with
its own message, as it would without the layer:

- an ImportError, or a CHAOS_LAYER_HANDLER that names no handler, is raised as an ImportError
  (the runtime reports `Runtime.ImportModuleError`) whose message names the handler;
- a SyntaxError stays a SyntaxError (`Runtime.UserCodeSyntaxError`) pointing at the file;
- anything else the handler's module raises while it loads propagates unchanged.

Only CHAOS_LAYER_HANDLER, set by the function's owner, is imported; nothing read from SSM.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

from chaos_layer.decorator import inject_fault
from chaos_layer.settings import HANDLER_ENV, resolve_handler

WRAPPER_HANDLER = "chaos_layer.wrapper.handler"


class HandlerImportError(ImportError):
    """CHAOS_LAYER_HANDLER names no handler that can be served."""


def load_handler(spec: str | None) -> Callable[..., Any]:
    """Import `module.function` as Lambda does (the module may be dotted or `dir/module`)."""
    spec = (spec or "").strip()
    if not spec:
        raise HandlerImportError(
            f"{HANDLER_ENV} is not set: with AWS_LAMBDA_EXEC_WRAPPER=/opt/chaos-layer the function's "
            f"handler is moved there; otherwise set {HANDLER_ENV} to the real handler, module.function"
        )
    if spec == WRAPPER_HANDLER:
        raise HandlerImportError(f"{HANDLER_ENV} names chaos-layer's own handler; set it to the function's handler")
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise HandlerImportError(f"Bad handler '{spec}' in {HANDLER_ENV}: expected module.function")
    import_name = module_name.replace("/", ".")
    if import_name.split(".")[0] in sys.builtin_module_names:
        raise HandlerImportError(f"Cannot use built-in module {module_name} as a handler module ({HANDLER_ENV})")
    try:
        module = importlib.import_module(import_name)
    except ImportError as error:
        raise HandlerImportError(
            f"Unable to import module '{module_name}' ({HANDLER_ENV}={spec}): {error}", name=error.name, path=error.path
        ) from error
    except SyntaxError as error:
        raise SyntaxError(
            f"{error.msg} in handler module '{module_name}'", (error.filename, error.lineno, error.offset, error.text)
        ) from error
    function = getattr(module, function_name, None)
    if function is None:
        raise HandlerImportError(f"Handler '{function_name}' missing on module '{module_name}' ({HANDLER_ENV}={spec})")
    if not callable(function):
        raise HandlerImportError(f"Handler '{function_name}' on module '{module_name}' is not callable ({HANDLER_ENV})")
    return function  # type: ignore[no-any-return]


def serve(function: Callable[..., Any]) -> Callable[..., Any]:
    """The real handler behind inject_fault, unless its code already decorates it: one
    experiment per handler, never two draws of the same faults."""
    if hasattr(function, "chaos_experiment"):
        return function
    try:
        return inject_fault(function)
    except TypeError as error:  # an async or generator handler: the function must still start
        logging.getLogger(__name__).warning("chaos-layer is not injecting: %s", error)
        return function


handler = serve(load_handler(resolve_handler()))
