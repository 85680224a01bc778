"""Fixtures for running the built layer as Lambda does (see lambda_sim.py).

The zip is built once per run from the working tree (once for all pytest-xdist workers, see
`built_once`), unpacked as an /opt-like folder, and every test starts its own function process
(an execution environment) that its teardown stops. SSM is the shared `moto_server`
(tests/conftest.py), emptied before each test.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import MotoServer
from tests.e2e.lambda_sim import LocalLambda, copy_function, make_runtime_dir, unpack_layer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FUNCTION = ROOT / "examples" / "hello"
CONFIG_PARAMETER = "/chaos-layer/hello"


def load_build_module() -> ModuleType:
    """layer/build.py, which is a script rather than a package module."""
    spec = importlib.util.spec_from_file_location("layer_build", ROOT / "layer" / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Holds `lock` (a file) against every other process that asks for it, until the block ends."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def one_layer_build_at_a_time() -> contextlib.AbstractContextManager[None]:
    """layer/build.py keeps the wheels it downloads in build/wheels: two builds at once (two
    pytest-xdist workers) would race for them, and a test that watches the cache would see the
    other's downloads."""
    return exclusive(ROOT / "build" / "wheels.lock")


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """A folder that `build(folder)` fills once per run: the first pytest-xdist worker to ask
    builds, the others wait for it and share the folder (without xdist: the run's own)."""
    run = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run = run.parent  # above each worker's own folder: the run's
    folder, done = run / name, run / f"{name}.built"
    with exclusive(run / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def build_layer(output_dir: Path) -> Path:
    output = output_dir / "chaos-layer.zip"
    with one_layer_build_at_a_time():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "layer" / "build.py"),
                "--output",
                str(output),
                "--content",
                str(output_dir / "content"),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return output


@pytest.fixture(scope="session")
def layer_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_once(tmp_path_factory, "layer", build_layer) / "chaos-layer.zip"


@pytest.fixture
def sole_layer_build() -> Iterator[None]:
    """No other layer build (another worker's) runs during the test."""
    with one_layer_build_at_a_time():
        yield


@pytest.fixture(scope="session")
def opt_dir(layer_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_layer(layer_zip, tmp_path_factory.mktemp("opt"))


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runtime_dir(tmp_path_factory.mktemp("var-runtime"))


WriteFunction = Callable[..., Path]


@pytest.fixture
def write_function(tmp_path: Path) -> WriteFunction:
    """Writes `app.py` with the given source into a fresh task root."""

    def write(source: str, name: str = "app.py") -> Path:
        task_root = tmp_path / "task"
        task_root.mkdir(exist_ok=True)
        (task_root / name).write_text(textwrap.dedent(source))
        return task_root

    return write


@pytest.fixture
def example_function(tmp_path: Path) -> Path:
    """The unmodified example HTTP function, as Lambda unpacks it into /var/task."""
    return copy_function(EXAMPLE_FUNCTION, tmp_path / "task")


StartLambda = Callable[..., LocalLambda]


@pytest.fixture
def start_lambda(opt_dir: Path, runtime_dir: Path, moto_server: MotoServer, tmp_path: Path) -> Iterator[StartLambda]:
    """Starts execution environments; by default zero-code mode (the exec wrapper) with the
    config parameter /chaos-layer/hello read on every invocation. Teardown stops them all."""
    started: list[LocalLambda] = []

    def start(
        task_root: Path,
        handler: str = "app.handler",
        *,
        exec_wrapper: str | None = str(opt_dir / "chaos-layer"),
        environment: dict[str, str] | None = None,
    ) -> LocalLambda:
        env = {
            "CHAOS_LAYER_PARAM": CONFIG_PARAMETER,
            "CHAOS_LAYER_MAX_AGE": "0",
            "CHAOS_LAYER_IDLE_MAX_AGE": "0",
            "AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url,
            **(environment or {}),
        }
        function = LocalLambda(
            opt_dir=opt_dir,
            runtime_dir=runtime_dir,
            task_root=task_root,
            handler=handler,
            environment=env,
            exec_wrapper=exec_wrapper,
            log_path=tmp_path / f"function-{len(started)}.log",
        )
        started.append(function)
        function.start()
        return function

    yield start
    for function in started:
        function.close()
