"""Control-plane code adds its own steps after the built-in one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from reconfigurator.errors import RecordNotFound
from reconfigurator.executor import (
    EXTERNAL_NETWORKING_STEP,
    Executor,
    MissingRowPolicy,
    StepContext,
    StepOutcome,
)
from tests.db_support import make_target
from tests.race import build_race


@pytest.fixture
def executor(engine: Engine) -> Executor:
    race = build_race(engine)
    make_target(engine, race.a)
    return Executor(engine)


def test_steps_run_in_order_with_their_details(executor: Executor) -> None:
    seen: list[str] = []

    @executor.step("Deploy DNS records")
    def deploy_dns(ctx: StepContext) -> dict[str, Any]:
        seen.append("dns")
        return {"zones": sum(1 for _ in ctx.blueprint.in_service_zones())}

    executor.add_step("Nothing to report", lambda ctx: seen.append("quiet") and None)
    report = executor.execute()
    assert report.succeeded
    assert [s.name for s in report.steps] == [
        EXTERNAL_NETWORKING_STEP,
        "Deploy DNS records",
        "Nothing to report",
    ]
    first = report.steps[0].details
    assert first["external_ips"]["created"] == first["nics"]["created"] == 5
    assert (first["repairs"], first["warnings"]) == ([], [])
    assert seen == ["dns", "quiet"]
    assert report.steps[1].details == {"zones": 5}
    assert report.to_json()["steps"][1]["zones"] == 5


def test_non_fatal_failure_is_a_warning(executor: Executor) -> None:
    def broken(_ctx: StepContext) -> None:
        raise RuntimeError("switch unreachable")

    executor.add_step("Configure switches", broken, fatal=False)
    executor.add_step("After", lambda _ctx: {"ran": True})
    report = executor.execute()
    assert report.outcome == "completed"
    assert [s.outcome for s in report.steps] == [
        StepOutcome.COMPLETED,
        StepOutcome.WARNING,
        StepOutcome.COMPLETED,
    ]
    assert report.warnings == ["Configure switches: switch unreachable"]


def test_fatal_failure_stops_later_steps(executor: Executor) -> None:
    executor.add_step("Fatal", lambda _ctx: 1 / 0, fatal=True)
    executor.add_step("Never", lambda _ctx: {"ran": True})
    report = executor.execute()
    assert report.outcome == "failed"
    assert report.failed_step == "Fatal"
    assert [s.outcome for s in report.steps] == [
        StepOutcome.COMPLETED,
        StepOutcome.FAILED,
        StepOutcome.SKIPPED,
    ]
    assert report.error_chain[0] == "step failed: Fatal"


def test_step_one_failure_skips_everything_else(engine: Engine) -> None:
    race = build_race(engine)
    make_target(engine, race.a)
    assert Executor(engine).execute().succeeded
    make_target(engine, race.b)
    make_target(engine, race.c)
    executor = Executor(engine, missing_rows=MissingRowPolicy.FAIL)
    ran: list[str] = []
    executor.add_step("Later", lambda _ctx: ran.append("later") and None)
    report = executor.execute()
    assert isinstance(report.exception, RecordNotFound)
    assert [s.outcome for s in report.steps] == [StepOutcome.FAILED, StepOutcome.SKIPPED]
    assert ran == []


def test_duplicate_step_names_are_refused(executor: Executor) -> None:
    with pytest.raises(ValueError, match="already registered"):
        executor.add_step(EXTERNAL_NETWORKING_STEP, lambda _ctx: None)


def test_step_log_records_carry_run_ids_and_own_fields(
    executor: Executor, caplog: pytest.LogCaptureFixture
) -> None:
    @executor.step("Logs")
    def logs(ctx: StepContext) -> None:
        ctx.log.info("hello", extra={"zone_id": "z-1"})

    with caplog.at_level("INFO", logger="reconfigurator"):
        report = executor.execute()
    [record] = [r for r in caplog.records if r.getMessage() == "hello"]
    assert record.zone_id == "z-1"  # type: ignore[attr-defined]
    assert record.blueprint_id == str(report.blueprint_id)  # type: ignore[attr-defined]
    assert record.execution_id == str(report.execution_id)  # type: ignore[attr-defined]
