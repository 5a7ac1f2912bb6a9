"""Execution records (``bp_execution``): one row per executor run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from reconfigurator.db.schema import ExecutionOutcome, bp_execution_table

EXECUTION = bp_execution_table


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


def record_start(conn: Connection, execution_id: UUID, blueprint_id: UUID) -> datetime:
    """Record that run ``execution_id`` of ``blueprint_id`` has started; returns its start time."""
    started: datetime = conn.execute(
        insert(EXECUTION)
        .values(
            id=execution_id,
            blueprint_id=blueprint_id,
            time_started=func.now(),
            outcome=ExecutionOutcome.RUNNING,
        )
        .returning(EXECUTION.c.time_started)
    ).scalar_one()
    return started


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


def _record(row: Any) -> ExecutionRecord:
    return ExecutionRecord(
        id=row.id,
        blueprint_id=row.blueprint_id,
        time_started=row.time_started,
        time_finished=row.time_finished,
        outcome=ExecutionOutcome(row.outcome),
        failed_step=row.failed_step,
        error=row.error,
        report=row.report,
    )


def last_execution(conn: Connection) -> ExecutionRecord | None:
    """The most recently started run, or ``None``."""
    row = conn.execute(
        select(EXECUTION).order_by(EXECUTION.c.time_started.desc(), EXECUTION.c.id).limit(1)
    ).first()
    return _record(row) if row is not None else None


def recent_executions(conn: Connection, limit: int = 20) -> list[ExecutionRecord]:
    """The ``limit`` most recently started runs, newest first."""
    rows = conn.execute(
        select(EXECUTION).order_by(EXECUTION.c.time_started.desc(), EXECUTION.c.id).limit(limit)
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
