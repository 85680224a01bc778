"""`chaos-layer report`: a run's journal as one self-contained HTML page.

Everything is inline (styles, and the charts as SVG drawn by pygal without its tooltip
script), so the page opens from a file, an e-mail attachment or an incident ticket with no
network. The page comes from Jinja2 templates (templates/) with autoescape on: every value
from the journal is text, never markup; only the charts' SVG goes in as it is.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from chaos_layer import control
from chaos_layer.control.extras import install_command
from chaos_layer.control.formatting import milliseconds, number, percent, span
from chaos_layer.experiment import charts
from chaos_layer.experiment.journal import CheckRecord, Journal, MalformedJournal
from chaos_layer.experiment.settings_faults import settings_rows

HEADLINES = {
    "held": "Hypothesis held",
    "rejected": "Hypothesis rejected",
    "aborted": "Aborted before the start",
    "interrupted": "Interrupted",
    "inconclusive": "Inconclusive",
}


def load_journal(path: str) -> Journal:
    """Raises UsageError when the file cannot be read or is not a journal, naming the field
    that is missing or wrong."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, UnicodeDecodeError) as error:
        raise control.UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    except json.JSONDecodeError as error:
        raise control.UsageError(f"{path} is not a journal: not JSON (line {error.lineno})") from None
    if not isinstance(data, dict) or any(key not in data for key in Journal.REQUIRED):
        raise control.UsageError(f"{path} is not a journal of chaos-layer run")
    try:
        return Journal.from_json(data)
    except MalformedJournal as error:
        raise control.UsageError(f"{path} is not a journal of chaos-layer run: {error}") from None


def render(journal: Journal | Mapping[str, Any]) -> str:
    """The whole page."""
    environment = _environment()
    if not isinstance(journal, Journal):
        try:
            journal = Journal.from_json(journal)
        except MalformedJournal as error:
            raise control.UsageError(f"not a journal of chaos-layer run: {error}") from None
    headline, reason = verdict_text(journal)
    interruption = journal.interruption
    page: str = environment.get_template("report.html.j2").render(
        journal=journal,
        headline=headline,
        reason=reason,
        verdict=journal.verdict.value if journal.verdict is not None else "unfinished",
        interruption_said="; ".join(text for text in (interruption.change, interruption.error) if text)
        if interruption is not None
        else "",
        breach=_breach(journal),
        checks=[_check(journal, definition) for definition in journal.steady_state],
        ramp_chart=charts.ramp_chart(journal),
        summary=_summary(journal),
        writes=_writes(journal),
        settings=settings_rows(list(journal.settings or [])),
        now=_now(),
    )
    return page


def verdict_text(journal: Journal) -> tuple[str, str]:
    """The headline and the sentence that explains it."""
    if journal.verdict is None:
        times = [reading.at for reading in journal.checks] + [write.at for write in journal.writes]
        last = max(times) if times else None
        return "Unfinished", (
            f"The journal ends at {last or journal.started_at}, without a verdict: the runner was killed or"
            f" crashed. The config it wrote expires at {journal.expires_at or 'its expires_at'} at the latest."
        )
    return HEADLINES[journal.verdict.value], journal.reason or ""


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    try:
        import pygal  # noqa: F401
    except ImportError:
        raise control.UsageError(f"the report's charts need pygal (the cli extra): {install_command()}") from None
    try:
        import jinja2
    except ImportError:
        raise control.UsageError(f"the report's page needs jinja2 (the cli extra): {install_command()}") from None
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("chaos_layer.experiment", "templates"),
        autoescape=True,  # every template, whatever its name: a journal is data, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Callable[[Any], str]] = {
        "number": number,
        "percent": percent,
        "span": span,
        "clock": charts.clock,
    }
    environment.filters.update(filters)
    return environment


# what each part of the page shows


Rows = list[tuple[str, object]]


def _breach(journal: Journal) -> Rows | None:
    breach, stop = journal.breach, journal.stop
    if breach is None:
        return None
    if stop is None:
        stopped: object = "-"
    else:
        stopped = stop.at or f"not written: {stop.error}"
    rows: Rows = [
        ("check", breach.check),
        ("value", number(breach.value)),
        ("status", breach.status),
        ("detail", breach.detail),
        ("at", breach.at),
        ("when", f"step {breach.step}" if breach.step else "after the end"),
        ("config disabled at", stopped),
        ("every function stopped by", (stop.reaches_all_by if stop is not None else None) or "-"),
    ]
    if stop is not None and stop.kill_switch:
        rows.append(("kill switch", "engaged" if stop.kill_switch_engaged else "not engaged"))
    return rows


def _summary(journal: Journal) -> Rows:
    document = journal.file.document if journal.file is not None else {}
    rows: Rows = [
        ("parameter", journal.parameter),
        ("kill switch", journal.kill_switch),
        ("on breach", journal.on_breach),
        ("faults", json.dumps(document.get("faults"), ensure_ascii=False)),
    ]
    if document.get("blast_radius"):
        rows.append(("blast radius", json.dumps(document.get("blast_radius"), ensure_ascii=False)))
    lease = journal.lease
    rows += [
        ("poll", span(journal.poll)),
        ("cache period", f"{span(journal.max_age)} (CHAOS_LAYER_MAX_AGE)"),
        ("started", journal.started_at),
        ("ended", journal.ended_at or "-"),
        ("lease", f"{span(lease)} (2 x poll + 60 s, renewed at every poll)" if lease is not None else "-"),
        ("config expires at", journal.expires_at or "-"),
        ("file", journal.file.path if journal.file is not None else None),
    ]
    timeout = journal.function_timeout
    if timeout is not None:
        rows.append(("function timeout", f"{span(timeout.seconds)} ({timeout.found})"))
    if journal.error:
        rows.append(("error", journal.error))
    return rows


def _writes(journal: Journal) -> list[tuple[str, str, str]]:
    """Each write: when, which action, and what it wrote (or why it did not)."""
    rows = []
    for write in journal.writes:
        config = write.config or {}
        if write.error:
            what = f"failed: {write.error}"
        elif write.action == "kill":
            what = f"kill switch {write.parameter} engaged"
        else:
            state = "enabled" if config.get("enabled") else "disabled"
            what = f"{write.parameter} version {write.version}: {state}, rate {percent(config.get('rate'))}"
        rows.append((write.at, write.action, what))
    return rows


@dataclass(frozen=True)
class CheckView:
    """One check as its template (templates/checks/KIND.html.j2) shows it."""

    kind: str
    title: str
    readings: list[CheckRecord]
    chart: str | None = None  # SVG
    extra: dict[str, Any] = field(default_factory=dict)


def _check(journal: Journal, definition: Mapping[str, Any]) -> CheckView:
    readings = journal.readings(str(definition.get("check")))
    return SECTIONS.get(str(definition.get("kind")), _unknown)(journal, definition, readings)


def _alarm(journal: Journal, definition: Mapping[str, Any], readings: list[CheckRecord]) -> CheckView:
    return CheckView("alarm", f"{definition.get('check')}: must be OK", readings)


def _metric(journal: Journal, definition: Mapping[str, Any], readings: list[CheckRecord]) -> CheckView:
    bounds = ", ".join(
        f"{key} {number(definition.get(key))}" for key in ("min", "max") if definition.get(key) is not None
    )
    title = f"{definition.get('check')}: must stay within {bounds} (period {definition.get('period')} s)"
    return CheckView("metric", title, readings, charts.metric_chart(journal, definition, readings))


def _unknown(journal: Journal, definition: Mapping[str, Any], readings: list[CheckRecord]) -> CheckView:
    """A kind this report does not know (a journal of a later version): listed, never drawn as
    something it is not."""
    return CheckView("unknown", f"{definition.get('check')}: a {definition.get('kind')} check", readings)


def _comparison(journal: Journal, definition: Mapping[str, Any], readings: list[CheckRecord]) -> CheckView:
    """A comparison: both groups over time, the difference and its bounds against the allowed
    increase, the sample sizes at every poll, and the verdict in words."""
    name = str(definition.get("check"))
    errors = definition.get("compare") == "errors"
    if errors:
        allowed = f"{_number(float(definition.get('max_increase') or 0) * 100)} points"
        title = f"{name}: the error rate of the treatment at most {allowed} above the control"
    else:
        allowed = f"{_number(definition.get('max_increase_ms'))} ms"
        title = (
            f"{name}: the {definition.get('statistic')} duration of the treatment at most {allowed} above the control"
        )
    judged = [reading for reading in readings if reading.comparison is not None]
    final = next((reading for reading in reversed(judged) if reading.phase == "after"), None)
    if journal.breach is not None and journal.breach.check == name:
        final = journal.breach
    last = final or (judged[-1] if judged else None)
    compared = last.comparison if last is not None else None
    words = str((compared or {}).get("words") or "Never compared: the run ended before a poll.")
    if last is not None and last is not final:
        words = f"At the last poll ({charts.clock(last.at)}), before the run ended: {words}"
    level = definition.get("level") or "95 %"
    needs, floor = definition.get("needs"), definition.get("min_samples")
    notes = []
    if isinstance(needs, int):
        tail = "" if needs == floor else ", and 10 beyond the percentile"
        notes.append(
            f"Each group needs {needs:,} invocations before the comparison can judge (min_samples {floor}{tail})."
        )
    if errors:
        notes.append(
            f"The bounds are Newcombe's interval for the difference of two proportions, each a one-sided"
            f" {level} bound: a breach at any poll is a safety stop, judged at {level} per look; a pass is judged"
            " once, at the end, on all the data."
        )
    else:
        notes.append("A breach needs two polls in a row above the allowed increase; a pass is judged at the end.")
    extra = {
        "words": words[:1].upper() + words[1:],
        "status": last.status if last is not None else "no_data",
        "groups": charts.group_chart(judged, errors),
        "difference": charts.difference_chart(judged, errors, definition),
        "notes": notes,
        "head": "difference [bounds] (points)" if errors else "difference",
        "samples": [_samples(reading, errors) for reading in judged],
    }
    return CheckView("compare", title, judged, extra=extra)


# How the report shows each kind of check: the view its template (templates/checks/) draws.
SECTIONS: dict[str, Callable[[Journal, Mapping[str, Any], list[CheckRecord]], CheckView]] = {
    "alarm": _alarm,
    "metric": _metric,
    "compare": _comparison,
}


def _samples(reading: CheckRecord, errors: bool) -> tuple[list[str], str]:
    """One poll of a comparison: each group's invocations and rate (or duration), the difference."""
    comparison = reading.comparison or {}
    cells = [reading.at, reading.phase]
    for group in ("treatment", "control"):
        side = comparison.get(group) or {}
        shown = percent(side.get("rate")) if errors else milliseconds(side.get("statistic"))
        cells.append(f"{side.get('invocations', 0):,} ({shown})")
    difference = comparison.get("difference")
    if not isinstance(difference, (int, float)):
        cells.append("-")
    elif errors:
        lower, upper = float(comparison.get("lower", 0)) * 100, float(comparison.get("upper", 0)) * 100
        cells.append(f"{difference * 100:+.2f} [{lower:+.2f}, {upper:+.2f}]")
    else:
        cells.append(f"{difference:+.0f} ms")
    return cells, reading.status


def _number(found: object) -> str:
    """An allowed increase, to four significant digits."""
    return f"{float(found):.4g}" if isinstance(found, (int, float)) else "-"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
