"""A handler module served by zero-code mode (chaos_layer.wrapper), as Lambda's layer serves it."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@contextmanager
def zero_code_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, parameter: str
) -> Iterator[Callable[[], Callable[..., Any]]]:
    """Writes `module` (defining `handler`) and points the wrapper at it and at `parameter`
    (cache period 0: every active invocation reads); gives `serve`."""
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CHAOS_LAYER_HANDLER", f"{module}.handler")
    monkeypatch.setenv("CHAOS_LAYER_PARAM", parameter)
    monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "0")
    try:
        yield serve
    finally:
        sys.modules.pop("chaos_layer.wrapper", None)
        sys.modules.pop(module, None)


def serve() -> Callable[..., Any]:
    """The wrapper's handler, imported afresh: a new execution environment."""
    sys.modules.pop("chaos_layer.wrapper", None)
    handler: Callable[..., Any] = importlib.import_module("chaos_layer.wrapper").handler
    return handler
