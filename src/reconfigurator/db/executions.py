"""Execution records (``bp_execution``): one row per executor run.

A running executor renews its row's ``time_heartbeat`` every few seconds. A ``running`` row
whose heartbeat is older than a staleness bound belongs to a run whose process died: readers
report it ``interrupted`` at once (:func:`last_execution`), and the next executor run marks it
so, with the time it did (:func:`mark_interrupted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import ColumnElement, Interval, and_, cast, func, insert, literal, select, update
from sqlalchemy.engine import Connection

from reconfigurator.db.schema import ExecutionOutcome, bp_execution_table

EXECUTION = bp_execution_table

#: How often a running executor renews its heartbeat, by default.
DEFAULT_HEARTBEAT_INTERVAL_S: Final = 5.0
#: After how long without a heartbeat a running run counts as interrupted, by default.
DEFAULT_STALE_AFTER_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One executor run as ``bp_execution`` records it."""

    id: UUID
    blueprint_id: UUID
    time_started: datetime
    time_finished: datetime | None
    outcome: ExecutionOutcome
    failed_step: str | None
    error: str | None
    report: dict[str, Any] | None
    time_heartbeat: datetime | None = None
    #: When a run was marked interrupted; ``None`` for one only found to be (not yet marked).
    time_interrupted: datetime | None = None


def record_start(
    conn: Connection,
    execution_id: UUID,
    blueprint_id: UUID,
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> tuple[datetime, list[UUID]]:
    """Record a run's start, and mark ``interrupted`` every run without a heartbeat for
    ``stale_after_s`` (one statement). Returns when it started and the runs marked."""
    marked = (
        update(EXECUTION)
        .where(_stale(stale_after_s))
        .values(outcome=ExecutionOutcome.INTERRUPTED, time_interrupted=func.now())
        .returning(EXECUTION.c.id)
        .cte("marked")
    )
    row = conn.execute(
        insert(EXECUTION)
        .add_cte(marked)
        .values(
            id=execution_id,
            blueprint_id=blueprint_id,
            time_started=func.now(),
            time_heartbeat=func.now(),
            outcome=ExecutionOutcome.RUNNING,
        )
        .returning(
            EXECUTION.c.time_started,
            select(func.array_agg(marked.c.id)).scalar_subquery().label("marked"),
        )
    ).one()
    return row.time_started, list(row.marked or [])


def record_finish(
    conn: Connection,
    execution_id: UUID,
    *,
    outcome: ExecutionOutcome,
    failed_step: str | None,
    error: str | None,
    report: dict[str, Any],
) -> datetime:
    """Record the outcome, error and JSON report of run ``execution_id``."""
    finished: datetime = conn.execute(
        update(EXECUTION)
        .where(EXECUTION.c.id == execution_id)
        .values(
            time_finished=func.now(),
            outcome=outcome,
            failed_step=failed_step,
            error=error,
            report=report,
        )
        .returning(EXECUTION.c.time_finished)
    ).scalar_one()
    return finished


def beat(conn: Connection, execution_id: UUID) -> bool:
    """Renew a running run's heartbeat; ``False`` if the run is no longer ``running``."""
    renewed = conn.execute(
        update(EXECUTION)
        .where(EXECUTION.c.id == execution_id, EXECUTION.c.outcome == ExecutionOutcome.RUNNING)
        .values(time_heartbeat=func.now())
    )
    return bool(renewed.rowcount)


def _stale(stale_after_s: float) -> ColumnElement[bool]:
    """A ``running`` row whose last heartbeat (or start) is older than the bound, by the
    database's clock (so clocks of executor hosts do not matter)."""
    last_sign = func.coalesce(EXECUTION.c.time_heartbeat, EXECUTION.c.time_started)
    bound = cast(literal(f"{float(stale_after_s)} seconds"), Interval)
    return and_(EXECUTION.c.outcome == ExecutionOutcome.RUNNING, last_sign < func.now() - bound)


def mark_interrupted(conn: Connection, stale_after_s: float) -> list[UUID]:
    """Mark every run without a heartbeat for ``stale_after_s`` as ``interrupted`` (now)."""
    marked = conn.execute(
        update(EXECUTION)
        .where(_stale(stale_after_s))
        .values(outcome=ExecutionOutcome.INTERRUPTED, time_interrupted=func.now())
        .returning(EXECUTION.c.id)
    )
    return list(marked.scalars())


def _record(row: Any) -> ExecutionRecord:
    outcome = ExecutionOutcome(row.outcome)
    if getattr(row, "presumed_dead", False):
        outcome = ExecutionOutcome.INTERRUPTED
    return ExecutionRecord(
        id=row.id,
        blueprint_id=row.blueprint_id,
        time_started=row.time_started,
        time_finished=row.time_finished,
        outcome=outcome,
        failed_step=row.failed_step,
        error=row.error,
        report=row.report,
        time_heartbeat=row.time_heartbeat,
        time_interrupted=row.time_interrupted,
    )


def last_execution(
    conn: Connection, stale_after_s: float = DEFAULT_STALE_AFTER_S
) -> ExecutionRecord | None:
    """The latest run; a ``running`` one without a heartbeat for ``stale_after_s`` comes back
    ``interrupted`` (whether or not a later run has marked it yet)."""
    records = recent_executions(conn, 1, stale_after_s)
    return records[0] if records else None


def recent_executions(
    conn: Connection, limit: int = 20, stale_after_s: float = DEFAULT_STALE_AFTER_S
) -> list[ExecutionRecord]:
    """The latest ``limit`` runs, newest first (stale ``running`` ones as ``interrupted``)."""
    rows = conn.execute(
        select(EXECUTION, _stale(stale_after_s).label("presumed_dead"))
        .order_by(EXECUTION.c.time_started.desc(), EXECUTION.c.id)
        .limit(limit)
    )
    return [_record(row) for row in rows]


def last_completed_time(conn: Connection) -> datetime | None:
    """When the last completed run finished (``None`` if no run ever completed)."""
    finished: datetime | None = conn.execute(
        select(func.max(EXECUTION.c.time_finished)).where(
            EXECUTION.c.outcome == ExecutionOutcome.COMPLETED
        )
    ).scalar()
    return finished
