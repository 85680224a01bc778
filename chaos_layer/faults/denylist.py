"""`denylist`: outbound connections to some hosts are refused (mechanics: _network.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos_layer.contract import ListOf, Number, Text, field
from chaos_layer.faults.base import IN_STEPS, Fault, Invocation

# Host names, IP literals and glob patterns of them; brackets are refused so an IPv6
# literal is written without them.
HOST_PATTERN = r"[A-Za-z0-9.*?_:%-]+\Z"
MAX_HOST_LENGTH = 253


def _normalize_host(host: str) -> str:
    from chaos_layer.faults._network import normalize_host  # light: socket and ipaddress only

    return normalize_host(host)


class DenylistFault(Fault):
    """Outbound TCP connections to matching hosts (and `ports`) are refused during the
    invocation, whatever client makes them."""

    type = "denylist"
    durable = IN_STEPS
    description = (
        "Outbound TCP connections to matching hosts (and ports) are refused (ConnectionRefusedError) during the"
        " invocation, whatever client makes them."
    )
    examples = ({"type": "denylist", "hosts": ["api.example.com", "10.0.*"], "ports": [443]},)
    hosts: tuple[str, ...] = field(
        ListOf(
            Text(
                rules=((HOST_PATTERN, "must be a host name, IP address or glob pattern such as *.example.com"),),
                max_length=MAX_HOST_LENGTH,
                normalize=_normalize_host,
                label="host pattern",
            ),
            non_empty=True,
        ),
        "Host names, IP addresses or glob patterns (* and ?), such as *.amazonaws.com or 10.0.*.",
    )
    ports: tuple[int, ...] = field(
        ListOf(Number(1, 65535, integer=True), non_empty=True), "Only these ports; default: every port.", default=()
    )
    steps: tuple[str, ...] = Fault.steps_field()

    def prepare(self) -> None:
        from chaos_layer.faults import _network  # noqa: F401

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        from chaos_layer.faults import _network

        # Logged and counted when it first refuses (or cuts) a connection; none is refused
        # once the experiment is over.
        with _network.denied(self.hosts, self.ports, lambda: invocation.takes_effect(self)):
            return proceed()
