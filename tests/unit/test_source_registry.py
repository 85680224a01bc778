"""A new source is its provider, its store and one entry in SOURCES: the reader, the check
of a location, the operator API's store and its summaries, the propagation the CLI states and
run's refusal to ramp all follow that entry, with no branch elsewhere to remember."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chaos_layer import control
from chaos_layer.control.stores import store_for
from chaos_layer.control.stores.base import Clients, Store, Write, Written
from chaos_layer.experiment import definition
from chaos_layer.source import ConfigReader, location_problem
from chaos_layer.source import base as sources
from chaos_layer.source.base import Provider, Source, Stored
from tests.runner.conftest import experiment_document

PREFIX = "memory://"
KEPT: dict[str, str] = {}  # what the memory source holds, by location


class MemoryProvider(Provider):
    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        return {location: Stored(location, KEPT[location]) for location in locations if location in KEPT}

    @staticmethod
    def check(location: str) -> None:
        if not location.removeprefix(PREFIX):
            raise ValueError(f"{location} names no memory cell: expected {PREFIX}NAME")


class MemoryStore(Store):
    source = "memory"

    def provider(self) -> Provider:
        return MemoryProvider()

    def _write(self, location: str, value: str, write: Write) -> Written:
        KEPT[location] = value
        return Written(location, None, None, source=self.source)

    @staticmethod
    def written(written: Written) -> str:
        return "a memory cell"


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> Source:
    entry = Source(
        "memory",
        PREFIX,
        f"{__name__}:MemoryProvider",
        f"{__name__}:MemoryStore",
        "a memory cell",
        propagation="the memory's own delay",
        ramp_refusal="memory forgets between steps",
    )
    monkeypatch.setattr(sources, "SOURCES", (entry, *sources.SOURCES))
    KEPT.clear()
    return entry


def test_the_reader_reads_a_registered_source(memory: Source) -> None:
    KEPT.update({"memory://config": '{"enabled": false}', "memory://kill": "off"})
    snapshot = ConfigReader("memory://config", "memory://kill").fetch()
    assert snapshot.config is not None
    assert snapshot.config.value == '{"enabled": false}'
    assert snapshot.kill_switch is not None
    assert snapshot.kill_switch.value == "off"


def test_a_malformed_location_is_refused_by_its_provider(memory: Source) -> None:
    assert location_problem("memory://") == "memory:// names no memory cell: expected memory://NAME"
    assert location_problem("memory://config") is None


def test_the_operator_api_writes_through_its_store_and_says_so_in_its_words(memory: Source) -> None:
    store = store_for("memory://config", Clients())
    assert isinstance(store, MemoryStore)
    assert Written("memory://config", None, None, source="memory").summary() == "a memory cell"
    controller = control.Controller(Clients(), "memory://config", "memory://kill")
    assert controller.propagation("memory://config") == "the memory's own delay"


def test_run_refuses_a_source_it_cannot_ramp_and_names_those_it_can(memory: Source) -> None:
    with pytest.raises(control.InvalidConfig) as caught:
        definition.parse_experiment(experiment_document(parameter="memory://config"))
    assert "parameter: must be an S3 object or an SSM parameter: memory forgets between steps" in [
        str(problem) for problem in caught.value.problems
    ]
