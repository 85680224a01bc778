"""`chaos-layer report`: the page from real journals (runs on moto), and the page as headless
Chromium lays it out: the verdict and the charts visible, and nothing loaded from anywhere."""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from chaos_layer.experiment import report
from chaos_layer.experiment.journal import Journal
from tests.runner.conftest import Aws, TimeMachine, experiment_document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium): the report is not checked in a browser",
)


@pytest.fixture
def rejected(aws: Aws, time_machine: TimeMachine, run_experiment) -> dict[str, Any]:
    """A journal whose metric breached its max at step 2."""
    aws.alarm("OK")
    aws.metric(1, at=time_machine.now)
    time_machine.at(9, lambda: aws.metric(2, at=time_machine.now))
    time_machine.at(14, lambda: aws.metric(7, at=time_machine.now))
    document = experiment_document(hypothesis="Checkout errors stay <b>under</b> 5 a minute & the p99 holds")
    journal: dict[str, Any] = run_experiment(document).journal
    assert journal["verdict"] == "rejected"
    return journal


def text_of(page: str) -> str:
    """The page's words, without tags (the check a reader does)."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_the_page_says_the_verdict_and_the_hypothesis_in_words(rejected) -> None:
    page = report.render(rejected)
    words = text_of(page)
    assert "Hypothesis rejected" in words
    assert (
        "The hypothesis was rejected: AWS/Lambda Errors Sum (FunctionName=checkout) was 7 (max 5) at step 2"
        " (rate 5%); the experiment was stopped." in words
    )
    # the hypothesis is text, never markup
    assert "Checkout errors stay &lt;b&gt;under&lt;/b&gt; 5 a minute &amp; the p99 holds" in page
    assert "<b>under</b>" not in page


def test_the_page_shows_the_breach_the_steps_and_each_check_against_its_bounds(rejected) -> None:
    page = report.render(rejected)
    words = text_of(page)
    assert "Breach" in words
    assert "every function stopped by" in words
    assert "AWS/Lambda Errors Sum (FunctionName=checkout): must stay within max 5 (period 60 s)" in words
    assert "alarm checkout-errors: must be OK" in words
    assert "stopped early" in words
    assert "completed" in words
    charts = re.findall(r"<svg[^>]*class=\"pygal-chart\"", page)
    assert len(charts) == 2  # the metric, the ramp (the alarm is a strip of states)
    assert "max 5" in page
    assert "breach" in page


def test_the_page_needs_no_network(rejected) -> None:
    page = report.render(rejected)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert "url(http" not in page
    assert "<script" not in page


def test_other_verdicts_in_words(aws, time_machine, run_experiment) -> None:
    run = run_experiment(experiment_document())  # no alarm, no metric: aborted
    page = report.render(run.journal)
    assert "Aborted before the start" in text_of(page)
    assert "nothing was written" in text_of(page)
    assert "No step was started" in text_of(page)
    unfinished = {**run.journal, "verdict": None, "reason": None, "expires_at": "2026-11-27T15:01:00Z"}
    words = text_of(report.render(unfinished))
    assert "Unfinished" in words
    assert "expires at 2026-11-27T15:01:00Z at the latest" in words


HOSTILE = "<script>alert('x')</script> \"quoted\" & 'single' </td></table>"


class Parsed(HTMLParser):
    """A page as a browser's parser splits it: tags with their attributes, and the text."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_every_string_of_the_journal_is_text_on_the_page(rejected) -> None:
    journal = copy.deepcopy(rejected)
    said = {key: f"{key} {HOSTILE}" for key in ("experiment", "hypothesis", "reason", "error")}
    journal.update(said)
    journal["interruption"] = {"cause": f"cause {HOSTILE}", "error": f"interruption {HOSTILE}"}
    journal["file"]["path"] = f"path {HOSTILE}"
    journal["warnings"] = [f"warning {HOSTILE}"]
    journal["writes"][-1]["error"] = f"write {HOSTILE}"
    journal["settings"] = [
        {"function": f"function {HOSTILE}", "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
         "event_source_mapping": None, "setting": "reserved_concurrency", "value": 0, "replaced": 25,
         "state": "kept", "found": 7, "events": [{"at": "2026-11-27T15:00:00.000Z", "event": "kept",
         "detail": f"event {HOSTILE}"}]},
    ]  # fmt: skip
    renamed = {}
    for definition in journal["steady_state"]:
        renamed[definition["check"]] = definition["check"] = f"{definition['check']} {HOSTILE}"
    for reading in [*journal["checks"], journal["breach"]]:
        reading["check"] = renamed[reading["check"]]
        reading["detail"] = f"detail {HOSTILE}"
        if reading["kind"] == "alarm":  # shown in an attribute too
            reading["value"] = f"state {HOSTILE}"
            reading["status"] = "ok' onmouseover='alert(1)"
    page = report.render(journal)
    parsed = Parsed(page)
    assert "script" not in [tag for tag, _ in parsed.tags]
    assert not [name for _, attrs in parsed.tags for name, _ in attrs if name.startswith("on")]
    words = " ".join(" ".join(parsed.text).split())
    for text in [
        *said.values(), f"cause {HOSTILE}", f"interruption {HOSTILE}", f"path {HOSTILE}", f"write {HOSTILE}",
        f"detail {HOSTILE}", f"state {HOSTILE}", *renamed.values(), f"function {HOSTILE}", f"event {HOSTILE}",
    ]:  # fmt: skip
        assert " ".join(text.split()) in words, text
    # the grid tables keep their shape: no value closed a cell or a table
    assert page.count("<table") == page.count("</table>")
    assert [tag for tag, _ in parsed.tags].count("table") == page.count("<table")


def test_a_journal_round_trips_through_the_typed_record(rejected) -> None:
    """What `run` writes reads back as the typed journal and writes out key for key, in order."""
    journal = Journal.from_json(rejected)
    assert json.dumps(journal.to_json()) == json.dumps(rejected)
    assert report.render(journal).count("<svg") == report.render(rejected).count("<svg") == 2


def probe_page(page: str, directory: Path) -> dict[str, Any]:
    """Lays the page out in headless Chromium and reports what a reader sees: the verdict's box
    and text, each chart's box and drawn lines, and every resource the page loaded."""
    probe = """<script>
    const box = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
      return {width: r.width, height: r.height, top: r.top + scrollY, visible: s.display !== 'none'
              && s.visibility !== 'hidden' && parseFloat(s.opacity) > 0}; };
    const verdict = document.querySelector('#verdict');
    const result = {
      verdict: {...box(verdict), text: verdict.innerText},
      charts: [...document.querySelectorAll('.chart svg')].map(svg => ({...box(svg),
        title: (svg.querySelector('.title') || {}).textContent,
        lines: [...svg.querySelectorAll('path.line')].filter(p => p.getTotalLength() > 10).length,
        dots: svg.querySelectorAll('.dots').length})),
      resources: performance.getEntriesByType('resource').map(e => e.name),
      page: {width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight},
    };
    const out = document.createElement('pre'); out.id = 'probe'; out.textContent = JSON.stringify(result);
    document.body.appendChild(out);
    </script>"""
    path = directory / "probed.html"
    path.write_text(page.replace("</body>", probe + "</body>"))
    dom = chromium(directory, "--virtual-time-budget=3000", "--dump-dom", path.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return dict(json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")))


def chromium(directory: Path, *args: str) -> str:
    assert CHROMIUM is not None
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={directory / 'chromium-profile'}", *args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@needs_chromium
def test_chromium_shows_the_verdict_and_the_charts(rejected, tmp_path) -> None:
    seen = probe_page(report.render(rejected), tmp_path)
    verdict = seen["verdict"]
    assert verdict["visible"]
    assert verdict["width"] > 500
    assert verdict["height"] > 40
    assert verdict["text"].startswith("Hypothesis rejected")
    assert "was 7 (max 5) at step 2" in verdict["text"]
    metric, ramp = seen["charts"]
    for chart in (ramp, metric):
        assert chart["visible"]
        assert chart["width"] > 500
        assert chart["height"] > 150
        assert chart["top"] < seen["page"]["height"]
    assert ramp["title"] == "Rate of the ramp steps (% of invocations)"
    assert metric["title"] == "Sum of Errors"
    assert metric["lines"] >= 2  # the readings and the max bound
    assert metric["dots"] >= 4  # the readings, the breach among them
    assert seen["resources"] == []  # nothing fetched: no network, no other file


@needs_chromium
def test_chromium_screenshot_of_the_report(rejected, tmp_path) -> None:
    path = tmp_path / "report.html"
    path.write_text(report.render(rejected))
    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1000,1800", f"--screenshot={shot}", path.as_uri())
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1000, 1800)


# comparisons


def comparing_journal(aws: Aws, time_machine: TimeMachine, run_experiment, treatment_errors: int) -> dict[str, Any]:
    """A run comparing the groups' error rates: two steps, a poll every 10 s, 150 invocations per
    group between polls, with `treatment_errors` of the treatment's failing from 25 s on."""
    aws.alarm("OK")

    def batch(failing: int) -> None:
        aws.group("treatment", 150, failing, at=time_machine.now)
        aws.group("control", 150, 2, at=time_machine.now)

    for offset in (5, 15, 25, 35, 45, 55):
        time_machine.at(offset, functools.partial(batch, 2 if offset < 25 else treatment_errors))
    document = experiment_document(
        steady_state=[{"alarm": "checkout-errors"}, {"compare": "errors", "max_increase": 0.02}],
        ramp=[{"rate": 0.05, "hold": "20s"}, {"rate": 0.1, "hold": "40s"}],
        poll="10s",
    )
    journal: dict[str, Any] = run_experiment(document).journal
    return journal


def test_a_held_comparison_in_words_charts_and_sample_sizes(aws, time_machine, run_experiment) -> None:
    journal = comparing_journal(aws, time_machine, run_experiment, treatment_errors=3)
    assert journal["verdict"] == "held"
    page = report.render(journal)
    words = text_of(page)
    assert "compare errors: the error rate of the treatment at most 2 points above the control" in words
    assert (
        "The error rate rose by 0.44 points, 95 % upper bound 1.46 points, within the allowed 2 points: held" in words
    )
    assert "<title>Error rate of each group since the start (%)</title>" in page
    assert "<title>Treatment minus control (percentage points)</title>" in page
    assert "allowed increase 2 points" in page
    assert "95 % lower bound" in page
    assert "95 % upper bound" in page
    # the sample sizes at every poll and at the end, each group in its own column
    assert words.count("(1.333%)") >= 2
    assert "900 (1.778%) 900 (1.333%)" in words
    assert "Each group needs 100 invocations before the comparison can judge" in words
    assert "a breach at any poll is a safety stop, judged at 95 % per look" in words


def test_a_rejected_comparison_says_it_was_a_safety_stop(aws, time_machine, run_experiment) -> None:
    journal = comparing_journal(aws, time_machine, run_experiment, treatment_errors=30)
    assert journal["verdict"] == "rejected"
    words = text_of(report.render(journal))
    assert (
        "The error rate rose by 6.22 points, 95 % lower bound 4.04 points, above the allowed 2 points: rejected"
        " (a safety stop, 95 % per look)" in words
    )
    assert "Hypothesis rejected" in words


def test_an_inconclusive_comparison_says_why(aws, time_machine, run_experiment) -> None:
    aws.alarm("OK")
    document = experiment_document(
        steady_state=[{"compare": "duration", "statistic": "Average", "max_increase_ms": 250}],
        ramp=[{"rate": 0.05, "hold": "20s"}],
        poll="10s",
    )
    journal = run_experiment(document).journal
    assert journal["verdict"] == "inconclusive"
    page = report.render(journal)
    words = text_of(page)
    assert "Inconclusive" in words
    assert "Too few invocations to compare: treatment 0, control 0, of the 100 each group needs: inconclusive" in words
    assert "No group had any data." in words
    assert "<svg" in page  # the ramp, still


@needs_chromium
def test_chromium_shows_both_groups_and_the_interval(aws, time_machine, run_experiment, tmp_path) -> None:
    journal = comparing_journal(aws, time_machine, run_experiment, treatment_errors=3)
    seen = probe_page(report.render(journal), tmp_path)
    by_title = {chart["title"]: chart for chart in seen["charts"]}
    groups = by_title["Error rate of each group since the start (%)"]
    difference = by_title["Treatment minus control (percentage points)"]
    for chart in (groups, difference):
        assert chart["visible"]
        assert chart["width"] > 500
        assert chart["height"] > 150
    assert groups["lines"] >= 2  # treatment and control
    assert difference["lines"] >= 4  # the difference, its two bounds, the allowed increase
    assert seen["resources"] == []
