"""Where the operator API keeps configs and kill switches: one Store per source (base.py says
what each source guarantees), named by the source's entry in chaos_layer.source.base.SOURCES,
so that the operator API holds no per-source branches."""

from __future__ import annotations

from chaos_layer.control.stores.base import Clients, Store
from chaos_layer.source.base import load, source_of


def store_for(location: str, clients: Clients) -> Store:
    store: type[Store] = load(source_of(location).store)
    return store(clients)
