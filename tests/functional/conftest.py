"""Misbehaving endpoints on 127.0.0.1, for the fail-safe tests (an endpoint that answers
what the test scripts is `scripted_endpoint`, in tests/conftest.py).

- `hanging_endpoint`: accepts TCP connections and never answers; counts connections.
- `closed_port`: a loopback port nothing listens on (connections are refused).
- `dripping_endpoint`: answers every request one byte at a time, each byte just inside a
  client's read timeout (a slow-drip server, or a proxy that behaves like one).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest


class LoopbackListener:
    """A TCP listener on a loopback port whose accept loop hands each connection to `accepted`."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)  # lets the accept loop notice `stop`
        self.endpoint_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopping = threading.Event()
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted(connection)

    def accepted(self, connection: socket.socket) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._accepter.start()

    def stop(self) -> None:
        self._stopping.set()
        self._accepter.join(timeout=10)
        self._listener.close()


class HangingEndpoint(LoopbackListener):
    """Accepts connections, reads nothing, answers nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.connections: list[socket.socket] = []

    def accepted(self, connection: socket.socket) -> None:
        self.connections.append(connection)

    def stop(self) -> None:
        super().stop()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def hanging_endpoint() -> Iterator[HangingEndpoint]:
    """An endpoint that accepts TCP connections and never answers; `.connections` lists them."""
    endpoint = HangingEndpoint()
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def closed_port() -> str:
    """An endpoint URL on a loopback port that refuses connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class DrippingEndpoint(LoopbackListener):
    """Reads a request, then sends a long, valid HTTP response one byte every `interval`
    seconds: no single receive ever waits long enough to time out. `closed` is set when a
    client has closed its connection (seen before the next byte), `closed_at` says when
    (monotonic), `accepted_at` when each connection came."""

    def __init__(self, interval: float = 0.3, headers_at_once: bool = False) -> None:
        super().__init__()
        self.interval = interval
        self.headers_at_once = headers_at_once  # only the body trickles
        self.connections = 0
        self.accepted_at: list[float] = []
        self.closed_at: list[float] = []
        self.closed = threading.Event()
        self._threads: list[threading.Thread] = []

    def accepted(self, connection: socket.socket) -> None:
        self.connections += 1
        self.accepted_at.append(time.monotonic())
        thread = threading.Thread(target=self._drip, args=(connection,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def _drip(self, connection: socket.socket) -> None:
        body = json.dumps({"Parameters": [], "InvalidParameters": ["x" * 400]}).encode()
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        with connection:
            connection.settimeout(5)
            try:
                connection.recv(65536)  # the request (its body may come later: it does not matter)
                if self.headers_at_once:
                    connection.sendall(head)
                for byte in body if self.headers_at_once else head + body:
                    if self._stopping.wait(self.interval):
                        return
                    if _peer_closed(connection):
                        break
                    connection.sendall(bytes([byte]))
            except OSError:
                pass
            else:
                if not self._stopping.is_set() and not _peer_closed(connection):
                    return  # the whole response went out
            self.closed_at.append(time.monotonic())
            self.closed.set()

    def stop(self) -> None:
        super().stop()
        for thread in self._threads:
            thread.join(timeout=10)


def _peer_closed(connection: socket.socket) -> bool:
    """Whether the other end has closed the connection (a read would see its end at once)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@pytest.fixture
def trickling_body() -> Iterator[DrippingEndpoint]:
    """An endpoint that answers at once with status and headers, then its body one byte every
    0.3 s (two minutes); `.closed` is set when the client has closed the connection."""
    endpoint = DrippingEndpoint(headers_at_once=True)
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def dripping_endpoint() -> Iterator[DrippingEndpoint]:
    """An endpoint that answers one byte every 0.3 s (a minute per response); `.connections` counts."""
    endpoint = DrippingEndpoint()
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()
