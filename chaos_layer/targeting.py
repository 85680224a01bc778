"""Who is inside the blast radius, and which faults each selected invocation gets."""

from __future__ import annotations

from random import Random
from typing import Any

from chaos_layer.config import Config
from chaos_layer.faults import Fault


def in_blast_radius(config: Config, event: Any, context: Any, random: Random) -> bool:
    return config.rate >= 1 or random.random() < config.rate


def draw_faults(config: Config, random: Random) -> list[Fault]:
    return [fault for fault in config.faults if fault.rate >= 1 or random.random() < fault.rate]
