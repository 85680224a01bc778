"""Where the operator API keeps configs and kill switches: one Store per source (base.py says
what each source guarantees), so that the operator API holds no per-source branches."""

from __future__ import annotations

from chaos_layer.control.stores.appconfig import AppConfigStore
from chaos_layer.control.stores.base import Clients, Store
from chaos_layer.control.stores.s3 import S3Store
from chaos_layer.control.stores.ssm import SSMStore
from chaos_layer.source import kind
from chaos_layer.source.base import APPCONFIG, S3, SSM


def store_for(location: str, clients: Clients) -> Store:
    stores: dict[str, type[SSMStore | S3Store | AppConfigStore]] = {
        SSM: SSMStore,
        S3: S3Store,
        APPCONFIG: AppConfigStore,
    }
    return stores[kind(location)](clients)
