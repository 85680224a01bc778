"""The built layer in the real runtime interface client (awslambdaric), started as Lambda does."""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import platform
import shutil
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MotoServer, config_json
from tests.e2e.conftest import CONFIG_PARAMETER, ROOT, StartLambda, WriteFunction, load_build_module
from tests.e2e.lambda_sim import aws_cli

KILL_SWITCH = "/chaos-layer/kill-switch"


def http_api_event(name: str = "chaos") -> dict[str, Any]:
    """An HTTP API (payload 2.0) event, trimmed to what matters here."""
    return {
        "version": "2.0",
        "routeKey": "GET /hello",
        "rawPath": "/hello",
        "rawQueryString": f"name={name}",
        "queryStringParameters": {"name": name},
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "apiId": "abc123",
            "http": {"method": "GET", "path": "/hello", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "GET /hello",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def hello_response(name: str = "chaos") -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": f"hello, {name}"}),
    }


def injection_records(logs: str) -> list[dict[str, Any]]:
    """The chaos-layer records in a function's log (runtime lines: [LEVEL] time id message)."""
    records = []
    for line in logs.splitlines():
        message = line.split("\t")[-1]
        if line.startswith("[WARNING]") and "chaos-layer injected a fault" in message:
            records.append(json.loads(message))
    return records


def emf_metrics(logs: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.splitlines() if line.startswith('{"_aws"')]


# --- the zip -------------------------------------------------------------------------------


def test_zip_holds_the_package_its_dependencies_and_an_executable_wrapper(layer_zip: Path) -> None:
    with zipfile.ZipFile(layer_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    wrapper = infos["chaos-layer"]
    assert stat.S_IMODE(wrapper.external_attr >> 16) == 0o755
    assert "python/chaos_layer/wrapper.py" in infos
    assert "python/aws_lambda_powertools/metrics/__init__.py" in infos
    assert "python/typing_extensions.py" in infos
    tops = {name.split("/")[1] for name in infos if name.startswith("python/")}
    assert not tops & {"boto3", "botocore", "jmespath", "s3transfer", "urllib3"}  # every runtime has them
    # one zip for x86_64 and arm64: the only native code is RE2's, one module per version and architecture
    assert {name.rpartition("/")[0] for name in infos if name.endswith(".so")} == {"python/re2"}
    assert not [name for name in infos if name.startswith("python/chaos_layer/cli")]


def test_the_zip_holds_the_library_without_the_operator_api_and_the_cli(layer_zip: Path) -> None:
    with zipfile.ZipFile(layer_zip) as archive:
        shipped = {
            name.removeprefix("python/")
            for name in archive.namelist()
            if name.startswith("python/chaos_layer/") and "/__pycache__/" not in name
        }
    package = ROOT / "chaos_layer"
    tree = {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    left_out = tree - shipped
    # The operator's folders stay out whole, and nothing else does.
    operator = {"cli", "control", "experiment", "ctk", "fis"}
    assert {name.split("/")[1] for name in left_out} == operator, left_out
    assert not {name for name in shipped if name.split("/")[1] in operator}
    assert shipped <= tree
    assert {"chaos_layer/schema.json", "chaos_layer/py.typed", "chaos_layer/settings.py"} <= shipped


def test_every_module_in_the_zip_imports_without_the_operator_api(opt_dir: Path) -> None:
    """The library never imports the modules the layer leaves out (nor Typer or Rich)."""
    code = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        sys.path.insert(0, {str(opt_dir / "python")!r})
        sys.modules["typer"] = sys.modules["rich"] = sys.modules["click"] = None
        import chaos_layer
        assert chaos_layer.__file__.startswith({str(opt_dir)!r}), chaos_layer.__file__
        names = [m.name for m in pkgutil.walk_packages(chaos_layer.__path__, "chaos_layer.")]
        for name in names:
            if name != "chaos_layer.wrapper":  # it imports the function's handler at import
                importlib.import_module(name)
        print(" ".join(sorted(names)))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    assert {"chaos_layer.source.ssm", "chaos_layer.source.s3", "chaos_layer.source.appconfig"} <= set(imported)
    operator_api = ("chaos_layer.control", "chaos_layer.control.stores")
    assert not [name for name in imported if name in operator_api or name.startswith("chaos_layer.cli")]


def test_bytecode_is_shipped_for_this_interpreter_and_valid_on_a_read_only_opt(layer_zip: Path) -> None:
    """Lambda's /opt cannot cache bytecode: shipped .pyc files must be unchecked-hash (the
    zip's 1980 timestamps say nothing) and sit beside their sources, one per version."""
    with zipfile.ZipFile(layer_zip) as archive:
        names = set(archive.namelist())
        tag = sys.implementation.cache_tag
        compiled = sorted(name for name in names if name.endswith(f".{tag}.pyc"))
        assert compiled, f"no bytecode for {tag} in the layer"
        for name in compiled:
            folder, _, file = name.rpartition("/__pycache__/")
            assert f"{folder}/{file.split('.')[0]}.py" in names
            header = archive.read(name)[:16]
            assert header[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source not checked
        code = marshal.loads(archive.read(next(n for n in compiled if n.endswith(f"/decorator.{tag}.pyc")))[16:])
        assert code.co_filename == "/opt/python/chaos_layer/decorator.py"
    # only chaos_layer is compiled: nothing else in the layer is imported on its path
    assert {name.split("/")[1] for name in names if name.endswith(".pyc")} == {"chaos_layer"}


def test_re2_is_shipped_for_every_claimed_runtime_and_architecture(layer_zip: Path) -> None:
    """arm64, and runtimes whose interpreter is not here, cannot run here: their wheels'
    tags and their extensions' needs are checked instead."""
    build = load_build_module()
    with zipfile.ZipFile(layer_zip) as archive:
        names = set(archive.namelist())
        extensions = sorted(name for name in names if name.endswith(".so"))
        [wheel_file] = [name for name in names if name.startswith("python/google_re2-") and name.endswith("/WHEEL")]
        tags = {
            line.removeprefix("Tag: ") for line in archive.read(wheel_file).decode().splitlines() if "Tag: " in line
        }
        problems = [build.check_extension(name, archive.read(name)) for name in extensions]
    expected = {
        f"python/re2/_re2.cpython-{runtime.replace('.', '')}-{arch}-linux-gnu.so"
        for runtime in build.RUNTIMES
        for arch in ("x86_64", "aarch64")
    }
    assert set(extensions) == expected
    for runtime in build.RUNTIMES:
        abi = "cp" + runtime.replace(".", "")
        for arch in ("x86_64", "aarch64"):
            assert any(tag.startswith(f"{abi}-{abi}-manylinux_") and tag.endswith(f"_{arch}") for tag in tags), (
                abi,
                arch,
            )
    assert problems == [None] * len(extensions)  # each needs no newer glibc / libstdc++ than its runtime's OS
    assert layer_zip.stat().st_size < 10 * 1024 * 1024


def test_an_extension_that_needs_a_newer_glibc_than_its_runtime_is_refused() -> None:
    build = load_build_module()
    library = b"\0libc.so.6\0GLIBC_2.17\0GLIBC_2.28\0GLIBCXX_3.4.21\0"
    assert build.check_extension("_re2.cpython-312-x86_64-linux-gnu.so", library) is None
    assert build.check_extension("_re2.cpython-310-x86_64-linux-gnu.so", library) == (
        "_re2.cpython-310-x86_64-linux-gnu.so: needs GLIBC_2.28, newer than the python3.10 runtime's OS has"
    )
    assert "does not claim" in (build.check_extension("_re2.cpython-39-x86_64-linux-gnu.so", library) or "")


def test_re2_from_the_zip_loads_in_every_interpreter_here(opt_dir: Path) -> None:
    """The x86_64 extensions of the runtimes whose interpreter is on this machine, as Lambda
    imports them from /opt/python: each finds its own, and matches in linear time."""
    build = load_build_module()
    interpreters = build.find_interpreters()
    assert interpreters
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(opt_dir / "python")!r})
        import re2
        assert re2.__file__.startswith({str(opt_dir)!r}), re2.__file__
        print(re2._re2.__file__.rpartition("/")[2])
        print(re2.compile(b"^(a|a)*$").search(b"a" * 400 + b"!") is None)
        """
    )
    for version, interpreter in interpreters.items():
        result = subprocess.run([interpreter, "-c", code], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        loaded, no_match = result.stdout.split()
        assert loaded == f"_re2.cpython-{version.replace('.', '')}-{platform.machine()}-linux-gnu.so"
        assert no_match == "True"


@pytest.mark.slow
def test_the_zip_depends_only_on_the_content_not_on_file_times(layer_zip: Path, tmp_path: Path) -> None:
    build = load_build_module()
    content = shutil.copytree(layer_zip.parent / "content", tmp_path / "content")
    for path in content.rglob("*"):
        os.utime(path, (1_800_000_000, 1_800_000_000))

    build.write_zip(content, tmp_path / "again.zip")

    assert (tmp_path / "again.zip").read_bytes() == layer_zip.read_bytes()


# --- zero-code mode ------------------------------------------------------------------------


def test_no_experiment_serves_the_unmodified_function(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    moto_server.put(CONFIG_PARAMETER, json.dumps({"enabled": False, "faults": []}))
    function = start_lambda(example_function)

    reply = function.invoke(http_api_event())

    assert (reply.kind, reply.payload) == ("response", hello_response())
    assert injection_records(function.logs()) == []
    assert emf_metrics(function.logs()) == []


def test_latency_delays_then_serves_the_response_and_logs_the_fault(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    moto_server.put(
        CONFIG_PARAMETER,
        config_json(experiment="slow-hello", faults=[{"type": "latency", "delay_ms": 50}]),
    )
    function = start_lambda(example_function)

    reply = function.invoke(http_api_event())

    assert (reply.kind, reply.payload) == ("response", hello_response())
    [record] = injection_records(function.logs())
    assert record["experiment"] == "slow-hello"
    assert record["fault"] == "latency"
    assert record["settings"]["delay_ms"] == 50
    assert record["function_name"] == "hello"
    assert record["request_id"] == reply.request_id
    [metric] = emf_metrics(function.logs())
    assert (metric["experiment"], metric["fault"], metric["InjectedFaults"]) == ("slow-hello", "latency", [1.0])


def test_exception_reaches_the_runtime_with_the_configured_type_and_message(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    moto_server.put(
        CONFIG_PARAMETER,
        config_json(faults=[{"type": "exception", "exception": "TimeoutError", "message": "injected by chaos"}]),
    )
    function = start_lambda(example_function)

    reply = function.invoke(http_api_event())

    assert reply.kind == "error"
    assert reply.payload["errorType"] == "TimeoutError"
    assert reply.payload["errorMessage"] == "injected by chaos"


def test_status_code_answers_an_http_api_event_without_running_the_function(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    fault = {"type": "status_code", "status_code": 503, "body": '{"message": "busy"}', "headers": {"Retry-After": "1"}}
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[fault]))
    function = start_lambda(example_function)

    reply = function.invoke(http_api_event())

    assert reply.kind == "response"
    assert reply.payload["statusCode"] == 503
    assert reply.payload["body"] == '{"message": "busy"}'
    assert reply.payload["headers"]["Retry-After"] == "1"
    assert "hello" not in reply.payload["body"]


def test_kill_switch_set_with_the_aws_cli_stops_and_release_resumes_injection(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "exception", "message": "boom"}]))
    function = start_lambda(example_function)
    assert function.invoke(http_api_event()).kind == "error"

    def kill_switch(value: str) -> None:
        aws_cli(
            "ssm", "put-parameter", "--name", KILL_SWITCH, "--type", "String", "--value", value, "--overwrite",
            endpoint=moto_server.endpoint_url,
        )  # fmt: skip

    kill_switch("on")
    engaged = function.invoke(http_api_event())
    kill_switch("off")
    released = function.invoke(http_api_event())

    assert (engaged.kind, engaged.payload) == ("response", hello_response())
    assert (released.kind, released.payload["errorMessage"]) == ("error", "boom")


def test_a_handler_decorated_in_code_is_not_injected_twice_in_zero_code_mode(
    start_lambda: StartLambda, write_function: WriteFunction, moto_server: MotoServer
) -> None:
    task_root = write_function(
        """
        from chaos_layer import inject_fault

        @inject_fault
        def handler(event, context):
            return {"statusCode": 200, "body": "decorated"}
        """
    )
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "latency", "delay_ms": 1}]))
    function = start_lambda(task_root)

    reply = function.invoke(http_api_event())

    assert reply.payload["body"] == "decorated"
    assert len(injection_records(function.logs())) == 1


@pytest.mark.parametrize("handler", ["src/orders/app.handler", "src.orders.app.handler"])
def test_zero_code_mode_takes_handlers_in_folders_as_lambda_does(
    start_lambda: StartLambda, write_function: WriteFunction, moto_server: MotoServer, handler: str
) -> None:
    task_root = write_function("def handler(event, context):\n    return {'statusCode': 200, 'body': 'orders'}\n")
    (task_root / "src" / "orders").mkdir(parents=True)
    (task_root / "app.py").rename(task_root / "src" / "orders" / "app.py")
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "status_code", "status_code": 502}]))
    function = start_lambda(task_root, handler)

    reply = function.invoke(http_api_event())

    assert (reply.kind, reply.payload["statusCode"]) == ("response", 502)


# --- decorator mode --------------------------------------------------------------------------


def test_decorator_mode_uses_the_layer_without_the_exec_wrapper(
    start_lambda: StartLambda, write_function: WriteFunction, moto_server: MotoServer
) -> None:
    task_root = write_function(
        """
        from chaos_layer import inject_fault

        @inject_fault(max_age=0, idle_max_age=0)
        def handler(event, context):
            return {"statusCode": 200, "body": "decorated"}
        """
    )
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "exception", "exception": "ConnectionError"}]))
    function = start_lambda(task_root, exec_wrapper=None, environment={"CHAOS_LAYER_MAX_AGE": ""})

    failed = function.invoke(http_api_event())
    moto_server.put(CONFIG_PARAMETER, json.dumps({"enabled": False}))
    served = function.invoke(http_api_event())

    assert (failed.kind, failed.payload["errorType"]) == ("error", "ConnectionError")
    assert (served.kind, served.payload["body"]) == ("response", "decorated")


# --- init errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "error_type", "message_parts"),
    [
        (
            "import requests_that_are_not_installed\ndef handler(event, context): pass\n",
            "Runtime.ImportModuleError",
            ["Unable to import module 'app'", "No module named 'requests_that_are_not_installed'"],
        ),
        (
            "def handler(event, context)\n    return 1\n",
            "Runtime.UserCodeSyntaxError",
            ["handler module 'app'", "app.py, line 1"],
        ),
        (
            "import os\nTABLE = os.environ['TABLE_NAME']\ndef handler(event, context): pass\n",
            "KeyError",
            ["TABLE_NAME"],
        ),
    ],
    ids=["import-error", "syntax-error", "error-at-import"],
)
def test_a_handler_that_fails_to_import_fails_the_init_with_its_own_message(
    start_lambda: StartLambda, write_function: WriteFunction, source: str, error_type: str, message_parts: list[str]
) -> None:
    function = start_lambda(write_function(source))

    reply = function.invoke(http_api_event())

    assert reply.kind == "init_error"
    assert reply.payload["errorType"] == error_type
    for part in message_parts:
        assert part in reply.payload["errorMessage"]
    assert function.wait_exit() != 0


@pytest.mark.parametrize(
    ("handler", "environment", "message_parts"),
    [
        ("app.no_such_function", {}, ["Handler 'no_such_function' missing on module 'app'"]),
        ("app.handler", {"CHAOS_LAYER_HANDLER": "missing_module.handler"}, ["No module named 'missing_module'"]),
        ("handler_without_a_module", {}, ["Bad handler 'handler_without_a_module'"]),
    ],
    ids=["missing-function", "missing-module", "malformed"],
)
def test_a_wrong_chaos_layer_handler_fails_the_init_saying_so(
    start_lambda: StartLambda,
    example_function: Path,
    handler: str,
    environment: dict[str, str],
    message_parts: list[str],
) -> None:
    function = start_lambda(example_function, handler, environment=environment)

    reply = function.invoke(http_api_event())

    assert (reply.kind, reply.payload["errorType"]) == ("init_error", "Runtime.ImportModuleError")
    assert "CHAOS_LAYER_HANDLER" in reply.payload["errorMessage"]
    for part in message_parts:
        assert part in reply.payload["errorMessage"]


def test_pointing_the_handler_at_the_wrapper_without_the_exec_wrapper_says_what_is_missing(
    start_lambda: StartLambda, example_function: Path
) -> None:
    function = start_lambda(example_function, "chaos_layer.wrapper.handler", exec_wrapper=None)

    reply = function.invoke(http_api_event())

    assert reply.kind == "init_error"
    assert "CHAOS_LAYER_HANDLER is not set" in reply.payload["errorMessage"]


# --- chained exec wrappers ---------------------------------------------------------------------


def write_wrapper(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def tracing_function(write_function: WriteFunction) -> Path:
    """Reports what the other wrapper saw, so a test can tell both wrappers ran."""
    return write_function(
        """
        import os

        def handler(event, context):
            return {"statusCode": 200, "body": os.environ.get("OTHER_WRAPPER_SAW", "not run")}
        """
    )


def test_chaos_layer_then_another_wrapper_via_chaos_layer_next_wrapper(
    start_lambda: StartLambda, tracing_function: Path, moto_server: MotoServer, tmp_path: Path
) -> None:
    other = write_wrapper(tmp_path / "other-wrapper", 'OTHER_WRAPPER_SAW=$_HANDLER exec "$@"\n')
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "latency", "delay_ms": 1}]))
    function = start_lambda(tracing_function, environment={"CHAOS_LAYER_NEXT_WRAPPER": str(other)})

    reply = function.invoke(http_api_event())

    assert (reply.kind, reply.payload["body"]) == ("response", "chaos_layer.wrapper.handler")
    assert len(injection_records(function.logs())) == 1


def test_a_wrapper_of_yours_that_execs_chaos_layer(
    start_lambda: StartLambda, tracing_function: Path, opt_dir: Path, moto_server: MotoServer, tmp_path: Path
) -> None:
    mine = write_wrapper(
        tmp_path / "my-wrapper", f'export OTHER_WRAPPER_SAW=$_HANDLER\nexec {opt_dir}/chaos-layer "$@"\n'
    )
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "latency", "delay_ms": 1}]))
    function = start_lambda(tracing_function, exec_wrapper=str(mine))

    reply = function.invoke(http_api_event())

    assert (reply.kind, reply.payload["body"]) == ("response", "app.handler")
    assert len(injection_records(function.logs())) == 1


def test_going_through_chaos_layer_twice_keeps_the_real_handler(
    start_lambda: StartLambda, example_function: Path, opt_dir: Path, moto_server: MotoServer, tmp_path: Path
) -> None:
    twice = write_wrapper(tmp_path / "twice", f'exec {opt_dir}/chaos-layer {opt_dir}/chaos-layer "$@"\n')
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "status_code", "status_code": 429}]))
    function = start_lambda(example_function, exec_wrapper=str(twice))

    reply = function.invoke(http_api_event())

    assert (reply.kind, reply.payload["statusCode"]) == ("response", 429)
