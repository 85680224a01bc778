"""The control-group split on its own: the config's bounds, how many invocations each group
gets, that the groups never meet, and that a config without a control group is read as before."""

from __future__ import annotations

import math
from random import Random
from typing import Any, ClassVar

import pytest

from chaos_layer import control_group, durable
from chaos_layer.blast_radius import COHORT_BUCKETS, cohort_bucket, in_blast_radius
from chaos_layer.config import Config, parse_config
from chaos_layer.control_group import CONTROL, TREATMENT
from chaos_layer.exceptions import ConfigError
from chaos_layer.guardrails import Guardrails
from tests.conftest import FakeLambdaContext

FAULT = {"type": "exception"}
COHORT = {"key": "user", "percent": 10, "salt": "s"}


def parse(**keys: Any) -> Config:
    return parse_config({"enabled": True, "faults": [FAULT], **keys})


def problems_of(**keys: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(**keys)
    return [str(problem) for problem in caught.value.problems]


def group_of(config: Config, event: Any, random: Random) -> str | None:
    """The group as the decorator decides it: the blast radius, then the split."""
    if not in_blast_radius(config, event, None, random):
        return None
    selection = control_group.select(config, event, None, random)
    return None if selection is None else selection[2]


def within(count: int, trials: int, probability: float, sigmas: float = 5.0) -> bool:
    expected = trials * probability
    return abs(count - expected) <= sigmas * math.sqrt(trials * probability * (1 - probability))


class TestBounds:
    def test_control_group_is_off_unless_asked_for(self) -> None:
        assert parse().control_group is False
        assert parse(control_group=True, rate=0.1).control_group is True

    def test_the_default_rate_of_one_leaves_no_room_for_it(self) -> None:
        (problem,) = problems_of(control_group=True)
        assert problem.startswith("rate: must be at most 0.5 with control_group")

    def test_it_must_be_a_boolean(self) -> None:
        assert problems_of(control_group="yes") == ["control_group: must be true or false, not a string"]

    @pytest.mark.parametrize("rate", [0.5, 0.25, 0])
    def test_a_rate_up_to_a_half_leaves_room_for_the_control_group(self, rate: float) -> None:
        assert parse(control_group=True, rate=rate).rate == rate

    def test_a_rate_above_a_half_is_a_config_error(self) -> None:
        (problem,) = problems_of(control_group=True, rate=0.51)
        assert problem.startswith("rate: must be at most 0.5 with control_group")

    def test_with_a_cohort_the_rate_only_thins_so_any_rate_will_do(self) -> None:
        assert parse(control_group=True, rate=1, cohort=COHORT).rate == 1

    def test_a_cohort_above_fifty_percent_is_a_config_error(self) -> None:
        (problem,) = problems_of(control_group=True, cohort={**COHORT, "percent": 50.5})
        assert problem.startswith("cohort.percent: must be at most 50 with control_group")
        assert parse(control_group=True, cohort={**COHORT, "percent": 50}).cohort is not None

    def test_the_bounds_apply_only_with_a_control_group(self) -> None:
        assert parse(rate=0.9, cohort={**COHORT, "percent": 90}).rate == 0.9


class TestWithoutAControlGroup:
    """Nothing changes: the blast radius draws `rate` and checks the cohort itself."""

    def test_the_draw_is_the_rate_and_the_cohort_is_a_check(self) -> None:
        config = parse(rate=0.3, cohort=COHORT)
        assert config.draw_rate == 0.3
        assert len(config.checks) == 1

    def test_with_a_control_group_the_split_draws_and_reads_the_cohort(self) -> None:
        assert parse(control_group=True, rate=0.3).draw_rate == 1.0
        with_cohort = parse(control_group=True, rate=0.3, cohort=COHORT)
        assert (with_cohort.draw_rate, with_cohort.checks) == (0.3, ())


class TestSplitByRate:
    def test_each_group_gets_the_rate_and_none_the_rest(self) -> None:
        config = parse(control_group=True, rate=0.1)
        random = Random(7)
        trials = 40_000
        groups = [group_of(config, {}, random) for _ in range(trials)]
        assert within(groups.count(TREATMENT), trials, 0.1)
        assert within(groups.count(CONTROL), trials, 0.1)
        assert within(groups.count(None), trials, 0.8)

    def test_one_draw_decides_below_r_treatment_then_up_to_2r_control(self) -> None:
        config = parse(control_group=True, rate=0.2)

        class Fixed(Random):
            def __init__(self, value: float) -> None:
                super().__init__(0)
                self.value = value

            def random(self) -> float:
                return self.value

        assert [group_of(config, {}, Fixed(u)) for u in (0.0, 0.1999, 0.2, 0.3999, 0.4, 0.99)] == [
            TREATMENT, TREATMENT, CONTROL, CONTROL, None, None,
        ]  # fmt: skip

    def test_at_a_half_every_invocation_is_in_one_group(self) -> None:
        config = parse(control_group=True, rate=0.5)
        random = Random(3)
        groups = [group_of(config, {}, random) for _ in range(2000)]
        assert None not in groups
        assert within(groups.count(TREATMENT), 2000, 0.5)

    def test_only_the_treatment_gets_faults(self) -> None:
        config = parse(control_group=True, rate=0.5)
        random = Random(5)
        for _ in range(500):
            selection = control_group.select(config, {}, None, random)
            assert selection is not None
            _, faults, group = selection
            assert (len(faults) == 1) is (group == TREATMENT)

    def test_targets_and_match_still_decide_who_is_in_either(self) -> None:
        config = parse(control_group=True, rate=0.5, match=[{"path": "kind", "equals": "order"}])
        random = Random(1)
        assert {group_of(config, {"kind": "refund"}, random) for _ in range(200)} == {None}
        assert {group_of(config, {"kind": "order"}, random) for _ in range(200)} == {TREATMENT, CONTROL}


class TestSplitByCohort:
    MEMBERS: ClassVar[list[str]] = [f"user-{index}" for index in range(20_000)]

    def groups(self, config: Config, invocations: int = 3, seed: int = 0) -> dict[str, set[str | None]]:
        random = Random(seed)
        return {m: {group_of(config, {"user": m}, random) for _ in range(invocations)} for m in self.MEMBERS}

    def test_members_below_p_are_the_treatment_and_from_fifty_the_control(self) -> None:
        config = parse(control_group=True, cohort=COHORT)
        for member, seen in self.groups(config).items():
            bucket = cohort_bucket("s", member) / COHORT_BUCKETS * 100
            expected = TREATMENT if bucket < 10 else CONTROL if 50 <= bucket < 60 else None
            assert seen == {expected}, member  # sticky: every invocation of a member alike

    def test_the_groups_are_the_same_size_and_disjoint(self) -> None:
        config = parse(control_group=True, cohort=COHORT)
        seen = self.groups(config, invocations=1)
        treatment = {m for m, groups in seen.items() if TREATMENT in groups}
        control = {m for m, groups in seen.items() if CONTROL in groups}
        assert not treatment & control
        assert within(len(treatment), len(self.MEMBERS), 0.1)
        assert within(len(control), len(self.MEMBERS), 0.1)

    def test_raising_the_percent_moves_nobody_between_groups(self) -> None:
        small = self.groups(parse(control_group=True, cohort={**COHORT, "percent": 5}), invocations=1)
        large = self.groups(parse(control_group=True, cohort={**COHORT, "percent": 20}), invocations=1)
        for member, before in small.items():
            if before != {None}:
                assert large[member] == before

    def test_rate_thins_both_groups_alike(self) -> None:
        config = parse(control_group=True, rate=0.25, cohort=COHORT)
        seen = self.groups(config, invocations=4, seed=9)
        counts = {group: 0 for group in (TREATMENT, CONTROL)}
        random = Random(11)
        for member in self.MEMBERS:
            group = group_of(config, {"user": member}, random)
            if group is not None:
                counts[group] += 1
        assert within(counts[TREATMENT], len(self.MEMBERS), 0.1 * 0.25)
        assert within(counts[CONTROL], len(self.MEMBERS), 0.1 * 0.25)
        assert not any({TREATMENT, CONTROL} <= groups for groups in seen.values())

    def test_an_event_without_a_member_is_in_neither(self) -> None:
        config = parse(control_group=True, cohort=COHORT)
        random = Random(0)
        assert {group_of(config, event, random) for event in ({}, {"user": ""}, {"user": True}, {"user": None})} == {
            None
        }


class TestDurableExecutionsTakeNoPart:
    """The decorator hands durable executions to chaos_layer.durable before any split: they are
    selected as without a control group, by the treatment's share and band alone."""

    ARN = "arn:aws:lambda:us-east-1:123456789012:function:payments:$LATEST/durable-execution/order/"

    def execution(self, arn: str, user_input: Any = None) -> durable.Execution:
        return durable.Execution(arn, user_input or {}, False, FakeLambdaContext(function_name="payments"), None)

    def test_by_rate_an_execution_is_picked_with_the_treatments_share(self) -> None:
        config = parse(control_group=True, rate=0.2)
        arns = [f"{self.ARN}{n}" for n in range(5000)]
        picked = [arn for arn in arns if durable.admits(config, self.execution(arn))]
        assert within(len(picked), len(arns), 0.2)  # not twice the rate: there is no control group here

    def test_by_cohort_only_the_treatment_band_is_picked(self) -> None:
        config = parse(control_group=True, cohort=COHORT)
        assert config.checks == ()  # the split reads the cohort on other invocations
        for index in range(3000):
            tenant = f"t-{index}"
            bucket = cohort_bucket("s", tenant) / COHORT_BUCKETS * 100
            assert durable.admits(config, self.execution(f"{self.ARN}{index}", {"user": tenant})) is (bucket < 10)


class TestGuardrails:
    """A guardrail bounds the config's rate: the control group is not touched, and a cohort
    that assigns the groups does not lower the share that counts."""

    def test_the_control_group_does_not_count_against_max_rate(self) -> None:
        guardrails = Guardrails(max_rate=0.05, max_rate_from="CHAOS_LAYER_MAX_RATE")
        assert guardrails.refusal(parse(control_group=True, rate=0.05)) is None  # 10 % selected, 5 % hurt
        assert guardrails.refusal(parse(control_group=True, rate=0.06)) is not None

    def test_with_a_cohort_the_rate_alone_counts(self) -> None:
        guardrails = Guardrails(max_rate=0.1, max_rate_from="max_rate=")
        assert guardrails.refusal(parse(control_group=True, cohort={**COHORT, "percent": 1})) is not None
        assert guardrails.refusal(parse(control_group=True, rate=0.1, cohort={**COHORT, "percent": 50})) is None
