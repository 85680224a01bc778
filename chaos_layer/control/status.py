"""What `status` shows: the stored config and kill switch read through the library's own reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaos_layer.config import (
    FILTER_KEYS,
    TOP_LEVEL_KEYS,
    Config,
)
from chaos_layer.constants import kill_switch_engaged
from chaos_layer.control.formatting import format_instant
from chaos_layer.control.stores.base import (
    Deployment,
)
from chaos_layer.exceptions import Problem

# The keys of the config every version knows; `status` shows the others as blast-radius limits.
CORE_KEYS = TOP_LEVEL_KEYS - set(FILTER_KEYS)


@dataclass(frozen=True)
class Status:
    """Everything `status` shows, computed at one instant."""

    parameter: str
    kill_switch: str
    now: float
    max_age: float
    found: bool = False
    idle_max_age: float | None = None
    parameter_type: str | None = None
    version: int | None = None
    legacy: bool = False
    config: Config | None = None
    document: dict[str, Any] | None = None  # the valid config as stored
    problems: list[Problem] = field(default_factory=list)
    kill_switch_value: str | None = None
    source: str = "ssm"  # ssm, s3 or appconfig: where the config lives
    token: str | None = None  # S3: the object's ETag
    deployment: Deployment | None = None  # AppConfig: the config profile's latest deployment
    kill_switch_source: str = "ssm"
    kill_switch_deployment: Deployment | None = None

    @property
    def killed(self) -> bool:
        return kill_switch_engaged(self.kill_switch_value)

    @property
    def expires_in(self) -> float | None:
        expiry = self.config.expires_at_epoch() if self.config else None
        return None if expiry is None else expiry - self.now

    @property
    def active(self) -> bool:
        """Faults are drawn now (and injected, unless this is a dry run)."""
        return not self.killed and self.config is not None and self.config.is_active(self.now)

    @property
    def dry_run(self) -> bool:
        return bool(getattr(self.config, "dry_run", False))

    @property
    def injecting(self) -> bool:
        return self.active and not self.dry_run

    @property
    def blast_radius(self) -> dict[str, Any]:
        """The config's other limits on who is affected (targets, match, cohort, ...), as stored."""
        if self.document is None or self.legacy:
            return {}
        return {key: value for key, value in self.document.items() if key not in CORE_KEYS}

    @property
    def reason(self) -> str:
        """Why injection is (not) happening, in a few words."""
        if not self.found:
            return "nothing is stored at the config's location"
        if self.problems:
            return "the config is invalid"
        if self.killed:
            return "the kill switch is engaged"
        config = self.config
        assert config is not None
        if not config.enabled:
            return "the config is disabled"
        if not config.faults:
            return "the config has no faults"
        if self.expires_in is not None and self.expires_in <= 0:
            return "the experiment has expired"
        if self.dry_run:
            return "dry run: faults are logged, not injected"
        return "the experiment is running"

    def to_dict(self) -> dict[str, Any]:
        """The JSON `status --json` prints."""
        config = self.config
        return {
            "injecting": self.injecting,
            "reason": self.reason,
            "now": format_instant(self.now),
            "parameter": {
                "name": self.parameter,
                "source": self.source,
                "found": self.found,
                "type": self.parameter_type,
                "version": self.version,
                "etag": self.token if self.source == "s3" else None,
                "deployment": None if self.deployment is None else self.deployment.to_dict(),
                "format": None if not self.found else "chaos-lambda" if self.legacy else "chaos-layer",
                "valid": self.found and not self.problems,
                "problems": [{"location": p.location, "message": p.message} for p in self.problems],
            },
            "config": None
            if config is None
            else {
                "enabled": config.enabled,
                "experiment": config.experiment,
                "rate": config.rate,
                "expires_at": None if config.expires_at is None else format_instant(config.expires_at),
                "seconds_left": None if self.expires_in is None else max(0.0, self.expires_in),
                "dry_run": self.dry_run,
                "control_group": config.control_group,
                "blast_radius": self.blast_radius,
                "faults": [fault.settings() for fault in config.faults],
            },
            "kill_switch": {
                "name": self.kill_switch,
                "source": self.kill_switch_source,
                "engaged": self.killed,
                "value": self.kill_switch_value,
                "deployment": None if self.kill_switch_deployment is None else self.kill_switch_deployment.to_dict(),
            },
            "max_age": self.max_age,
            "idle_max_age": self.max_age if self.idle_max_age is None else self.idle_max_age,
        }
