"""The status document of ``/status``: both loops as ``recon status`` shows them.

It is built from what the loops saw in their last activations, without asking the database, so
it answers while the database is down (and says what the last activations hit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reconfigurator.background import EXECUTOR, PLANNER, Activation, BackgroundTasks, LoopStats
from reconfigurator.db.targets import Target
from reconfigurator.executor import ExecutionReport


def status_document(
    tasks: BackgroundTasks, *, version: str, started_at: datetime, now: datetime
) -> dict[str, Any]:
    """The daemon's version and uptime, the target, each loop's last activation, the last
    execution's outcome, failed step, error chain, repairs and warnings, and the last
    execution that recorded repairs (later runs count those rows as never created)."""
    return {
        "version": version,
        "started_at": started_at.isoformat(),
        "uptime_s": round((now - started_at).total_seconds(), 3),
        "loops_running": tasks.loops_alive(),
        "target": _target(_last_target(tasks)),
        "loops": {
            PLANNER: _loop(tasks.planner, tasks.plan_interval_s),
            EXECUTOR: _loop(tasks.executor, tasks.execute_interval_s),
        },
        "last_execution": _execution(tasks.executor_last_report),
        "last_repairs": _repairs(tasks.executor_last_repairing_report),
    }


def _last_target(tasks: BackgroundTasks) -> Target | None:
    """The newest target either loop saw."""
    seen = [
        stats.last_activation.target
        for stats in (tasks.planner, tasks.executor)
        if stats.last_activation is not None and stats.last_activation.target is not None
    ]
    return max(seen, key=lambda target: target.version, default=None)


def _target(target: Target | None) -> dict[str, Any] | None:
    if target is None:
        return None
    return {
        "blueprint_id": str(target.blueprint_id),
        "version": target.version,
        "enabled": target.enabled,
        "time_made_target": target.time_made_target.isoformat(),
    }


def _loop(stats: LoopStats, interval_s: float) -> dict[str, Any]:
    return {
        "interval_s": interval_s,
        "activations": stats.activations,
        "failed_activations": stats.failures,
        "busy": stats.busy,
        "last_activation": _activation(stats.last_activation),
    }


def _activation(activation: Activation | None) -> dict[str, Any] | None:
    if activation is None:
        return None
    fields = {k: v for k, v in activation.fields.items() if k not in {"outcome", "duration_s"}}
    return {
        "outcome": activation.outcome,
        "time_started": activation.time_started.isoformat(),
        "duration_s": round(activation.duration_s, 6),
        **fields,
    }


def _execution(report: ExecutionReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    steps = report.steps
    failed_index = next(
        (i for i, step in enumerate(steps) if step.name == report.failed_step), None
    )
    repairs = _repair_list(report)
    never_created = sum(
        step.details.get(table, {}).get("not_found", 0)
        for step in steps
        for table in ("external_ips", "nics")
    )
    step_warnings = [warning for step in steps for warning in step.details.get("warnings", [])]
    return {
        "execution_id": str(report.execution_id),
        "blueprint_id": str(report.blueprint_id),
        "outcome": report.outcome,
        "time_started": report.time_started.isoformat(),
        "time_finished": report.time_finished.isoformat() if report.time_finished else None,
        "duration_s": round(sum(step.duration_s for step in steps), 6),
        "status": (
            f"completed ({len(steps)} step{'s' if len(steps) != 1 else ''})"
            if failed_index is None
            else f"failed at: {report.failed_step} (step {failed_index + 1}/{len(steps)})"
        ),
        "failed_step": report.failed_step,
        "error": report.error,
        "error_kind": type(report.exception).__name__ if report.exception else None,
        "error_chain": list(report.error_chain),
        "repairs": repairs,
        "never_created": never_created,
        "warnings": [*step_warnings, *report.warnings],
        "steps": [step.to_json() for step in steps],
    }


def _repair_list(report: ExecutionReport) -> list[dict[str, Any]]:
    return [repair for step in report.steps for repair in step.details.get("repairs", [])]


def _repairs(report: ExecutionReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "execution_id": str(report.execution_id),
        "blueprint_id": str(report.blueprint_id),
        "time_started": report.time_started.isoformat(),
        "repairs": _repair_list(report),
    }
