"""A connection killed at every statement of step 1's transaction, on a converging state.

The target holds every kind of write the step does: a live row to soft-delete (an expunged
Nexus), rows never created (a replacement expunged before any run: repairs) and rows to create
(the next replacement). A real run first counts the statements of the step's transaction;
then, for each statement index k and for the COMMIT, a fresh copy of the state is made and the
executor's backend is terminated from a second connection right before statement k. Each time:

* the run fails, at step 1, with the database's own error (SQLSTATE 57P01);
* every table the step writes is exactly as before (every column of every row of
  ``external_ip``, ``network_interface``, ``ip_pool_range`` and the repair record);
* the next run, with nothing done in between, converges: the tables realize the target (the
  never-created rows have no row and are recorded once as repairs, listed in that run's
  report) and the audit finds nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.executions import last_execution
from reconfigurator.db.retry import sqlstate_of
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from reconfigurator.testing import DatabaseServer
from tests.db_support import snapshot
from tests.reliability.faults import COMMIT, BackendKiller, StepTracer
from tests.reliability.invariants import (
    RowLedger,
    audit_work_left,
    read_tables_consistently,
    realization_problems,
    step_report_problems,
)
from tests.reliability.scenarios import SavedState, hand_built_race, planner_race, saved_state
from tests.reliability.stats import ReliabilityStats

pytestmark = pytest.mark.reliability

#: SQLSTATE of "terminating connection due to administrator command".
ADMIN_SHUTDOWN = "57P01"

SCENARIOS: dict[str, Callable[[Engine], Blueprint]] = {
    "hand_built_race": hand_built_race,
    "planner_race": planner_race,
}


def _assert_converging(details: dict[str, object]) -> None:
    """The run did every kind of write: soft-deletes, repairs and creates, in both tables."""
    for table in ("external_ips", "nics"):
        counts = details[table]
        assert isinstance(counts, dict)
        assert counts["soft_deleted"] >= 1, counts
        assert counts["not_found"] >= 1, counts
        assert counts["created"] >= 1, counts


def _calibrate(state: SavedState) -> list[str]:
    """The statements of step 1's transaction in a real, fault-free run."""
    target = state.target
    with state.copy() as engine:
        tracer = StepTracer(engine)
        report = tracer.executor().execute()
        assert report.succeeded, report.error
        _assert_converging(report.steps[0].details)
        assert len(tracer.attempts) == 1
        attempt = tracer.first_attempt
        assert attempt.committed
        tables = read_tables_consistently(engine)
        assert realization_problems(tables, target) == []
        details = report.steps[0].details
        assert step_report_problems(tables, target, details, report.execution_id) == []
        assert details["repairs"], "the run met no never-created row"
        return attempt.statements


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_connection_killed_at_every_statement_leaves_nothing_and_next_run_converges(
    pg_server: DatabaseServer, scenario: str, reliability_stats: ReliabilityStats
) -> None:
    with saved_state(pg_server, SCENARIOS[scenario]) as state:
        _kill_at_every_statement(state, scenario, reliability_stats)


def _kill_at_every_statement(
    state: SavedState, scenario: str, reliability_stats: ReliabilityStats
) -> None:
    target = state.target
    statements = _calibrate(state)
    kinds = [s.split()[0].upper() for s in statements]
    # The step writes with set-based statements: both kinds of write are in the transaction.
    assert kinds[0] == "SELECT" and "UPDATE" in kinds and "INSERT" in kinds, statements

    points: list[int | str] = [*range(len(statements)), COMMIT]
    survived: list[str] = []
    ledger_rows = 0
    rows_lost = 0
    for index, point in enumerate(points):
        with state.copy() as engine:
            before = snapshot(engine)
            ledger = RowLedger()
            assert ledger.observe_engine(engine) == []
            killer = BackendKiller(state.server.admin_url)
            tracer = StepTracer(engine)
            try:
                fault = tracer.arm(index, killer)
                report = tracer.executor().execute()
            finally:
                tracer.close()
                killer.close()

            where = f"{scenario}: kill before {point!r} ({fault.statement})"
            assert fault.fired_at == point, where
            assert fault.statement == ("COMMIT" if point == COMMIT else statements[index]), where
            assert killer.killed, where
            # The run failed at step 1 with the database's own, clear error ...
            assert not report.succeeded, where
            assert report.failed_step == EXTERNAL_NETWORKING_STEP, where
            assert isinstance(report.exception, OperationalError), (where, report.exception)
            assert sqlstate_of(report.exception) == ADMIN_SHUTDOWN, where
            assert report.error_chain[-1] == "terminating connection due to administrator command"
            # ... recorded as failed (over a new connection) ...
            with engine.connect() as conn:
                record = last_execution(conn)
            assert record is not None and record.id == report.execution_id, where
            assert record.outcome.value == "failed", where
            # ... and wrote nothing: every row of every table the step writes is as it was.
            assert snapshot(engine) == before, where
            assert ledger.observe_engine(engine) == [], where

            # The next run converges with no help.
            again = Executor(engine).execute()
            assert again.succeeded, (where, again.error)
            tables = read_tables_consistently(engine)
            assert realization_problems(tables, target) == [], where
            details = again.steps[0].details
            assert step_report_problems(tables, target, details, again.execution_id) == [], where
            assert audit_work_left(engine, target) == [], where
            assert ledger.observe_engine(engine) == [], where
            ledger_rows += ledger.rows_seen
            rows_lost += len(ledger.lost)
            survived.append(str(point))

    assert len(survived) == len(points)
    reliability_stats.record(
        f"fault_injection.{scenario}",
        statements_in_step_transaction=len(statements),
        statements=[s[:60] for s in statements],
        injection_points=len(points),
        injection_points_survived=len(survived),
        rows_checked=ledger_rows,
        rows_lost=rows_lost,
    )
