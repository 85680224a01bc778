"""One HTTP request with an overall deadline, for the library's own reads (signed SSM and S3
requests, the AppConfig agent).

A client's timeouts bound each wait for the socket, not the whole answer: a server that sends
a byte every 0.9 s holds a read for as long as it likes. Here each receive waits at most
READ_TIMEOUT and never past the deadline, and at the deadline the connection is closed,
however slowly the answer comes: nothing of the read outlives it. The standard library's
http.client parses the answer; nothing is added to the layer.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from chaos_layer.source.base import MAX_DOCUMENT_BYTES, READ_DEADLINE, SourceError

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 1.0  # per receive, as the clients' read_timeout
_PIECE = 64 * 1024


class Answer(NamedTuple):
    status: int
    reason: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class TransportError(Exception):
    """The request failed before an answer came (its cause is the socket's error)."""


class ConnectFailed(TransportError):
    """Nothing answered at the address (refused, unreachable, no such host)."""


class ConnectTimedOut(ConnectFailed):
    pass


class TlsFailed(ConnectFailed):
    """The TLS handshake failed (a certificate that does not verify, among others)."""


class ReadTimedOut(TransportError):
    """One receive waited READ_TIMEOUT for nothing."""


class Closed(TransportError):
    """The server closed the connection, or answered what is not HTTP."""


def exchange(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    context: ssl.SSLContext | None = None,
) -> Answer:
    """Send one request and read its whole answer by `deadline` (monotonic). Raises a
    TransportError, or a SourceError `ReadTimeout` (past the deadline) or `DocumentTooLarge`."""
    parts = urlsplit(url)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    left = deadline - clock()
    if left <= 0:
        raise SourceError("ReadTimeout", f"the request to {url} did not start within {READ_DEADLINE:g} s")
    timeout = min(CONNECT_TIMEOUT, left)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.netloc, timeout=timeout, context=context)
    else:
        connection = _Connection(parts.netloc, timeout=timeout)
    try:
        try:
            connection.connect()
        except TimeoutError as error:
            raise ConnectTimedOut from error
        except ssl.SSLError as error:
            raise TlsFailed from error
        except OSError as error:
            raise ConnectFailed from error
        try:
            connection.request(method, path, body=body, headers=dict(headers))
            assert connection.sock is not None
            response = http.client.HTTPResponse(_Bounded(connection.sock, deadline, clock), method=method)  # type: ignore[arg-type]
            response.begin()
            data = bytearray()
            while piece := response.read(_PIECE):
                data += piece
                if len(data) > MAX_DOCUMENT_BYTES:
                    raise SourceError("DocumentTooLarge", f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
        except _PastDeadline:
            raise SourceError("ReadTimeout", f"the answer took longer than {READ_DEADLINE:g} s to arrive") from None
        except TimeoutError as error:
            raise ReadTimedOut from error
        except (http.client.HTTPException, OSError) as error:
            raise Closed from error
        headers_in = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, response.reason, headers_in, bytes(data))
    finally:
        connection.close()  # at the deadline at the latest


class _Connection(http.client.HTTPConnection):
    def connect(self) -> None:
        """As http.client connects, with the host name as bytes when it is ASCII: a str makes
        getaddrinfo load the IDNA codec (~1 ms at a new environment's first read)."""
        host: str | bytes = self.host.encode("ascii") if self.host.isascii() else self.host
        self.sock = socket.create_connection((host, self.port), self.timeout)  # type: ignore[arg-type]
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PastDeadline(TimeoutError):
    """The deadline came before the whole answer."""


class _Bounded:
    """The socket as HTTPResponse reads it (`makefile`): each receive waits at most
    READ_TIMEOUT and never past the deadline."""

    def __init__(self, sock: socket.socket, deadline: float, clock: Callable[[], float]) -> None:
        self._sock = sock
        self._deadline = deadline
        self._clock = clock

    def makefile(self, mode: str) -> Any:
        return io.BufferedReader(_Reader(self))

    def receive(self, buffer: Any) -> int:
        left = self._deadline - self._clock()
        if left <= 0:
            raise _PastDeadline
        self._sock.settimeout(min(READ_TIMEOUT, left))
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            if self._clock() >= self._deadline:
                raise _PastDeadline from None
            raise


class _Reader(io.RawIOBase):
    def __init__(self, bounded: _Bounded) -> None:
        self._bounded = bounded

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._bounded.receive(buffer)
