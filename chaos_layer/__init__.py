"""chaos-layer: controlled fault injection for AWS Lambda handlers, driven from SSM."""

from chaos_layer.decorator import inject_fault
from chaos_layer.exceptions import ConfigError, InjectedFault

__version__ = "0.1.0"

__all__ = ["ConfigError", "InjectedFault", "__version__", "inject_fault"]
