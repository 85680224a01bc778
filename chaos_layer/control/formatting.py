"""How the operator's side shows numbers, durations and instants to people: one place, so
that the terminal, the live panel and the report show a rate, a span or a time alike."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from chaos_layer.control.errors import UsageError


def percent(rate: object) -> str:
    """A rate (0..1) as a percentage to four significant digits: `50%`, `0.5%`, `33.33%`;
    `-` for no value."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        return "-"
    return f"{float(rate) * 100:.4g}%"


def number(value: object) -> str:
    """A measured value to six significant digits, text as it is, `-` for no value."""
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def milliseconds(value: object) -> str:
    """A duration statistic in milliseconds, whole: `1,250 ms`; `-` for no value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{float(value):,.0f} ms"


def format_seconds(seconds: float) -> str:
    """A span for people: `45s`, `14m 32s`, `2h 5m`, `3d 4h` (a part of a second counts whole)."""
    total = max(0, math.ceil(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def span(seconds: object) -> str:
    """format_seconds for a value that may be missing (a journal's field): `-` then."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "-"
    return format_seconds(float(seconds))


def format_instant(value: datetime | float) -> str:
    """UTC with a Z, to the second: what `start` writes into expires_at. An instant that UTC
    cannot hold (9999-12-31T23:59:59-01:00) keeps its own offset."""
    try:
        instant = value if isinstance(value, datetime) else datetime.fromtimestamp(value, timezone.utc)
        return instant.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):
        if isinstance(value, datetime):
            return value.replace(microsecond=0).isoformat()
        raise UsageError("the time is out of range") from None


def clock_time(seconds: float) -> str:
    """The time of day of an instant, UTC: `14:03:27Z`."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%H:%M:%SZ")
