"""Shared by the functional tests of the fault types: a handler decorated with a config of
these faults, read from the moto server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from random import Random
from typing import Any

from chaos_layer import inject_fault
from tests.conftest import MotoServer, RecordingSleep

PARAMETER = "/chaos-layer/more-faults"


def with_chaos(moto_server: MotoServer, sleeps: RecordingSleep, *faults: dict[str, Any]) -> Callable[[Any], Any]:
    moto_server.put(PARAMETER, json.dumps({"enabled": True, "experiment": "more", "faults": list(faults)}))
    return inject_fault(
        parameter=PARAMETER,
        max_age=0,
        idle_max_age=0,
        boto3_client=moto_server.client(),
        random=Random(11),
        sleep=sleeps,
    )
