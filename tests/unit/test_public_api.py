"""The names users import, and the marker that makes their type checkers use our hints."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
from types import ModuleType

import chaos_layer


def test_exports_exactly_the_public_names() -> None:
    assert sorted(chaos_layer.__all__) == ["ConfigError", "InjectedFault", "__version__", "inject_fault"]
    for name in chaos_layer.__all__:
        assert getattr(chaos_layer, name) is not None


def test_every_public_member_is_exported() -> None:
    """As httpx's test does: a name added to the package but not to __all__ (or the other
    way round) fails here. Submodules (wrapper, cli, control, ...) are imported by name."""
    members = [
        name
        for name, value in vars(chaos_layer).items()
        if (not name.startswith("_") or name == "__version__") and not isinstance(value, ModuleType)
    ]
    assert sorted(chaos_layer.__all__) == sorted(members)


def test_version_matches_the_distribution() -> None:
    from importlib.metadata import version

    assert chaos_layer.__version__ == version("chaos-layer")


def test_exceptions_users_catch() -> None:
    assert issubclass(chaos_layer.InjectedFault, Exception)
    assert issubclass(chaos_layer.ConfigError, ValueError)


def test_package_is_typed() -> None:
    assert importlib.resources.files("chaos_layer").joinpath("py.typed").is_file()


def test_importing_loads_no_aws_sdk_and_prints_nothing() -> None:
    """boto3 loads on the first read from SSM, not at import: a disabled function's cold
    start never pays for it."""
    result = subprocess.run(
        [sys.executable, "-c", "import chaos_layer, sys; print(sorted(m for m in sys.modules if m == 'boto3'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]"
    assert result.stderr == ""
