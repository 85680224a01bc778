"""`timeout`, `diskspace`, `corrupt` and `batch_failure` through `@inject_fault`, with the
config read from a moto server on 127.0.0.1 (`dependency` and `denylist` have their own
files)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from random import Random
from typing import Any

import pytest

from chaos_layer import _disk, inject_fault
from tests.conftest import FakeLambdaContext, MotoServer, RecordingSleep
from tests.unit.test_events import ALB, HTTP_V2
from tests.unit.test_new_faults import DYNAMODB_EVENT, KINESIS_EVENT, SQS_EVENT

PARAMETER = "/chaos-layer/more-faults"
MIB = 1024 * 1024


def with_chaos(moto_server: MotoServer, sleeps: RecordingSleep, *faults: dict[str, Any]) -> Callable[[Any], Any]:
    moto_server.put(PARAMETER, json.dumps({"enabled": True, "experiment": "more", "faults": list(faults)}))
    return inject_fault(
        parameter=PARAMETER,
        max_age=0,
        idle_max_age=0,
        boto3_client=moto_server.client(),
        random=Random(11),
        sleep=sleeps,
    )


class TestTimeout:
    def test_holds_until_past_the_deadline_and_the_handler_never_runs(
        self, moto_server: MotoServer, sleeps: RecordingSleep
    ) -> None:
        runs: list[Any] = []

        @with_chaos(moto_server, sleeps, {"type": "timeout"})
        def handler(event: Any, context: Any) -> str:
            runs.append(event)
            return "ran"

        with pytest.raises(TimeoutError):
            handler({}, FakeLambdaContext())  # 30 000 ms remaining

        assert sleeps.calls == [31.0]
        assert runs == []

    def test_without_a_context_times_out_after_the_fallback(
        self, moto_server: MotoServer, sleeps: RecordingSleep
    ) -> None:
        runs: list[Any] = []

        @with_chaos(moto_server, sleeps, {"type": "timeout", "fallback_ms": 250})
        def handler(event: Any, context: Any) -> str:
            runs.append(event)
            return "ran"

        with pytest.raises(TimeoutError):
            handler({}, None)
        assert sleeps.calls == [0.25]
        assert runs == []


def fill_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{_disk.PREFIX}*"))


class TestDiskSpace:
    def test_the_space_is_taken_during_the_handler_and_given_back_after(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path
    ) -> None:
        seen: list[tuple[int, int]] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 3, "path": str(tmp_path), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> str:
            for file in fill_files(tmp_path):
                seen.append((file.stat().st_size, file.stat().st_blocks * 512))
            return "ok"

        assert handler({}, None) == "ok"

        assert len(seen) == 1
        size, allocated = seen[0]
        assert size == 3 * MIB
        assert allocated >= 3 * MIB  # really allocated, not a sparse file
        assert fill_files(tmp_path) == []

    def test_the_file_is_removed_after_a_handler_exception(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path
    ) -> None:
        present: list[bool] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 1, "path": str(tmp_path), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> None:
            present.append(bool(fill_files(tmp_path)))
            raise OSError(28, "No space left on device")

        with pytest.raises(OSError, match="No space left"):
            handler({}, None)
        assert present == [True]
        assert fill_files(tmp_path) == []

    @pytest.mark.parametrize(
        ("free_mb", "expected_mb"),
        [(70, 6), (64, None), (10, None)],  # margin 64: fill reduced to 6 MiB, or skipped
    )
    def test_the_safety_margin_always_stays_free(
        self,
        moto_server: MotoServer,
        sleeps: RecordingSleep,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        free_mb: int,
        expected_mb: int | None,
    ) -> None:
        monkeypatch.setattr(_disk, "free_bytes", lambda directory: free_mb * MIB)
        sizes: list[int] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 100, "path": str(tmp_path)})
        def handler(event: Any, context: Any) -> str:
            sizes.extend(file.stat().st_size for file in fill_files(tmp_path))
            return "ran"

        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert handler({}, None) == "ran"

        assert sizes == ([] if expected_mb is None else [expected_mb * MIB])
        warnings = [r.getMessage() for r in caplog.records if r.name == "chaos_layer._disk"]
        assert len(warnings) == 1
        assert "safety margin" in warnings[0]
        assert not any(char.isdigit() for char in warnings[0])
        assert fill_files(tmp_path) == []

    def test_a_missing_directory_lets_the_handler_run(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path
    ) -> None:
        missing = tmp_path / "not-there"

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 1, "path": str(missing)})
        def handler(event: Any, context: Any) -> str:
            return "ran"

        assert handler({}, None) == "ran"
        assert not missing.exists()

    def test_a_path_that_is_not_a_directory_lets_the_handler_run(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        a_file = tmp_path / "config.json"
        a_file.write_text("{}")

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 1, "path": str(a_file), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> str:
            return "ran"

        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert handler({}, None) == "ran"
        assert [r.getMessage() for r in caplog.records if r.name == "chaos_layer._disk"] == [
            "chaos-layer diskspace fault skipped: cannot create a file in its path"
        ]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


class TestCorrupt:
    def test_an_http_api_response_body_is_truncated(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        @with_chaos(moto_server, sleeps, {"type": "corrupt", "truncate": 12})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "body": json.dumps({"orders": [1, 2, 3]}),
            }

        response = handler(HTTP_V2, FakeLambdaContext())

        assert response["statusCode"] == 200
        assert response["body"] == '{"orders": ['
        with pytest.raises(json.JSONDecodeError):
            json.loads(response["body"])

    def test_an_alb_response_body_is_replaced(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        @with_chaos(moto_server, sleeps, {"type": "corrupt", "body": "<html>502 Bad Gateway</html>"})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "statusDescription": "200 OK", "body": '{"ok": true}', "isBase64Encoded": False}

        assert handler(ALB, None) == {
            "statusCode": 200,
            "statusDescription": "200 OK",
            "body": "<html>502 Bad Gateway</html>",
            "isBase64Encoded": False,
        }

    def test_a_non_http_result_is_left_alone(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        @with_chaos(moto_server, sleeps, {"type": "corrupt", "body": "garbage"})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"processed": 3}

        assert handler(SQS_EVENT, None) == {"processed": 3}


class TestBatchFailure:
    @pytest.mark.parametrize("event", [SQS_EVENT, KINESIS_EVENT, DYNAMODB_EVENT], ids=["sqs", "kinesis", "dynamodb"])
    def test_part_of_the_batch_is_reported_failed(
        self, moto_server: MotoServer, sleeps: RecordingSleep, event: dict[str, Any]
    ) -> None:
        processed: list[int] = []

        @with_chaos(moto_server, sleeps, {"type": "batch_failure", "fraction": 0.5})
        def handler(event: Any, context: Any) -> None:
            processed.append(len(event["Records"]))  # the handler still sees and processes every record

        response = handler(event, FakeLambdaContext())

        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        assert processed == [len(event["Records"])]
        assert len(failed) == round(len(event["Records"]) / 2)
        assert len(set(failed)) == len(failed)

    def test_the_handlers_own_failures_are_kept(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        first = SQS_EVENT["Records"][0]["messageId"]

        @with_chaos(moto_server, sleeps, {"type": "batch_failure", "fraction": 0.2})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"batchItemFailures": [{"itemIdentifier": first}]}

        failed = [item["itemIdentifier"] for item in handler(SQS_EVENT, None)["batchItemFailures"]]
        assert failed[0] == first
        assert 2 <= len(failed) <= 3  # its own, plus two drawn (one of which may be the same)
        assert len(set(failed)) == len(failed)

    def test_a_non_batch_event_is_left_alone(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        @with_chaos(moto_server, sleeps, {"type": "batch_failure", "fraction": 1})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "body": "ok"}

        assert handler(HTTP_V2, None) == {"statusCode": 200, "body": "ok"}
