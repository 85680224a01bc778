"""Blast-radius controls: how `dry_run`, `targets`, `match` and `cohort` parse, what they let
through, and the cohort's statistics (stable, sticky, the right size)."""

from __future__ import annotations

import math
from random import Random
from typing import Any, ClassVar

import pytest

from chaos_layer.blast_radius import (
    MAX_PATTERN_LENGTH,
    MAX_REGEX_INPUT,
    Cohort,
    Condition,
    Match,
    Targets,
    cohort_bucket,
    in_blast_radius,
    invoked_qualifier,
    json_equal,
)
from chaos_layer.config import Config, parse_config
from chaos_layer.exceptions import ConfigError
from tests.conftest import ACCOUNT_ID, REGION, FakeLambdaContext

FAULT = {"type": "status_code", "status_code": 503}
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:orders-api"


def parse(**controls: Any) -> Config:
    return parse_config({"enabled": True, "faults": [FAULT], **controls})


def problems_of(**controls: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(**controls)
    return [str(problem) for problem in caught.value.problems]


def admitted(config: Config, event: Any = None, context: Any = None, seed: int = 0) -> bool:
    return in_blast_radius(config, event, context, Random(seed))


def context(name: str = "orders-api", qualifier: str | None = None) -> FakeLambdaContext:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}" + (f":{qualifier}" if qualifier else "")
    return FakeLambdaContext(function_name=name, invoked_function_arn=arn)


def condition(**fields: Any) -> Config:
    return parse(match=[fields])


class TestParsing:
    def test_every_control_is_optional_and_none_costs_a_check(self) -> None:
        config = parse()

        assert (config.dry_run, config.targets, config.match, config.cohort) == (False, None, None, None)
        assert config.checks == ()

    def test_a_full_document_parses_into_the_controls(self) -> None:
        config = parse(
            dry_run=True,
            targets={"functions": ["orders-*"], "qualifiers": ["live"]},
            match=[{"path": "requestContext.http.method", "equals": "POST"}, {"path": "rawPath", "regex": "^/o"}],
            cohort={"key": "headers.x-user-id", "percent": 2.5, "salt": "s1"},
        )

        assert config.dry_run is True
        assert config.targets == Targets(("orders-*",), ("live",))
        assert config.match == Match(
            (
                Condition(("requestContext", "http", "method"), "equals", "POST"),
                Condition(("rawPath",), "regex", "^/o"),
            )
        )
        assert config.cohort == Cohort(("headers", "x-user-id"), 2.5, "s1")
        assert len(config.checks) == 3

    @pytest.mark.parametrize(
        ("controls", "expected"),
        [
            ({"dry_run": "yes"}, ["dry_run: must be true or false, not a string"]),
            ({"targets": []}, ["targets: must be an object, not an array"]),
            ({"targets": {}}, ["targets: must have functions, qualifiers or both"]),
            ({"targets": {"functions": []}}, [
                "targets.functions: must not be empty (leave it out to target every function)"
            ]),
            ({"targets": {"functions": ["a", 3, ""]}}, [
                "targets.functions[1]: must be a non-empty string",
                "targets.functions[2]: must be a non-empty string",
            ]),
            ({"targets": {"qualifiers": "live"}}, ["targets.qualifiers: must be an array, not a string"]),
            ({"targets": {"functions": ["a"], "aliases": ["live"]}}, ["targets.aliases: unknown key"]),
            ({"match": {}}, ["match: must be an array, not an object"]),
            ({"match": []}, ["match: must not be empty (leave it out to match every event)"]),
            ({"match": ["POST"]}, ["match[0]: must be an object, not a string"]),
            ({"match": [{"equals": 1}]}, ["match[0].path: is required"]),
            ({"match": [{"path": "a..b", "exists": True}]}, [
                "match[0].path: must be a dotted path such as requestContext.http.method or Records.0.eventSource"
            ]),
            ({"match": [{"path": "a"}]}, ["match[0]: must have exactly one of equals, prefix, regex or exists"]),
            ({"match": [{"path": "a", "equals": 1, "prefix": "x"}]}, [
                "match[0]: must have exactly one of equals, prefix, regex or exists"
            ]),
            ({"match": [{"path": "a", "prefix": 1}]}, ["match[0].prefix: must be a string, not a number"]),
            ({"match": [{"path": "a", "exists": "yes"}]}, ["match[0].exists: must be true or false, not a string"]),
            ({"match": [{"path": "a", "regex": None}]}, ["match[0].regex: must be a string, not null"]),
            ({"match": [{"path": "a", "equals": 1}, {"path": "b", "equal": 1}]}, [
                "match[1]: must have exactly one of equals, prefix, regex or exists",
                "match[1].equal: unknown key",
            ]),
            ({"cohort": {"key": "user"}}, ["cohort.percent: is required"]),
            ({"cohort": {"percent": 5}}, ["cohort.key: is required"]),
            ({"cohort": {"key": "user", "percent": 101}}, ["cohort.percent: must be a number between 0 and 100"]),
            ({"cohort": {"key": "user", "percent": True}}, ["cohort.percent: must be a number, not a boolean"]),
            ({"cohort": {"key": "user", "percent": 5, "salt": 7}}, ["cohort.salt: must be a string, not a number"]),
            ({"cohort": {"key": "user", "percent": 5, "seed": "x"}}, ["cohort.seed: unknown key"]),
            ({"cohort": "user"}, ["cohort: must be an object, not a string"]),
        ],
    )  # fmt: skip
    def test_each_mistake_is_reported_at_its_location(self, controls: dict[str, Any], expected: list[str]) -> None:
        assert problems_of(**controls) == expected

    def test_every_problem_in_every_control_is_reported_at_once(self) -> None:
        problems = problems_of(targets={}, match=[{"path": ""}], cohort={})

        assert [problem.split(":")[0] for problem in problems] == [
            "targets",
            "match[0].path",
            "match[0]",
            "cohort.key",
            "cohort.percent",
        ]

    def test_controls_are_checked_even_when_the_experiment_is_disabled(self) -> None:
        with pytest.raises(ConfigError):
            parse_config({"enabled": False, "cohort": {"key": "user"}})

    def test_the_legacy_format_knows_no_controls(self) -> None:
        with pytest.raises(ConfigError, match="targets: unknown key"):
            parse_config({"is_enabled": True, "fault_type": "exception", "exception_msg": "x", "targets": {}})


RE2_SYNTAX = "match[0].regex: must be a regular expression in RE2 syntax; this one has "


class TestRegexIsCheckedWhenTheConfigIsRead:
    def test_an_invalid_pattern_is_a_config_error_that_never_quotes_it(self) -> None:
        problems = problems_of(match=[{"path": "a", "regex": "(SECRET\\q"}])

        assert problems == [RE2_SYNTAX + "an escape RE2 does not have (a backreference such as \\1, or \\Z: write $)"]
        assert "SECRET" not in problems[0]

    def test_a_pattern_longer_than_the_limit_is_refused(self) -> None:
        assert parse(match=[{"path": "a", "regex": "a" * MAX_PATTERN_LENGTH}])
        assert problems_of(match=[{"path": "a", "regex": "a" * (MAX_PATTERN_LENGTH + 1)}]) == [
            f"match[0].regex: must be at most {MAX_PATTERN_LENGTH} characters"
        ]

    @pytest.mark.parametrize(
        ("pattern", "reason"),
        [
            ("(SECRET)\\1", "an escape RE2 does not have (a backreference such as \\1, or \\Z: write $)"),
            ("^SECRET\\Z", "an escape RE2 does not have (a backreference such as \\1, or \\Z: write $)"),
            ("SECRET(?=x)", "a lookaround, a backreference by name or an atomic group, which RE2 does not have"),
            ("(?<!x)SECRET", "a lookaround, a backreference by name or an atomic group, which RE2 does not have"),
            ("(?>SECRET)", "a lookaround, a backreference by name or an atomic group, which RE2 does not have"),
            ("SECRET++", "a repetition of a repetition, such as a** or a++"),
            ("SECRET{1001}", "a repetition count above 1000, or in the wrong order"),
            ("(SECRET", "a ( without its )"),
            ("[SECRET", "a [ without its ]"),
            ("*SECRET", "a repetition with nothing to repeat"),
        ],
    )
    def test_what_re2_cannot_run_is_a_config_error_that_says_what(self, pattern: str, reason: str) -> None:
        problems = problems_of(match=[{"path": "a", "regex": pattern}])
        assert problems == [RE2_SYNTAX + reason]

    def test_a_lone_surrogate_in_a_pattern_is_a_config_error(self) -> None:
        assert problems_of(match=[{"path": "a", "regex": "x\ud800"}]) == [
            "match[0].regex: must be valid Unicode (no lone surrogate)"
        ]

    @pytest.mark.parametrize(
        "pattern",
        [
            "^/orders/[0-9]+$",
            "(ab)+",
            "(\\d{3})+",
            "^(GET|POST)$",
            "[a-z]+(\\.[a-z]{2})*",
            "(?i)^canary",
            "\\bword\\b$",
            # shapes a backtracking engine can take exponential time on: RE2 cannot
            "(a+)+$",
            "^(\\w+\\s?)*$",
            "^(a|a)*$",
        ],
    )
    def test_patterns_in_re2_syntax_are_accepted(self, pattern: str) -> None:
        assert parse(match=[{"path": "a", "regex": pattern}]).match is not None


class TestRegexMatching:
    def test_a_value_with_a_lone_surrogate_is_matched_not_raised_into_the_handler(self) -> None:
        config = condition(path="name", regex="^a.c$")
        assert admitted(config, {"name": "a\ud800c"})
        assert not admitted(config, {"name": "ab\ud800c"})

    def test_non_ascii_values_are_matched_by_character(self) -> None:
        config = condition(path="name", regex="^caf.$")
        assert admitted(config, {"name": "café"})


class TestTargets:
    def test_function_names_match_glob_patterns_case_sensitively(self) -> None:
        config = parse(targets={"functions": ["orders-*", "checkout"]})

        assert admitted(config, context=context("orders-api"))
        assert admitted(config, context=context("checkout"))
        assert not admitted(config, context=context("checkout-v2"))
        assert not admitted(config, context=context("Orders-api"))
        assert not admitted(config, context=context("payments"))

    def test_glob_syntax_beyond_the_star(self) -> None:
        config = parse(targets={"functions": ["svc-?-[ab]"]})

        assert admitted(config, context=context("svc-1-a"))
        assert not admitted(config, context=context("svc-12-a"))
        assert not admitted(config, context=context("svc-1-c"))

    def test_without_a_context_the_function_name_comes_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        config = parse(targets={"functions": ["orders-*"]})
        assert not admitted(config)  # nothing to match against: not in the radius

        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-api")
        assert admitted(config)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "payments")
        assert not admitted(config)

    def test_qualifiers_come_from_the_invoked_arn(self) -> None:
        config = parse(targets={"qualifiers": ["live", "7"]})

        assert admitted(config, context=context(qualifier="live"))
        assert admitted(config, context=context(qualifier="7"))
        assert not admitted(config, context=context(qualifier="canary"))
        assert not admitted(config, context=context())  # unqualified means $LATEST
        assert not admitted(config)  # no context, no ARN: not in the radius

    def test_an_unqualified_invocation_is_latest(self) -> None:
        config = parse(targets={"qualifiers": ["$LATEST"]})

        assert admitted(config, context=context())
        assert admitted(config, context=context(qualifier="$LATEST"))
        assert not admitted(config, context=context(qualifier="live"))

    def test_functions_and_qualifiers_must_both_match(self) -> None:
        config = parse(targets={"functions": ["orders-*"], "qualifiers": ["live"]})

        assert admitted(config, context=context("orders-api", "live"))
        assert not admitted(config, context=context("orders-api", "dev"))
        assert not admitted(config, context=context("payments", "live"))

    @pytest.mark.parametrize(
        ("arn", "qualifier"),
        [
            (ARN, "$LATEST"),
            (f"{ARN}:live", "live"),
            (f"{ARN}:12", "12"),
            ("arn:aws-cn:lambda:cn-north-1:123456789012:function:f:prod", "prod"),
            (f"{ARN}:", None),
            (f"{ARN}:a:b", None),
            ("orders-api", None),
            ("arn:aws:lambda:us-east-1:123456789012:layer:l:1", None),
            (None, None),
        ],
    )
    def test_reading_the_qualifier(self, arn: str | None, qualifier: str | None) -> None:
        ctx = FakeLambdaContext()
        ctx.invoked_function_arn = arn  # type: ignore[assignment]
        assert invoked_qualifier(ctx) == qualifier


class TestMatch:
    HTTP_EVENT: ClassVar[dict[str, Any]] = {
        "rawPath": "/orders/42",
        "headers": {"x-tenant": "acme", "x-empty": None},
        "requestContext": {"http": {"method": "POST"}},
        "queryStringParameters": {"debug": "1"},
        "body": '{"total": 10}',
        "isBase64Encoded": False,
        "Records": [{"eventSource": "aws:sqs", "attributes": {"ApproximateReceiveCount": "1"}}],
        "amount": 10,
        "tags": ["a", "b"],
    }

    @pytest.mark.parametrize(
        ("fields", "expected"),
        [
            ({"path": "requestContext.http.method", "equals": "POST"}, True),
            ({"path": "requestContext.http.method", "equals": "post"}, False),
            ({"path": "Records.0.eventSource", "equals": "aws:sqs"}, True),
            ({"path": "Records.0.attributes.ApproximateReceiveCount", "equals": "1"}, True),
            ({"path": "Records.1.eventSource", "exists": True}, False),
            ({"path": "Records.x", "exists": True}, False),
            ({"path": "amount", "equals": 10}, True),
            ({"path": "amount", "equals": 10.0}, True),  # one JSON number
            ({"path": "amount", "equals": "10"}, False),
            ({"path": "isBase64Encoded", "equals": False}, True),
            ({"path": "isBase64Encoded", "equals": 0}, False),  # false is not 0 in JSON
            ({"path": "tags", "equals": ["a", "b"]}, True),
            ({"path": "tags", "equals": ["b", "a"]}, False),
            ({"path": "headers", "equals": {"x-empty": None, "x-tenant": "acme"}}, True),
            ({"path": "headers.x-empty", "equals": None}, True),
            ({"path": "headers.x-missing", "equals": None}, False),  # missing is not null
            ({"path": "rawPath", "prefix": "/orders/"}, True),
            ({"path": "rawPath", "prefix": "/payments/"}, False),
            ({"path": "amount", "prefix": "1"}, False),  # only strings have prefixes
            ({"path": "missing", "prefix": ""}, False),
            ({"path": "rawPath", "regex": "^/orders/[0-9]+$"}, True),
            ({"path": "rawPath", "regex": "[0-9]{3}"}, False),
            ({"path": "rawPath", "regex": "42"}, True),  # searched, not matched at the start
            ({"path": "amount", "regex": "10"}, False),  # only strings are searched
            ({"path": "missing", "regex": ".*"}, False),
            ({"path": "headers.x-tenant", "exists": True}, True),
            ({"path": "headers.x-empty", "exists": True}, True),  # present with null
            ({"path": "headers.x-chaos-opt-out", "exists": False}, True),
            ({"path": "headers.x-tenant", "exists": False}, False),
            ({"path": "rawPath.0", "exists": True}, False),  # strings are not indexed
        ],
    )
    def test_a_condition(self, fields: dict[str, Any], expected: bool) -> None:
        assert admitted(condition(**fields), self.HTTP_EVENT) is expected

    def test_all_conditions_must_hold(self) -> None:
        config = parse(
            match=[
                {"path": "requestContext.http.method", "equals": "POST"},
                {"path": "rawPath", "prefix": "/orders/"},
                {"path": "headers.x-tenant", "regex": "^acme$"},
            ]
        )
        assert admitted(config, self.HTTP_EVENT)
        other_tenant = {**self.HTTP_EVENT, "headers": {"x-tenant": "globex"}}
        assert not admitted(config, other_tenant)

    @pytest.mark.parametrize("event", [None, "text", 42, [], ["POST"], {"requestContext": "POST"}])
    def test_events_of_any_shape_fail_quietly(self, event: Any) -> None:
        assert not admitted(condition(path="requestContext.http.method", equals="POST"), event)

    def test_an_object_key_that_looks_like_an_index_is_a_key(self) -> None:
        assert admitted(condition(path="pathParameters.0", equals="x"), {"pathParameters": {"0": "x"}})

    def test_a_regex_sees_only_the_first_characters_of_a_long_value(self) -> None:
        config = condition(path="body", regex="needle")
        assert admitted(config, {"body": "x" * (MAX_REGEX_INPUT - 6) + "needle"})
        assert not admitted(config, {"body": "x" * MAX_REGEX_INPUT + "needle"})

    @pytest.mark.parametrize(
        ("left", "right", "equal"),
        [
            (1, 1.0, True),
            (True, 1, False),
            (0, False, False),
            (None, None, True),
            ("1", 1, False),
            ([1, [True]], [1.0, [True]], True),
            ({"a": [1]}, {"a": [1]}, True),
            ({"a": 1}, {"a": 1, "b": 2}, False),
            ([1], (1,), True),
            ({"a": 1}, [("a", 1)], False),
        ],
    )
    def test_equality_is_json_equality(self, left: Any, right: Any, equal: bool) -> None:
        assert json_equal(left, right) is equal
        assert json_equal(right, left) is equal


def user_ids(count: int, prefix: str = "user-") -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def cohort_of(ids: list[str], percent: float, salt: str = "") -> set[str]:
    config = parse(cohort={"key": "user", "percent": percent, "salt": salt})
    return {user for user in ids if admitted(config, {"user": user})}


class TestCohort:
    IDS = user_ids(10_000)

    def test_buckets_never_change(self) -> None:
        # Pinned: a change here would move users in and out of every running cohort on deploy.
        assert [cohort_bucket("", user) for user in ("user-0", "user-1", "alice")] == [872845, 807032, 43148]
        assert cohort_bucket("s", "alice") == 145114

    @pytest.mark.parametrize("percent", [1, 5, 20, 50])
    def test_the_cohort_is_about_percent_of_the_members(self, percent: float) -> None:
        share = len(cohort_of(self.IDS, percent)) / len(self.IDS)
        # within four standard deviations of a binomial draw: a sound hash is never outside
        margin = 4 * math.sqrt(percent / 100 * (1 - percent / 100) / len(self.IDS))

        assert abs(share - percent / 100) <= margin

    def test_a_fractional_percent(self) -> None:
        ids = user_ids(100_000)
        assert 0.4 <= len(cohort_of(ids, 0.5)) / len(ids) * 100 <= 0.6  # 4.5 standard deviations

    def test_zero_and_a_hundred_percent(self) -> None:
        assert cohort_of(self.IDS, 0) == set()
        assert cohort_of(self.IDS, 100) == set(self.IDS)

    def test_the_same_members_are_picked_by_every_fresh_config(self) -> None:
        first = cohort_of(self.IDS, 5)
        for _ in range(3):
            assert cohort_of(self.IDS, 5) == first

    def test_a_member_is_in_or_out_every_time(self) -> None:
        config = parse(cohort={"key": "user", "percent": 5})
        members = cohort_of(self.IDS[:400], 5)
        assert members  # some in, some out: the test means something
        for seed in range(5):
            for user in self.IDS[:400]:
                assert admitted(config, {"user": user}, seed=seed) is (user in members)

    def test_scaling_up_keeps_everyone_already_in(self) -> None:
        one, five, twenty = (cohort_of(self.IDS, percent) for percent in (1, 5, 20))

        assert one < five < twenty

    def test_another_salt_picks_an_independent_group(self) -> None:
        first = cohort_of(self.IDS, 5, salt="game-day-1")
        second = cohort_of(self.IDS, 5, salt="game-day-2")
        unsalted = cohort_of(self.IDS, 5)

        assert first != second != unsalted
        # independent 5 % groups of 10,000 share about 5 % x 5 % = 25 members
        assert 5 <= len(first & second) <= 60
        assert 5 <= len(first & unsalted) <= 60

    def test_numbers_and_strings_with_the_same_digits_are_the_same_member(self) -> None:
        config = parse(cohort={"key": "tenant", "percent": 50})
        for tenant in range(200):
            assert admitted(config, {"tenant": tenant}) is admitted(config, {"tenant": str(tenant)})

    @pytest.mark.parametrize(
        "event", [{}, {"user": None}, {"user": ""}, {"user": True}, {"user": {"id": 1}}, None, "x"]
    )
    def test_an_event_without_a_usable_member_is_outside(self, event: Any) -> None:
        assert not admitted(parse(cohort={"key": "user", "percent": 100}), event)

    def test_nested_keys(self) -> None:
        config = parse(cohort={"key": "requestContext.authorizer.claims.sub", "percent": 100})
        assert admitted(config, {"requestContext": {"authorizer": {"claims": {"sub": "alice"}}}})
        assert not admitted(config, {"requestContext": {"authorizer": {}}})

    def test_odd_unicode_in_a_member_does_not_break_the_hash(self) -> None:
        config = parse(cohort={"key": "user", "percent": 100})
        assert admitted(config, {"user": "\ud800 lone surrogate"})


class TestCombined:
    def test_controls_and_the_rate_combine_with_and(self) -> None:
        ids = user_ids(2_000)
        members = sorted(cohort_of(ids, 50))
        outsider = next(user for user in ids if user not in members)
        config = parse(
            rate=0.5,
            targets={"functions": ["orders-*"]},
            match=[{"path": "method", "equals": "POST"}],
            cohort={"key": "user", "percent": 50},
        )
        ctx = context("orders-api")
        random = Random(7)
        hits = sum(in_blast_radius(config, {"method": "POST", "user": user}, ctx, random) for user in members)

        assert 0.4 * len(members) <= hits <= 0.6 * len(members)  # the rate still applies to the cohort
        for event, ctx_ in [
            ({"method": "GET", "user": members[0]}, ctx),
            ({"method": "POST", "user": members[0]}, context("payments")),
            ({"method": "POST", "user": outsider}, ctx),
        ]:
            assert not any(in_blast_radius(config, event, ctx_, random) for _ in range(20))

    def test_a_zero_rate_admits_nobody_whatever_the_controls_say(self) -> None:
        config = parse(rate=0, cohort={"key": "user", "percent": 100})
        assert not any(admitted(config, {"user": user}, seed=seed) for seed, user in enumerate(user_ids(50)))
