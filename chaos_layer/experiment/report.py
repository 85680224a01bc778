"""`chaos-layer report`: a run's journal as one self-contained HTML page.

Everything is inline (styles, and the charts as SVG drawn by pygal without its tooltip
script), so the page opens from a file, an e-mail attachment or an incident ticket with no
network. Every value from the journal is escaped: a journal is data, never markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from chaos_layer import control
from chaos_layer.control.extras import install_command
from chaos_layer.control.formatting import milliseconds, number, percent, span
from chaos_layer.experiment.settings_faults import settings_rows

HEADLINES = {
    "held": "Hypothesis held",
    "rejected": "Hypothesis rejected",
    "aborted": "Aborted before the start",
    "interrupted": "Interrupted",
    "inconclusive": "Inconclusive",
}
COLOURS = {"ok": "#1a7f37", "breach": "#cf222e", "no_data": "#9a6700", "insufficient": "#9a6700"}
REQUIRED = ("experiment", "hypothesis", "started_at", "steps", "checks")


def load_journal(path: str) -> dict[str, Any]:
    """Raises UsageError when the file cannot be read or is not a journal."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, UnicodeDecodeError) as error:
        raise control.UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    except json.JSONDecodeError as error:
        raise control.UsageError(f"{path} is not a journal: not JSON (line {error.lineno})") from None
    if not isinstance(data, dict) or any(key not in data for key in REQUIRED):
        raise control.UsageError(f"{path} is not a journal of chaos-layer run")
    return data


def render(journal: Mapping[str, Any]) -> str:
    """The whole page."""
    try:
        import pygal  # noqa: F401
    except ImportError:
        raise control.UsageError(f"the report's charts need pygal (the cli extra): {install_command()}") from None
    title = f"{journal.get('experiment', '?')}: chaos experiment report"
    body = [
        _verdict(journal),
        _section("Hypothesis", f"<blockquote>{_e(journal.get('hypothesis', ''))}</blockquote>"),
        _breach(journal),
        _section("Steady state", "".join(_check(journal, d) for d in journal.get("steady_state") or [])),
        _section("Ramp", _ramp_chart(journal) + _steps_table(journal)),
        _section("Experiment", _summary(journal)),
        _section("Config writes", _writes(journal)),
        _section("Function settings", _settings(journal)),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
        f"<style>{CSS}</style></head><body><main>"
        f"<h1>{_e(journal.get('experiment', '?'))}</h1>" + "".join(body) + "<footer>chaos-layer run journal, "
        f"rendered {_e(_now())}</footer></main></body></html>\n"
    )


def verdict_text(journal: Mapping[str, Any]) -> tuple[str, str]:
    """The headline and the sentence that explains it."""
    verdict = journal.get("verdict")
    if verdict is None:
        last = _last_event(journal)
        return "Unfinished", (
            f"The journal ends at {last or journal.get('started_at')}, without a verdict: the runner was killed or"
            f" crashed. The config it wrote expires at {journal.get('expires_at') or 'its expires_at'} at the latest."
        )
    return HEADLINES.get(str(verdict), str(verdict)), str(journal.get("reason") or "")


def _verdict(journal: Mapping[str, Any]) -> str:
    headline, reason = verdict_text(journal)
    verdict = str(journal.get("verdict") or "unfinished")
    code = journal.get("exit_code")
    exit_note = "" if code is None else f" <span class='code'>exit code {_e(code)}</span>"
    interruption = journal.get("interruption")
    cause = ""
    if isinstance(interruption, Mapping) and interruption.get("cause"):
        said = "; ".join(str(interruption[key]) for key in ("change", "error") if interruption.get(key))
        cause = (
            f"<p class='reason'><strong>Interruption:</strong> {_e(interruption['cause'])}"
            + (f" ({_e(said)})" if said else "")
            + "</p>"
        )
    return (
        f"<section class='verdict {_e(verdict)}' id='verdict'><p class='headline'>{_e(headline)}{exit_note}</p>"
        f"<p class='reason'>{_e(reason)}</p>{cause}</section>"
    )


def _breach(journal: Mapping[str, Any]) -> str:
    breach = journal.get("breach")
    stop = journal.get("stop") or {}
    if not isinstance(breach, Mapping):
        return ""
    rows = [
        ("check", breach.get("check")),
        ("value", number(breach.get("value"))),
        ("status", breach.get("status")),
        ("detail", breach.get("detail")),
        ("at", breach.get("at")),
        ("when", f"step {breach.get('step')}" if breach.get("step") else "after the end"),
        ("config disabled at", stop.get("at") or ("not written: " + str(stop.get("error")) if stop else "-")),
        ("every function stopped by", stop.get("reaches_all_by") or "-"),
    ]
    if stop.get("kill_switch"):
        rows.append(("kill switch", "engaged" if stop.get("kill_switch_engaged") else "not engaged"))
    return _section("Breach", _table(rows), css="breach")


def _summary(journal: Mapping[str, Any]) -> str:
    document = (journal.get("file") or {}).get("document") or {}
    rows: list[tuple[str, Any]] = [
        ("parameter", journal.get("parameter")),
        ("kill switch", journal.get("kill_switch")),
        ("on breach", journal.get("on_breach")),
        ("faults", json.dumps(document.get("faults"), ensure_ascii=False)),
    ]
    if document.get("blast_radius"):
        rows.append(("blast radius", json.dumps(document.get("blast_radius"), ensure_ascii=False)))
    rows += [
        ("poll", span(journal.get("poll"))),
        ("cache period", f"{span(journal.get('max_age'))} (CHAOS_LAYER_MAX_AGE)"),
        ("started", journal.get("started_at")),
        ("ended", journal.get("ended_at") or "-"),
        (
            "lease",
            f"{span(journal.get('lease'))} (2 x poll + 60 s, renewed at every poll)"
            if journal.get("lease") is not None
            else "-",
        ),
        ("config expires at", journal.get("expires_at") or "-"),
        ("file", (journal.get("file") or {}).get("path")),
    ]
    timeout = journal.get("function_timeout")
    if isinstance(timeout, Mapping):
        rows.append(("function timeout", f"{span(timeout.get('seconds'))} ({timeout.get('found')})"))
    if journal.get("error"):
        rows.append(("error", journal.get("error")))
    return _table(rows)


def _steps_table(journal: Mapping[str, Any]) -> str:
    steps = journal.get("steps") or []
    if not steps:
        return "<p class='note'>No step was started: nothing was written.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{_e(step.get('step'))}</td><td>{_e(percent(step.get('rate')))}</td><td>{_e(span(step.get('hold')))}</td>"
        f"<td>{_e(step.get('started_at'))}</td><td>{_e(step.get('ended_at') or '-')}</td>"
        f"<td>{'completed' if step.get('completed') else 'stopped early'}</td></tr>"
        for step in steps
    )
    return (
        "<table class='grid'><thead><tr><th>step</th><th>rate</th><th>hold</th><th>started</th><th>ended</th>"
        f"<th></th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _writes(journal: Mapping[str, Any]) -> str:
    writes = journal.get("writes") or []
    if not writes:
        return "<p class='note'>None: nothing was written.</p>"
    rows = []
    for write in writes:
        config = write.get("config") or {}
        if write.get("error"):
            what = f"failed: {write.get('error')}"
        elif write.get("action") == "kill":
            what = f"kill switch {write.get('parameter')} engaged"
        else:
            state = "enabled" if config.get("enabled") else "disabled"
            rate = percent(config.get("rate"))
            what = f"{write.get('parameter')} version {write.get('version')}: {state}, rate {rate}"
        rows.append(f"<tr><td>{_e(write.get('at'))}</td><td>{_e(write.get('action'))}</td><td>{_e(what)}</td></tr>")
    return f"<table class='grid'><tbody>{''.join(rows)}</tbody></table>"


Readings = Sequence[Mapping[str, Any]]


def _alarm(journal: Mapping[str, Any], definition: Mapping[str, Any], readings: Readings) -> tuple[str, str]:
    return f"{definition.get('check')}: must be OK", _strip(readings)


def _metric(journal: Mapping[str, Any], definition: Mapping[str, Any], readings: Readings) -> tuple[str, str]:
    bounds = ", ".join(
        f"{label} {number(definition.get(key))}"
        for key, label in (("min", "min"), ("max", "max"))
        if definition.get(key) is not None
    )
    title = f"{definition.get('check')}: must stay within {bounds} (period {definition.get('period')} s)"
    return title, _metric_chart(journal, definition, readings)


def _unknown(journal: Mapping[str, Any], definition: Mapping[str, Any], readings: Readings) -> tuple[str, str]:
    """A kind this report does not know (a journal of a later version): listed, never drawn as
    something it is not."""
    title = f"{definition.get('check')}: a {definition.get('kind')} check"
    return (
        title,
        "<p class='note'>This version of the report does not draw this kind of check; its readings follow.</p>",
    )


# How the report draws each kind of check: its title and its picture (a comparison draws its
# whole section, _comparison); the readings' table follows for all of them.
SECTIONS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any], Readings], tuple[str, str]]] = {
    "alarm": _alarm,
    "metric": _metric,
}


def _check(journal: Mapping[str, Any], definition: Mapping[str, Any]) -> str:
    name = str(definition.get("check"))
    readings = [r for r in journal.get("checks") or [] if r.get("check") == name]
    if definition.get("kind") == "compare":
        return _comparison(journal, definition, readings)
    title, body = SECTIONS.get(str(definition.get("kind")), _unknown)(journal, definition, readings)
    listing = "".join(
        f"<tr><td>{_e(r.get('at'))}</td><td>{_e(r.get('phase'))}</td><td>{_e(r.get('step') or '')}</td>"
        f"<td>{_e(number(r.get('value')))}</td><td class='{_e(r.get('status'))}'>{_e(r.get('status'))}</td>"
        f"<td>{_e(r.get('detail'))}</td></tr>"
        for r in readings
    )
    table = (
        f"<details><summary>{len(readings)} readings</summary><table class='grid'><thead><tr><th>at</th><th>phase</th>"
        f"<th>step</th><th>value</th><th>status</th><th>detail</th></tr></thead><tbody>{listing}</tbody></table></details>"
    )
    return f"<div class='check'><h3>{_e(title)}</h3>{body}{table}</div>"


def _strip(readings: Sequence[Mapping[str, Any]]) -> str:
    """An alarm's states over time, one cell per reading."""
    if not readings:
        return "<p class='note'>Never read.</p>"
    cells = "".join(
        f"<span class='cell {_e(r.get('status'))}' title='{_e(r.get('at'))}: {_e(r.get('value') or 'no data')}'>"
        f"{_e(_clock(r.get('at')))} {_e(r.get('value') or 'no data')}</span>"
        for r in readings
    )
    return f"<div class='strip'>{cells}</div>"


def _comparison(
    journal: Mapping[str, Any], definition: Mapping[str, Any], readings: Sequence[Mapping[str, Any]]
) -> str:
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
    judged = [r for r in readings if isinstance(r.get("comparison"), Mapping)]
    final = next((r for r in reversed(judged) if r.get("phase") == "after"), None)
    breach = journal.get("breach")
    if isinstance(breach, Mapping) and breach.get("check") == name:
        final = breach
    last = final or (judged[-1] if judged else None)
    words = str((last or {}).get("comparison", {}).get("words") or "Never compared: the run ended before a poll.")
    if last is not None and last is not final:
        words = f"At the last poll ({_clock(last.get('at'))}), before the run ended: {words}"
    status = str((last or {}).get("status") or "no_data")
    needs = definition.get("needs")
    floor = definition.get("min_samples")
    notes = []
    if isinstance(needs, int):
        tail = "" if needs == floor else ", and 10 beyond the percentile"
        notes.append(
            f"Each group needs {needs:,} invocations before the comparison can judge (min_samples {floor}{tail})."
        )
    if errors:
        notes.append(
            f"The bounds are Newcombe's interval for the difference of two proportions, each a one-sided"
            f" {definition.get('level') or '95 %'} bound: a breach at any poll is a safety stop, judged at"
            f" {definition.get('level') or '95 %'} per look; a pass is judged once, at the end, on all the data."
        )
    else:
        notes.append("A breach needs two polls in a row above the allowed increase; a pass is judged at the end.")
    body = (
        f"<p class='words {_e(status)}'>{_e(words[:1].upper() + words[1:])}</p>"
        + _group_chart(judged, errors)
        + _difference_chart(judged, errors, definition)
        + "".join(f"<p class='note'>{_e(note)}</p>" for note in notes)
        + _samples_table(judged, errors)
    )
    return f"<div class='check'><h3>{_e(title)}</h3>{body}</div>"


def _group_points(readings: Sequence[Mapping[str, Any]], group: str, errors: bool) -> list[tuple[datetime, float]]:
    points = []
    for reading in readings:
        at, side = _time(reading.get("at")), reading["comparison"].get(group) or {}
        value = side.get("rate") if errors else side.get("statistic")
        if at is not None and isinstance(value, (int, float)):
            points.append((at, float(value) * (100 if errors else 1)))
    return points


def _group_chart(readings: Sequence[Mapping[str, Any]], errors: bool) -> str:
    series: list[Series] = [
        (label, points, {}, colour)
        for label, group, colour in (("treatment", "treatment", ORANGE), ("control", "control", BLUE))
        if (points := _group_points(readings, group, errors))
    ]
    if not series:
        return "<p class='note'>No group had any data.</p>"
    return _draw("Error rate of each group since the start (%)" if errors else "Duration of each group (ms)", series)


def _difference_chart(readings: Sequence[Mapping[str, Any]], errors: bool, definition: Mapping[str, Any]) -> str:
    scale = 100 if errors else 1
    lines: dict[str, list[tuple[datetime, float]]] = {"difference": [], "lower": [], "upper": []}
    for reading in readings:
        at, comparison = _time(reading.get("at")), reading["comparison"]
        for key, points in lines.items():
            value = comparison.get(key)
            if at is not None and isinstance(value, (int, float)):
                points.append((at, float(value) * scale))
    if not lines["difference"]:
        return ""
    dashed = {"show_dots": False, "stroke_style": {"width": 2, "dasharray": "8, 5"}}
    dotted = {"stroke_style": {"width": 2, "dasharray": "4, 3"}, "dots_size": 2}
    first, last = lines["difference"][0][0], lines["difference"][-1][0]
    allowed = float(definition.get("max_increase" if errors else "max_increase_ms") or 0) * scale
    unit = "points" if errors else "ms"
    series: list[Series] = [("treatment minus control", lines["difference"], {}, ORANGE)]
    level = definition.get("level") or "95 %"
    if lines["lower"]:
        series.append((f"{level} lower bound", lines["lower"], dotted, GREY))
        series.append((f"{level} upper bound", lines["upper"], dotted, GREY))
    series.append((f"allowed increase {_number(allowed)} {unit}", [(first, allowed), (last, allowed)], dashed, RED))
    title = "Treatment minus control (percentage points)" if errors else "Treatment minus control (ms)"
    return _draw(title, series)


def _samples_table(readings: Sequence[Mapping[str, Any]], errors: bool) -> str:
    rows = []
    for reading in readings:
        comparison = reading["comparison"]
        cells = [reading.get("at"), reading.get("phase")]
        for group in ("treatment", "control"):
            side = comparison.get(group) or {}
            shown = percent(side.get("rate")) if errors else milliseconds(side.get("statistic"))
            cells.append(f"{side.get('invocations', 0):,} ({shown})")
        difference = comparison.get("difference")
        if not isinstance(difference, (int, float)):
            cells.append("-")
        elif errors:
            cells.append(
                f"{difference * 100:+.2f} [{float(comparison.get('lower', 0)) * 100:+.2f},"
                f" {float(comparison.get('upper', 0)) * 100:+.2f}]"
            )
        else:
            cells.append(f"{difference:+.0f} ms")
        status = str(reading.get("status"))
        rows.append(
            "<tr>"
            + "".join(f"<td>{_e(cell)}</td>" for cell in cells)
            + f"<td class='{_e(status)}'>{_e(status)}</td></tr>"
        )
    head = "difference [bounds] (points)" if errors else "difference"
    return (
        f"<details open><summary>{len(readings)} readings: the sample sizes of each group</summary><table class='grid'>"
        "<thead><tr><th>at</th><th>phase</th><th>treatment</th><th>control</th>"
        f"<th>{_e(head)}</th><th>status</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _number(value: object) -> str:
    return f"{float(value):.4g}" if isinstance(value, (int, float)) else "-"


# charts


BLUE, RED, GREY, ORANGE = "#0969da", "#cf222e", "#8c959f", "#bc4c00"
Series = tuple[str, list[tuple[datetime, float]], dict[str, Any], str]  # title, points, options, colour


def _draw(title: str, series: list[Series]) -> str:
    """One time chart, each series in its own colour (pygal colours series by position)."""
    import pygal
    from pygal.style import Style

    style = Style(
        background="white",
        plot_background="white",
        foreground="#24292f",
        foreground_strong="#24292f",
        foreground_subtle=GREY,
        # pygal colours the left-axis series first, then those on the right axis
        colors=tuple(c for _, _, o, c in series if not o.get("secondary"))
        + tuple(c for _, _, o, c in series if o.get("secondary")),
        font_family="system-ui, sans-serif",
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=13,
        title_font_size=15,
    )
    chart = pygal.DateTimeLine(
        js=[],  # pygal's tooltip script would load from the network
        disable_xml_declaration=True,
        style=style,
        width=900,
        height=320,
        title=title,
        x_value_formatter=lambda value: value.strftime("%H:%M:%S"),
        value_formatter=lambda value: f"{value:.4g}",
        x_label_rotation=0,
        truncate_label=-1,
        truncate_legend=-1,
        include_x_axis=True,  # values against zero, not against each other
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        dots_size=3,
        print_values=False,
    )
    for name, points, options, _ in series:
        chart.add(name, points, **options)
    return _svg(chart)


def _ramp_chart(journal: Mapping[str, Any]) -> str:
    steps = journal.get("steps") or []
    if not steps:
        return ""
    series: list[Series] = [
        ("rate (%)", _rate_points(journal), {"show_dots": False, "stroke_style": {"width": 3}}, BLUE)
    ]
    breach = journal.get("breach")
    at = _time(breach.get("at")) if isinstance(breach, Mapping) else None
    if isinstance(breach, Mapping) and at is not None and breach.get("step"):
        rate = float((steps[int(breach["step"]) - 1] or {}).get("rate") or 0) * 100
        series.append((f"breach: {breach.get('check')}", [(at, rate)], {"dots_size": 8}, RED))
    return _draw("Rate of the ramp steps (% of invocations)", series)


def _rate_points(journal: Mapping[str, Any]) -> list[tuple[datetime, float]]:
    """The ramp as a step line: each step's rate from its start to its end (or the stop)."""
    points: list[tuple[datetime, float]] = []
    for step in journal.get("steps") or []:
        rate = float(step.get("rate") or 0) * 100
        start = _time(step.get("started_at"))
        end = _time(step.get("ended_at")) or _time(_stopped_at(journal)) or _time(step.get("ends_at"))
        if start is not None:
            points += [(start, rate)] + ([(end, rate)] if end is not None else [])
    return points


def _metric_chart(
    journal: Mapping[str, Any], definition: Mapping[str, Any], readings: Sequence[Mapping[str, Any]]
) -> str:
    points = []
    for reading in readings:
        at, value = _time(reading.get("at")), reading.get("value")
        if at is not None and isinstance(value, (int, float)):
            points.append((at, float(value)))
    if not points:
        return "<p class='note'>No datapoint was read.</p>"
    series: list[Series] = [("value", points, {}, BLUE)]
    first, last = points[0][0], points[-1][0]
    dashed = {"show_dots": False, "stroke_style": {"width": 2, "dasharray": "8, 5"}}
    for key in ("max", "min"):
        bound = definition.get(key)
        if isinstance(bound, (int, float)):
            series.append((f"{key} {bound:g}", [(first, float(bound)), (last, float(bound))], dashed, RED))
    ramp = _rate_points(journal)
    if ramp:  # the ramp on the right-hand axis, to read each value against its step
        dotted = {"secondary": True, "show_dots": False, "stroke_style": {"width": 1, "dasharray": "2, 3"}}
        series.append(("rate (%), right axis", ramp, dotted, GREY))
    breach = journal.get("breach")
    if isinstance(breach, Mapping) and breach.get("check") == definition.get("check"):
        at, value = _time(breach.get("at")), breach.get("value")
        if at is not None and isinstance(value, (int, float)):
            series.append(("breach", [(at, float(value))], {"dots_size": 8}, RED))
    return _draw(f"{definition.get('statistic')} of {definition.get('name')}", series)


def _svg(chart: Any) -> str:
    """The chart as inline SVG, without the script pygal embeds for its optional tooltips (it
    would carry titles and legends as JavaScript; serialized as XML they are escaped text)."""
    from xml.etree import ElementTree

    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rpartition("}")[2] == "script":
                parent.remove(child)
    return f"<div class='chart'>{ElementTree.tostring(tree, encoding='unicode')}</div>"


# small helpers


def _settings(journal: Mapping[str, Any]) -> str:
    """Each setting changed: the value it replaced, the runner's, and how it ended."""
    rows = settings_rows(journal.get("settings") or [])
    if not rows:
        return ""
    head = "<tr><th>setting</th><th>before</th><th>during</th><th>end</th><th>events</th></tr>"
    body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table class='grid'><thead>{head}</thead><tbody>{body}</tbody></table>"


def _section(title: str, body: str, css: str = "") -> str:
    if not body:
        return ""
    return f"<section class='{css}'><h2>{_e(title)}</h2>{body}</section>"


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v if v is not None else '-')}</td></tr>" for k, v in rows)
    return f"<table class='facts'>{cells}</table>"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    # pygal plots naive datetimes; the labels say UTC in the page's text.
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _clock(text: object) -> str:
    value = _time(text)
    return value.strftime("%H:%M:%S") if value else ""


def _stopped_at(journal: Mapping[str, Any]) -> object:
    stop = journal.get("stop")
    return stop.get("at") if isinstance(stop, Mapping) else journal.get("ended_at")


def _last_event(journal: Mapping[str, Any]) -> str | None:
    times = [item.get("at") for key in ("checks", "writes") for item in journal.get(key) or []]
    times = [t for t in times if isinstance(t, str)]
    return max(times) if times else None


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#24292f;background:#f6f8fa;margin:0}
main{max-width:960px;margin:0 auto;padding:24px}
h1{margin:0 0 16px}h2{margin:28px 0 8px;font-size:20px}h3{font-size:16px;margin:20px 0 6px}
section.verdict{border-radius:8px;padding:14px 18px;color:white;background:#57606a}
section.verdict.held{background:#1a7f37}section.verdict.rejected{background:#cf222e}
section.verdict.aborted,section.verdict.interrupted,section.verdict.inconclusive,section.verdict.unfinished{background:#9a6700}
.verdict .headline{font-size:24px;font-weight:700;margin:0}.verdict .reason{margin:6px 0 0;font-size:16px}
.verdict .code{font-size:14px;font-weight:400;opacity:.85;margin-left:12px}
blockquote{margin:0;padding:10px 16px;background:white;border-left:4px solid #0969da;font-size:17px}
section.breach table th{color:#cf222e}
table{border-collapse:collapse;background:white}
table.facts th{text-align:left;padding:4px 16px 4px 8px;vertical-align:top}
table.facts td{padding:4px 8px;font-family:ui-monospace,monospace;font-size:13px;word-break:break-word}
table.grid{width:100%;margin-top:8px}
table.grid th,table.grid td{border:1px solid #d0d7de;padding:3px 8px;font-size:13px}
td.ok{color:#1a7f37}td.breach{color:#cf222e;font-weight:700}td.no_data,td.insufficient{color:#9a6700}
.chart{background:white;border:1px solid #d0d7de;border-radius:6px}.chart svg{width:100%;height:auto;display:block}
.strip{display:flex;flex-wrap:wrap;gap:3px}.cell{padding:2px 6px;border-radius:4px;color:white;font-size:12px}
.cell.ok{background:#1a7f37}.cell.breach{background:#cf222e}.cell.no_data{background:#9a6700}
.note{color:#57606a}details{margin-top:6px}
p.words{font-size:16px;padding:8px 12px;border-left:4px solid #9a6700;background:white}
p.words.ok{border-color:#1a7f37}p.words.breach{border-color:#cf222e}footer{margin-top:32px;color:#8c959f;font-size:12px}
"""
