"""Where a package of the cli extra is missing, the message names a command that works today:
chaos-layer is on no index, so `pip install 'chaos-layer[cli]'` finds nothing, while the extra's
own requirements install wherever chaos-layer came from."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata

import pytest

MISSING = {
    # the CLI itself, `run` reading a YAML file, `report` drawing its charts and its page
    "cli": ("typer", "from chaos_layer.cli import main; main()"),
    "run": ("yaml", "from chaos_layer.experiment import definition; definition.decode('a: 1')"),
    "report": ("pygal", "from chaos_layer.experiment import report; report.render({})"),
    "report page": ("jinja2", "from chaos_layer.experiment import report; report.render({})"),
}


def extra_requirements() -> list[str]:
    requirements = metadata.requires("chaos-layer") or []
    return [r.partition(";")[0].strip() for r in requirements if re.search(r"""extra\s*==\s*["']cli["']""", r)]


@pytest.mark.parametrize("case", sorted(MISSING))
def test_a_missing_extra_package_names_the_extras_own_requirements(case: str) -> None:
    package, code = MISSING[case]
    # sys.modules[name] = None makes `import name` fail, as if the package were not installed
    script = f"import sys; sys.modules[{package!r}] = None\ntry:\n    {code}\nexcept Exception as e:\n    print(e)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    message = (result.stdout + result.stderr).strip()
    assert "chaos-layer[" not in message, message
    command = "pip install " + " ".join(f"'{r}'" for r in extra_requirements())
    assert message.endswith(command), message
    assert {"typer>=0.12", "rich>=13", "pyyaml>=6", "pygal>=3"} <= set(extra_requirements())
