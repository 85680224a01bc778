"""The `denylist` fault's mechanics: outbound connections to matching hosts are refused.

Every Python HTTP client (http.client, urllib3 and so requests and boto3, httpx, raw
sockets, asyncio) ends in `socket.socket.connect` or `connect_ex`, and resolves host names
with `socket.getaddrinfo` (or `gethostbyname`). While a denylist is in force those are
patched:

- a connection to a matching host name or IP literal fails with ConnectionRefusedError
  (errno ECONNREFUSED), as a closed port answers; `connect_ex` returns ECONNREFUSED;
- a host name that matches is still resolved, but the addresses it resolved to are
  remembered for the rest of the invocation, so connecting to them is refused too. (So
  denying `localhost` refuses 127.0.0.1 as well once `localhost` was resolved, on the
  denied ports if `ports` is given.)
- TLS connections opened before the invocation (keep-alive pools of module-level boto3
  clients and HTTP sessions) whose server name or address matches are cut on their next
  send (ConnectionResetError, then end-of-stream), as the network would cut them; a client
  that retries opens a new connection, which is refused. Plain-text (http://) connections
  opened before the invocation are not cut: only a socket's TLS side says which server
  name it was opened for, and in-process servers' sockets look the same as clients'.

Only TCP over IPv4/IPv6 is affected; Unix sockets and UDP are not, nor the Lambda Runtime
API the runtime itself talks to. Everything is restored when the last denylist of the
invocation ends (in `finally`, so also after a handler exception). Threads: the patch is
process-wide, see chaos_layer._patches for what that means in Lambda.
"""

from __future__ import annotations

import _socket
import contextlib
import errno
import functools
import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from typing import Any

from chaos_layer import _patches

# The IPv4 forms inet_aton (and so getaddrinfo and connect) accepts besides dotted quads:
# fewer parts (127.1), one number (2130706433), hex (0x7f.1) and octal (0177.0.0.1) parts.
_LEGACY_IPV4 = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}\Z")
# Connecting to an unspecified address reaches this host, as its loopback address would.
_UNSPECIFIED = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - matched, never bound


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 zone; IP literals in one canonical form (an
    IPv4-mapped IPv6 address as its IPv4 address, 127.1 or 2130706433 as 127.0.0.1)."""
    host = host.strip().lower().rstrip(".")
    address = host.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        if _LEGACY_IPV4.match(host):
            try:
                return socket.inet_ntoa(socket.inet_aton(host))
            except OSError:  # e.g. 08: not a number inet_aton takes, so a name
                pass
        return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def is_ip_literal(host: str) -> bool:
    """Whether a normalized host is an IP address (else a name that connect would resolve)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _always() -> bool:
    return True


class _Rule:
    __slots__ = ("on_effect", "patterns", "ports", "resolved")

    def __init__(
        self, patterns: tuple[str, ...], ports: frozenset[int], on_effect: Callable[[], bool] = _always
    ) -> None:
        self.patterns = patterns
        self.ports = ports
        # Asked before the rule refuses or cuts a connection: no (the experiment is over) lets it through.
        self.on_effect = on_effect
        # Addresses that names matching `patterns` resolved to during this invocation.
        self.resolved: set[str] = set()

    def matches_name(self, host: str) -> bool:
        return any(fnmatchcase(host, pattern) for pattern in self.patterns)

    def denies(self, host: str, port: Any) -> bool:
        if self.ports and port not in self.ports:
            return False
        return host in self.resolved or self.matches_name(host)


@contextmanager
def denied(
    hosts: tuple[str, ...], ports: tuple[int, ...] = (), on_effect: Callable[[], bool] = _always
) -> Iterator[None]:
    """Connections to `hosts` (on `ports`) refused in the block, each only if `on_effect()`
    says yes as it would be refused or cut."""
    with _PATCHES.applied(_Rule(hosts, frozenset(ports), on_effect)):
        yield


def active() -> bool:
    """Whether any denylist is in force (for tests and diagnostics)."""
    return _PATCHES.active()


def _runtime_api() -> tuple[str, int] | None:
    """Lambda's Runtime API (host:port), which is never refused."""
    host, _, port = os.environ.get("AWS_LAMBDA_RUNTIME_API", "").rpartition(":")
    return (normalize_host(host), int(port)) if host and port.isdigit() else None


def _denied(host: Any, port: Any, server_name: Any = None, family: int | None = None) -> bool:
    """Whether a connection to `host` is refused; the rule that refuses it is told. With
    `family` (a connect), a host name is resolved as connect itself would resolve it, and
    its addresses are checked too (connect resolves inside C, past getaddrinfo's patch)."""
    if _patches.exempted():  # the library's own read (of the kill switch, too) is never refused
        return False
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = normalize_host(host)
    if (host, port) == _runtime_api():
        return False
    names = [host]
    if server_name:
        names.append(normalize_host(str(server_name)))
    if host in _UNSPECIFIED:
        names.append(_UNSPECIFIED[host])
    rules = _PATCHES.rules
    refusing = [rule for rule in rules if any(rule.denies(name, port) for name in names)]
    if not refusing and family is not None and not is_ip_literal(host):
        addresses = _resolve(host, port, family)
        refusing = [rule for rule in rules if any(rule.denies(address, port) for address in addresses)]
    return any(rule.on_effect() for rule in refusing)


def _resolve(host: str, port: Any, family: int) -> list[str]:
    """The addresses a connect by name goes to (the socket module's own lookup, unpatched);
    none when the name does not resolve (connect then fails by itself)."""
    try:
        infos = _socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError, TypeError, OverflowError):
        return []
    return [normalize_host(str(info[4][0])) for info in infos]


def _is_outbound_tcp(sock: socket.socket) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM


def _refused() -> ConnectionRefusedError:
    return ConnectionRefusedError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))


def _refuses(sock: socket.socket, address: Any) -> bool:
    return (
        _is_outbound_tcp(sock)
        and isinstance(address, tuple)
        and len(address) >= 2
        and _denied(address[0], address[1], family=sock.family)
    )


def _connect(original: Any) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        if _PATCHES.rules and _refuses(self, address):
            raise _refused()
        return original(self, address)

    return connect


def _connect_ex(original: Any) -> Callable[..., Any]:
    def connect_ex(self: socket.socket, address: Any) -> Any:
        if _PATCHES.rules and _refuses(self, address):
            return errno.ECONNREFUSED
        return original(self, address)

    return connect_ex


def _tls_send(original: Any) -> Callable[..., Any]:
    """An already open TLS connection to a denied host is cut on its next send."""

    def send(self: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        if _PATCHES.rules and not getattr(self, "server_side", True) and _is_outbound_tcp(self):
            try:
                peer = self.getpeername()
            except OSError:
                peer = None
            if peer and _denied(peer[0], peer[1], getattr(self, "server_hostname", None)):
                # Dead both ways, as after a reset: clients that ignore a failed send to read
                # an early answer (urllib3 does) then read end-of-stream.
                with contextlib.suppress(OSError):
                    self.shutdown(socket.SHUT_RDWR)
                raise ConnectionResetError(errno.ECONNRESET, os.strerror(errno.ECONNRESET))
        return original(self, data, *args, **kwargs)

    return send


def _remember(host: Any, addresses: list[str]) -> None:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str) or not addresses:
        return
    name = normalize_host(host)
    for rule in _PATCHES.rules:
        if rule.matches_name(name):
            rule.resolved.update(normalize_host(a) for a in addresses)


def _resolver(addresses: Callable[[Any], list[str]]) -> Callable[[Any], Callable[..., Any]]:
    """Patches a name lookup so that, while a denylist is in force, the addresses a denied
    name resolves to (`addresses` of its result) are remembered."""

    def wrap(original: Any) -> Callable[..., Any]:
        @functools.wraps(original)
        def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(host, *args, **kwargs)
            if _PATCHES.rules:
                _remember(host, addresses(result))
            return result

        return resolve

    return wrap


_getaddrinfo = _resolver(lambda infos: [str(i[4][0]) for i in infos if i[0] in (socket.AF_INET, socket.AF_INET6)])
_gethostbyname = _resolver(lambda address: [address])
_gethostbyname_ex = _resolver(lambda result: list(result[2]))


def _targets() -> list[_patches.Target]:
    import ssl

    return [
        (socket.socket, "connect", _connect),
        (socket.socket, "connect_ex", _connect_ex),
        (ssl.SSLSocket, "send", _tls_send),
        (socket, "getaddrinfo", _getaddrinfo),
        (socket, "gethostbyname", _gethostbyname),
        (socket, "gethostbyname_ex", _gethostbyname_ex),
    ]


_PATCHES: _patches.Patches[_Rule] = _patches.Patches(_targets)
