"""The report's charts: time charts drawn by pygal as inline SVG, without its tooltip script
(it would load from the network), so the page needs nothing beyond itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from chaos_layer.experiment.journal import CheckRecord, Journal

BLUE, RED, GREY, ORANGE = "#0969da", "#cf222e", "#8c959f", "#bc4c00"
Points = list[tuple[datetime, float]]
Series = tuple[str, Points, dict[str, Any], str]  # title, points, options, colour
DASHED = {"show_dots": False, "stroke_style": {"width": 2, "dasharray": "8, 5"}}
DOTTED = {"stroke_style": {"width": 2, "dasharray": "4, 3"}, "dots_size": 2}


def draw(title: str, series: list[Series]) -> str:
    """One time chart as SVG, each series in its own colour (pygal colours series by position)."""
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


def _svg(chart: Any) -> str:
    """The chart as inline SVG, without the script pygal embeds for its optional tooltips (it
    would carry titles and legends as JavaScript; serialized as XML they are escaped text)."""
    from xml.etree import ElementTree

    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rpartition("}")[2] == "script":
                parent.remove(child)
    return ElementTree.tostring(tree, encoding="unicode")


def ramp_chart(journal: Journal) -> str | None:
    """The ramp's rate over time, and the breach on it."""
    if not journal.steps:
        return None
    line = {"show_dots": False, "stroke_style": {"width": 3}}
    series: list[Series] = [("rate (%)", rate_points(journal), line, BLUE)]
    breach = journal.breach
    at = time_of(breach.at) if breach is not None else None
    if breach is not None and at is not None and breach.step and 0 < breach.step <= len(journal.steps):
        rate = float(journal.steps[breach.step - 1].rate or 0) * 100
        series.append((f"breach: {breach.check}", [(at, rate)], {"dots_size": 8}, RED))
    return draw("Rate of the ramp steps (% of invocations)", series)


def rate_points(journal: Journal) -> Points:
    """The ramp as a step line: each step's rate from its start to its end (or the stop)."""
    stopped = journal.stop.at if journal.stop is not None else journal.ended_at
    points: Points = []
    for step in journal.steps:
        rate = float(step.rate or 0) * 100
        start = time_of(step.started_at)
        end = time_of(step.ended_at) or time_of(stopped) or time_of(step.ends_at)
        if start is not None:
            points += [(start, rate)] + ([(end, rate)] if end is not None else [])
    return points


def metric_chart(journal: Journal, definition: Mapping[str, Any], readings: Sequence[CheckRecord]) -> str | None:
    """A metric's values against its bounds, with the ramp on the right-hand axis; None without a value."""
    points = []
    for reading in readings:
        at, value = time_of(reading.at), reading.value
        if at is not None and isinstance(value, (int, float)):
            points.append((at, float(value)))
    if not points:
        return None
    series: list[Series] = [("value", points, {}, BLUE)]
    first, last = points[0][0], points[-1][0]
    for key in ("max", "min"):
        bound = definition.get(key)
        if isinstance(bound, (int, float)):
            series.append((f"{key} {bound:g}", [(first, float(bound)), (last, float(bound))], DASHED, RED))
    ramp = rate_points(journal)
    if ramp:  # the ramp on the right-hand axis, to read each value against its step
        dotted = {"secondary": True, "show_dots": False, "stroke_style": {"width": 1, "dasharray": "2, 3"}}
        series.append(("rate (%), right axis", ramp, dotted, GREY))
    breach = journal.breach
    if breach is not None and breach.check == definition.get("check"):
        at, value = time_of(breach.at), breach.value
        if at is not None and isinstance(value, (int, float)):
            series.append(("breach", [(at, float(value))], {"dots_size": 8}, RED))
    return draw(f"{definition.get('statistic')} of {definition.get('name')}", series)


def group_chart(readings: Sequence[CheckRecord], errors: bool) -> str | None:
    """Both groups of a comparison over time; None when neither had any data."""
    series: list[Series] = [
        (group, points, {}, colour)
        for group, colour in (("treatment", ORANGE), ("control", BLUE))
        if (points := _group_points(readings, group, errors))
    ]
    if not series:
        return None
    return draw("Error rate of each group since the start (%)" if errors else "Duration of each group (ms)", series)


def _group_points(readings: Sequence[CheckRecord], group: str, errors: bool) -> Points:
    points = []
    for reading in readings:
        at, side = time_of(reading.at), (reading.comparison or {}).get(group) or {}
        value = side.get("rate") if errors else side.get("statistic")
        if at is not None and isinstance(value, (int, float)):
            points.append((at, float(value) * (100 if errors else 1)))
    return points


def difference_chart(readings: Sequence[CheckRecord], errors: bool, definition: Mapping[str, Any]) -> str | None:
    """Treatment minus control with its bounds, against the allowed increase."""
    scale = 100 if errors else 1
    lines: dict[str, Points] = {"difference": [], "lower": [], "upper": []}
    for reading in readings:
        at, comparison = time_of(reading.at), reading.comparison or {}
        for key, points in lines.items():
            value = comparison.get(key)
            if at is not None and isinstance(value, (int, float)):
                points.append((at, float(value) * scale))
    if not lines["difference"]:
        return None
    first, last = lines["difference"][0][0], lines["difference"][-1][0]
    allowed = float(definition.get("max_increase" if errors else "max_increase_ms") or 0) * scale
    series: list[Series] = [("treatment minus control", lines["difference"], {}, ORANGE)]
    level = definition.get("level") or "95 %"
    if lines["lower"]:
        series.append((f"{level} lower bound", lines["lower"], DOTTED, GREY))
        series.append((f"{level} upper bound", lines["upper"], DOTTED, GREY))
    unit = "points" if errors else "ms"
    series.append((f"allowed increase {allowed:.4g} {unit}", [(first, allowed), (last, allowed)], DASHED, RED))
    title = "Treatment minus control (percentage points)" if errors else "Treatment minus control (ms)"
    return draw(title, series)


def time_of(text: object) -> datetime | None:
    """A journal's instant as a naive UTC datetime (pygal plots naive datetimes; the page's
    text says UTC)."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def clock(text: object) -> str:
    value = time_of(text)
    return value.strftime("%H:%M:%S") if value else ""
