"""The experiment file: YAML or JSON, validated whole (faults and blast radius with the
library's own rules) before anything is written, every problem with its location."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaos_layer import control
from chaos_layer.experiment import definition
from chaos_layer.experiment.checks import AlarmCheck, MetricCheck
from tests.runner.conftest import experiment_document

GAME_DAY = """\
experiment: checkout-latency
hypothesis: With 300 ms more latency on 5 % of calls, checkout errors stay under 1 %
parameter: /chaos-layer/checkout          # any source form; kill_switch: optional
faults: [{type: latency, delay_ms: 300}]  # as in the config document
blast_radius: {targets: {functions: [checkout]}}   # optional: dry_run/targets/match/cohort
steady_state:
  - alarm: checkout-errors                # a CloudWatch alarm that must be OK
  - metric: {namespace: AWS/Lambda, name: Errors, statistic: Sum, period: 60,
             dimensions: {FunctionName: checkout}}
    max: 5                                # and/or min
ramp: [{rate: 0.01, hold: 2m}, {rate: 0.05, hold: 5m}]
poll: 15s
on_breach: stop                           # or kill (also engages the kill switch)
"""


def problems(document: Any) -> list[str]:
    with pytest.raises(control.InvalidConfig) as caught:
        definition.parse_experiment(document)
    return [str(problem) for problem in caught.value.problems]


def test_the_specs_example_file(tmp_path) -> None:
    path = tmp_path / "game-day.yaml"
    path.write_text(GAME_DAY)
    experiment, text = definition.load_experiment(str(path))
    assert text == GAME_DAY
    assert experiment.name == "checkout-latency"
    assert experiment.parameter == "/chaos-layer/checkout"
    assert experiment.kill_switch is None
    assert experiment.ramp == (definition.Step(0.01, 120.0), definition.Step(0.05, 300.0))
    assert experiment.poll == 15.0
    assert experiment.duration == 420.0
    assert experiment.checks[0] == AlarmCheck("checkout-errors")
    metric = experiment.checks[1]
    assert isinstance(metric, MetricCheck)
    assert (metric.namespace, metric.metric_name, metric.statistic, metric.period) == (
        "AWS/Lambda", "Errors", "Sum", 60,
    )  # fmt: skip
    assert metric.dimensions == (("FunctionName", "checkout"),)
    assert (metric.minimum, metric.maximum) == (None, 5)
    assert experiment.config(0.05, "2026-11-27T15:00:00Z") == {
        "enabled": True,
        "experiment": "checkout-latency",
        "expires_at": "2026-11-27T15:00:00Z",
        "rate": 0.05,
        "targets": {"functions": ["checkout"]},
        "faults": [{"type": "latency", "delay_ms": 300}],
    }


def test_json_files_are_read_as_json(tmp_path) -> None:
    path = tmp_path / "game-day.json"
    path.write_text(json.dumps(experiment_document(poll=30, on_breach="kill", kill_switch="/team/kill")))
    experiment, _ = definition.load_experiment(str(path))
    assert (experiment.poll, experiment.on_breach, experiment.kill_switch) == (30.0, "kill", "/team/kill")


def test_syntax_errors_say_where(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"experiment": "x",\n  "poll": }')
    with pytest.raises(control.InvalidConfig) as caught:
        definition.load_experiment(str(path))
    assert [str(p) for p in caught.value.problems] == ["not valid JSON (line 2, column 11: Expecting value)"]
    path = tmp_path / "broken.yaml"
    path.write_text("experiment: x\nramp: [{rate: 0.1\n")
    with pytest.raises(control.InvalidConfig) as caught:
        definition.load_experiment(str(path))
    assert str(caught.value.problems[0]).startswith("not valid YAML (line 3, column 1: ")


def test_an_unreadable_file_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(control.UsageError, match=r"cannot read .*missing\.yaml: No such file or directory"):
        definition.load_experiment(str(tmp_path / "missing.yaml"))


def test_faults_are_checked_with_the_librarys_rules() -> None:
    document = experiment_document(faults=[{"type": "latency"}, {"type": "exception", "exception": "SystemExit"}])
    found = problems(document)
    assert "faults[0].delay_ms: is required (or min_ms and max_ms)" in found
    assert any(p.startswith("faults[1].exception: ") for p in found)
    assert len(found) == 2  # once, not once per ramp step


def test_rates_are_checked_per_step_with_the_librarys_rules() -> None:
    found = problems(experiment_document(ramp=[{"rate": 0.1, "hold": "1m"}, {"rate": 1.5, "hold": "1m"}]))
    assert found == ["ramp[1].rate: must be a number between 0 and 1"]


def test_blast_radius_problems_point_into_blast_radius() -> None:
    found = problems(experiment_document(blast_radius={"targets": {"functions": "checkout"}, "colour": "red"}))
    assert "blast_radius.targets.functions: must be an array, not a string" in found
    assert "blast_radius.colour: unknown key" in found


def test_the_runner_sets_rate_and_expiry_itself() -> None:
    found = problems(experiment_document(blast_radius={"rate": 0.5, "expires_at": "2030-01-01T00:00:00Z"}))
    assert found == [
        "blast_radius.rate: is set by ramp, not in blast_radius",
        "blast_radius.expires_at: is set by the runner, not in blast_radius",
    ]


def test_every_problem_of_a_file_at_once() -> None:
    document = {
        "hypothesis": "",
        "parameter": "appconfig://orders/prod/chaos",
        "kill_switch": "s3://only-a-bucket",
        "faults": [],
        "steady_state": [{"alarm": "a", "metric": {}}, {"metric": {"namespace": "N", "name": "M", "period": 45}}],
        "ramp": [{"rate": "5%", "hold": "soon"}, {"hold": "1m", "extra": 1}],
        "poll": 0,
        "on_breach": "panic",
        "colour": "red",
    }
    assert problems(document) == [
        "experiment: is required",
        "hypothesis: must not be empty",
        "parameter: must be an S3 object or an SSM parameter: `run` writes a step of its ramp while AppConfig"
        " may still deploy the last one",
        "kill_switch: s3://only-a-bucket is not an S3 location: expected s3://BUCKET/KEY",
        "faults: must list at least one fault",
        "steady_state[0]: must have exactly one of alarm, metric, compare (found alarm and metric)",
        "steady_state[1].metric.period: must be 1, 5, 10, 30 or a multiple of 60 seconds",
        "steady_state[1]: needs min, max or both: the bounds the metric must stay within",
        "ramp[0].rate: must be a number between 0 and 1, not a string",
        "ramp[0].hold: must be a duration such as 15s, 2m or 1h30m (or a number of seconds), longer than zero",
        "ramp[1].rate: is required",
        "ramp[1].extra: unknown key",
        "poll: must be a duration such as 15s, 2m or 1h30m (or a number of seconds), longer than zero",
        "on_breach: must be stop or kill",
        "colour: unknown key",
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"alarm": ""}, "steady_state[0].alarm: must not be empty"),
        ({"alarm": "a", "max": 1}, "steady_state[0].max: unknown key"),
        ({"metric": {"namespace": "N", "name": "M", "statistic": "Median"}, "max": 1},
         "steady_state[0].metric.statistic: must be one of SampleCount, Average, Sum, Minimum, Maximum,"
         " or a percentile such as p99"),
        ({"metric": {"namespace": "N", "name": "M", "dimensions": {"FunctionName": 3}}, "max": 1},
         "steady_state[0].metric.dimensions: must be an object whose values are strings"),
        ({"metric": {"namespace": "N", "name": "M"}, "min": 5, "max": 1}, "steady_state[0].min: must not be above max"),
        ({"metric": {"name": "M"}, "max": "1"}, "steady_state[0].metric.namespace: is required"),
        ("alarm", "steady_state[0]: must be an object, not a string"),
    ],
)  # fmt: skip
def test_steady_state_entries(entry: Any, problem: str) -> None:
    assert problem in problems(experiment_document(steady_state=[entry]))


def test_percentiles_and_high_resolution_periods_are_accepted() -> None:
    entry = {"metric": {"namespace": "N", "name": "Duration", "statistic": "p99.9", "period": 10}, "max": 800}
    (check,) = definition.parse_experiment(experiment_document(steady_state=[entry])).checks
    assert check == MetricCheck("N", "Duration", "p99.9", 10, (), None, 800)


def test_the_same_check_twice_is_refused() -> None:
    found = problems(experiment_document(steady_state=[{"alarm": "a"}, {"alarm": "a"}]))
    assert found == ["steady_state[1]: checks the same as steady_state[0]; put both bounds in one entry"]


def test_an_empty_steady_state_or_ramp_is_refused() -> None:
    assert (
        "steady_state: must list at least one check (an alarm, a metric or a comparison), not an empty array"
        in problems(experiment_document(steady_state=[]))
    )
    assert "ramp: must list at least one step" in problems(experiment_document(ramp=[]))


def test_yaml_that_is_not_json_data_is_refused() -> None:
    document = definition.decode("experiment: x\nhypothesis: h\nwhen: 2026-11-27\n1: one\n")
    assert problems(document) == [
        "when: must be JSON data, not date (quote it in YAML)",
        "has a key that is not a string (a number): quote it",
    ]


def test_a_file_that_is_not_an_object() -> None:
    assert problems(["experiment"]) == ["must be an object, not an array"]
    assert problems(None) == ["must be an object, not null"]
