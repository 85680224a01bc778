"""The `denylist` fault through `@inject_fault`: real HTTP clients against HTTP servers on
127.0.0.1, refused as a closed port refuses them, by host name and by IP literal, and all
of it restored after the invocation."""

from __future__ import annotations

import asyncio
import errno
import http.client
import json
import logging
import socket
import ssl
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
import requests
import urllib3
from botocore.config import Config as BotoConfig
from botocore.exceptions import EndpointConnectionError

from chaos_layer.faults import _network
from tests.conftest import REGION, MotoServer, RecordingSleep
from tests.functional import fault_harness

ORIGINALS = {
    "socket.socket": dict(vars(socket.socket)),
    "socket": {name: getattr(socket, name) for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex")},
}


class Web:
    """An HTTP server on 127.0.0.1 that answers every GET with its own port."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        port: list[int] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so clients pool connections

            def do_GET(self) -> None:
                body = f"hello from {port[0]}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        port.append(self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def web() -> Iterator[Callable[..., Web]]:
    """Factory of HTTP servers on 127.0.0.1, all stopped after the test."""
    started: list[Web] = []

    def start(tls: ssl.SSLContext | None = None) -> Web:
        started.append(Web(tls))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def with_chaos(moto_server: MotoServer, sleeps: RecordingSleep, **fault: Any) -> Callable[[Any], Any]:
    return fault_harness.with_chaos(moto_server, sleeps, {"type": "denylist", **fault})


def get_urllib(host: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=5) as response:
        return str(response.read().decode())


def get_urllib3(host: str, port: int) -> str:
    with urllib3.PoolManager() as pool:
        return str(pool.request("GET", f"http://{host}:{port}/", retries=False, timeout=5).data.decode())


def get_requests(host: str, port: int) -> str:
    return requests.get(f"http://{host}:{port}/", timeout=5).text


def get_httpx(host: str, port: int) -> str:
    return httpx.get(f"http://{host}:{port}/", timeout=5).text


def get_http_client(host: str, port: int) -> str:  # socket.create_connection underneath
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", "/")
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def get_raw_socket(host: str, port: int) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect((host, port))
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        return data.decode().rsplit("\r\n\r\n", 1)[-1]


def get_asyncio(host: str, port: int) -> str:
    async def fetch() -> str:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
        return data.decode().rsplit("\r\n\r\n", 1)[-1]

    return asyncio.run(fetch())


CLIENTS = [get_urllib, get_urllib3, get_requests, get_httpx, get_http_client, get_raw_socket, get_asyncio]


def refused(error: BaseException | None) -> bool:
    """Whether a ConnectionRefusedError (ECONNREFUSED) is behind a client's own exception."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return current.errno == errno.ECONNREFUSED
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
    return False


def outcome(fetch: Callable[[str, int], str], host: str, port: int) -> str:
    try:
        return fetch(host, port)
    except Exception as error:
        return "refused" if refused(error) else f"failed otherwise: {error!r}"


def assert_restored() -> None:
    assert dict(vars(socket.socket)) == ORIGINALS["socket.socket"]
    for name, function in ORIGINALS["socket"].items():
        assert getattr(socket, name) is function
    assert not _network.active()


@pytest.mark.parametrize("fetch", CLIENTS)
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_every_client_is_refused_by_host_name_and_by_ip_literal(
    moto_server: MotoServer,
    sleeps: RecordingSleep,
    web: Callable[..., Web],
    fetch: Callable[[str, int], str],
    host: str,
) -> None:
    server = web()
    assert fetch(host, server.port) == f"hello from {server.port}"

    @with_chaos(moto_server, sleeps, hosts=[host])
    def handler(event: Any, context: Any) -> str:
        return outcome(fetch, host, server.port)

    assert handler({}, None) == "refused"
    assert_restored()
    assert fetch(host, server.port) == f"hello from {server.port}"


def test_connect_ex_reports_econnrefused(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web]
) -> None:
    server = web()

    @with_chaos(moto_server, sleeps, hosts=["127.0.0.*"])
    def handler(event: Any, context: Any) -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            return sock.connect_ex(("127.0.0.1", server.port))

    assert handler({}, None) == errno.ECONNREFUSED
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(("127.0.0.1", server.port)) == 0


def test_addresses_a_denied_name_resolved_to_are_refused_too(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web]
) -> None:
    server = web()

    @with_chaos(moto_server, sleeps, hosts=["localhost"])
    def handler(event: Any, context: Any) -> list[str]:
        before = outcome(get_raw_socket, "127.0.0.1", server.port)  # nothing resolved yet: not denied
        addresses = {str(info[4][0]) for info in socket.getaddrinfo("localhost", server.port, type=socket.SOCK_STREAM)}
        after = [outcome(get_raw_socket, address, server.port) for address in sorted(addresses)]
        return [before, *after]

    before, *after = handler({}, None)

    assert before == f"hello from {server.port}"
    assert after
    assert set(after) == {"refused"}
    assert_restored()


def test_hosts_and_ports_that_do_not_match_still_work(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web]
) -> None:
    denied, allowed = web(), web()

    @with_chaos(moto_server, sleeps, hosts=["*.amazonaws.com", "10.*", "127.0.0.1", "localhost"], ports=[denied.port])
    def handler(event: Any, context: Any) -> dict[str, str]:
        return {
            "denied port": outcome(get_requests, "127.0.0.1", denied.port),
            "other port by ip": outcome(get_requests, "127.0.0.1", allowed.port),
            "other port by name": outcome(get_urllib3, "localhost", allowed.port),
        }

    assert handler({}, None) == {
        "denied port": "refused",
        "other port by ip": f"hello from {allowed.port}",
        "other port by name": f"hello from {allowed.port}",
    }


def test_unmatched_loopback_is_allowed(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web]
) -> None:
    server = web()

    @with_chaos(moto_server, sleeps, hosts=["*.amazonaws.com", "api.example.com"])
    def handler(event: Any, context: Any) -> list[str]:
        return [outcome(fetch, "localhost", server.port) for fetch in CLIENTS]

    assert handler({}, None) == [f"hello from {server.port}"] * len(CLIENTS)


def test_boto3_gets_botocores_connection_error(moto_server: MotoServer, sleeps: RecordingSleep) -> None:
    endpoint = f"http://localhost:{moto_server.port}"
    sqs = boto3.client(
        "sqs", region_name=REGION, endpoint_url=endpoint, config=BotoConfig(retries={"total_max_attempts": 1})
    )

    @with_chaos(moto_server, sleeps, hosts=["localhost"], ports=[moto_server.port])
    def handler(event: Any, context: Any) -> Any:
        with pytest.raises(EndpointConnectionError) as caught:
            sqs.list_queues()
        return caught.value

    error = handler({}, None)

    assert refused(error)
    assert_restored()
    assert sqs.create_queue(QueueName="after")["QueueUrl"].endswith("/after")


def test_everything_is_restored_after_a_handler_exception(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web]
) -> None:
    server = web()

    @with_chaos(moto_server, sleeps, hosts=["127.0.0.1"])
    def handler(event: Any, context: Any) -> None:
        get_urllib3("127.0.0.1", server.port)

    with pytest.raises(urllib3.exceptions.NewConnectionError) as caught:
        handler({}, None)

    assert refused(caught.value)
    assert_restored()
    assert get_urllib3("127.0.0.1", server.port) == f"hello from {server.port}"


@pytest.fixture
def certificate(tmp_path: Any) -> tuple[ssl.SSLContext, str]:
    """A TLS server context for `localhost` and the path of its self-signed certificate."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, str(cert_path)


def test_a_pooled_tls_connection_opened_before_the_invocation_is_cut(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web], certificate: tuple[ssl.SSLContext, str]
) -> None:
    context, cert_path = certificate
    server = web(context)
    session = requests.Session()  # a module-level session of a warm function, already connected
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace `verify`
    session.verify = cert_path
    url = f"https://localhost:{server.port}/"
    assert session.get(url, timeout=5).text == f"hello from {server.port}"

    @with_chaos(moto_server, sleeps, hosts=["localhost"])
    def handler(event: Any, context: Any) -> str:
        with pytest.raises(requests.ConnectionError, match="Connection aborted"):
            session.get(url, timeout=5)
        return "cut"

    assert handler({}, None) == "cut"
    assert_restored()
    assert session.get(url, timeout=5).text == f"hello from {server.port}"
    session.close()


@pytest.mark.parametrize("form", ["127.1", "2130706433", "0x7f.1", "0x7f000001", "0177.0.0.1", "127.0.1", "0.0.0.0"])
def test_other_spellings_of_a_denied_address_are_refused(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web], form: str
) -> None:
    """inet_aton's forms reach the same address: a raw socket connects to each of them."""
    server = web()
    assert get_raw_socket(form, server.port) == f"hello from {server.port}"

    @with_chaos(moto_server, sleeps, hosts=["127.0.0.1"])
    def handler(event: Any, context: Any) -> str:
        return outcome(get_raw_socket, form, server.port)

    assert handler({}, None) == "refused"
    assert_restored()


@pytest.mark.parametrize("fetch", [get_raw_socket, get_http_client])
def test_a_name_resolved_inside_connect_is_refused_by_its_address(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web], fetch: Callable[[str, int], str]
) -> None:
    """`sock.connect(("localhost", port))` resolves in C, past the patched getaddrinfo."""
    server = web()

    @with_chaos(moto_server, sleeps, hosts=["127.0.0.1"])
    def handler(event: Any, context: Any) -> str:
        return outcome(fetch, "localhost", server.port)

    assert handler({}, None) == "refused"


@pytest.mark.parametrize("pattern", ["127.1", "2130706433"])
def test_a_pattern_in_another_spelling_means_the_same_address(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web], pattern: str
) -> None:
    server = web()

    @with_chaos(moto_server, sleeps, hosts=[pattern])
    def handler(event: Any, context: Any) -> str:
        return outcome(get_raw_socket, "127.0.0.1", server.port)

    assert handler({}, None) == "refused"


def test_the_fault_is_counted_only_when_it_refuses_a_connection(
    moto_server: MotoServer, sleeps: RecordingSleep, web: Callable[..., Web], caplog: pytest.LogCaptureFixture
) -> None:
    server = web()
    caplog.set_level(logging.WARNING, logger="chaos_layer")
    targets: list[str] = []

    @with_chaos(moto_server, sleeps, hosts=["api.example.com"])
    def handler(event: Any, context: Any) -> str:
        outcome(get_raw_socket, targets[-1], server.port)
        return outcome(get_raw_socket, targets[-1], server.port)

    targets.append("127.0.0.1")  # not denied: gets through, nothing injected
    assert handler({}, None) == f"hello from {server.port}"
    assert [r for r in caplog.records if r.name == "chaos_layer"] == []

    moto_server.put(
        fault_harness.PARAMETER,
        json.dumps({"enabled": True, "faults": [{"type": "denylist", "hosts": ["127.0.0.1"]}]}),
    )
    assert handler({}, None) == "refused"
    assert handler({}, None) == "refused"
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "chaos_layer"]
    assert [record["fault"] for record in records] == ["denylist", "denylist"]  # once per invocation
