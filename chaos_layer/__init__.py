"""chaos-layer: controlled fault injection for AWS Lambda handlers, driven from SSM.

What is public (docs/architecture.md), and stays compatible:

- `chaos_layer`: `inject_fault`, `ConfigError`, `InjectedFault` (and `__version__`);
- `chaos_layer.wrapper.handler`: the handler of zero-code mode;
- `chaos_layer.control`: the operator API (`Controller`, `Status`, the `ControlError` family);
- the `chaos-layer` command (`chaos_layer.cli`, with the `cli` extra).

Every other module is internal: its names may change in any release.
"""

from chaos_layer.decorator import inject_fault
from chaos_layer.exceptions import ConfigError, InjectedFault

# The one place the version is written: the wheel and sdist take theirs from here (pyproject.toml).
__version__ = "0.1.0"

__all__ = ["ConfigError", "InjectedFault", "__version__", "inject_fault"]
