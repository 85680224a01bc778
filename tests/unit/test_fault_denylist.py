"""The `denylist` fault on its own: its host and port patterns (against real clients:
tests/functional/test_fault_denylist.py)."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_layer.config import parse_config
from chaos_layer.exceptions import ConfigError
from chaos_layer.faults import _network
from chaos_layer.faults.denylist import DenylistFault
from tests.unit.fault_harness import only_fault, problems


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"type": "denylist"}, ["faults[0].hosts: is required"]),
        ({"type": "denylist", "hosts": []}, ["faults[0].hosts: must not be empty"]),
        ({"type": "denylist", "hosts": "example.com"}, ["faults[0].hosts: must be an array, not a string"]),
        ({"type": "denylist", "hosts": ["ok.example.com"], "ports": []}, ["faults[0].ports: must not be empty"]),
    ],
)
def test_problems_name_the_key_and_the_rule(fault: dict[str, Any], expected: list[str]) -> None:
    assert problems(fault) == expected


@pytest.mark.parametrize("host", ["", " ", "exa mple.com", "example.com\n", "[::1]", "ex/ample", "a" * 254, "é.com"])
def test_invalid_host_patterns_are_config_errors(host: str) -> None:
    reported = problems({"type": "denylist", "hosts": ["fine.example.com", host]})
    assert len(reported) == 1
    assert reported[0].startswith("faults[0].hosts[1]: must be")


@pytest.mark.parametrize("port", [0, 65536, -1, 80.5, "80", True, None])
def test_invalid_ports_are_config_errors(port: object) -> None:
    assert problems({"type": "denylist", "hosts": ["example.com"], "ports": [443, port]}) == [
        "faults[0].ports[1]: must be a whole number between 1 and 65535"
    ]


def test_problems_never_echo_the_value() -> None:
    secret = "s3cr3t value"
    reported = problems({"type": "denylist", "hosts": [secret], "ports": [secret]})
    assert reported
    assert not any(secret in p for p in reported)


def test_a_denylist_that_fails_validation_never_patches_anything() -> None:
    with pytest.raises(ConfigError):
        parse_config({"enabled": True, "faults": [{"type": "denylist", "hosts": ["ok.example.com", "bad host"]}]})
    assert not _network.active()


class TestHostPatterns:
    def test_hosts_are_kept_in_canonical_form(self) -> None:
        fault = only_fault({"type": "denylist", "hosts": ["API.Example.COM.", "::FFFF:10.0.0.1", "0:0::1"]})
        assert isinstance(fault, DenylistFault)
        assert fault.hosts == ("api.example.com", "10.0.0.1", "::1")


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("08", "08"),  # not a number inet_aton takes: a name
        ("abc.def", "abc.def"),
        ("10.0.*", "10.0.*"),
    ],
)
def test_legacy_ipv4_forms_are_one_address(host: str, normalized: str) -> None:
    assert _network.normalize_host(host) == normalized
