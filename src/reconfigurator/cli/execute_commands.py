"""``recon execute`` and ``recon status``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from reconfigurator.cli.context import AppContext, app_context
from reconfigurator.cli.render import BlueprintOption, JsonOption, print_json, print_line
from reconfigurator.db.blueprint_store import resolve_blueprint_id
from reconfigurator.db.executions import DEFAULT_STALE_AFTER_S, ExecutionRecord, last_execution
from reconfigurator.db.schema import ExecutionOutcome
from reconfigurator.db.targets import Target, current_target
from reconfigurator.executor import Executor
from reconfigurator.networking.policy import MissingRowPolicy

EXIT_FAILED = 1
STALE_AFTER_ENV = "RECON_STALE_AFTER"

StaleAfterOption = Annotated[
    float,
    typer.Option(
        "--stale-after",
        envvar=STALE_AFTER_ENV,
        min=0.001,
        help="Seconds without a heartbeat after which a running executor run counts as"
        " interrupted (its process died).",
    ),
]

MissingRowsOption = Annotated[
    MissingRowPolicy,
    typer.Option(
        "--missing-rows",
        help="What a missing row of an expunged zone means: treat-as-deleted (report it as a"
        " repair) or fail (the old behaviour, to reproduce and diagnose).",
        case_sensitive=False,
    ),
]


def execute(
    ctx: typer.Context,
    blueprint: BlueprintOption = None,
    missing_rows: MissingRowsOption = MissingRowPolicy.TREAT_AS_DELETED,
    json_output: JsonOption = False,
    stale_after: StaleAfterOption = DEFAULT_STALE_AFTER_S,
) -> None:
    """Run the executor once against the current target (exit 1 if the run failed)."""
    app_ctx = app_context(ctx)
    engine = app_ctx.migrated_engine()
    blueprint_id = None
    if blueprint is not None:
        with engine.connect() as conn:
            blueprint_id = resolve_blueprint_id(conn, blueprint)
    executor = Executor(
        engine,
        missing_rows=missing_rows,
        stale_after_s=stale_after,
        heartbeat_interval_s=min(5.0, stale_after / 3),
    )
    report = executor.execute(blueprint_id)
    data = report.to_json()
    if json_output:
        print_json(app_ctx.out, data)
    else:
        _render_report(app_ctx, data)
    if not report.succeeded:
        raise typer.Exit(EXIT_FAILED)


def _render_report(app_ctx: AppContext, data: dict[str, Any]) -> None:
    out = app_ctx.out
    out.print(f"blueprint:  {data['blueprint_id']}", markup=False)
    out.print(f"outcome:    {data['outcome']}", markup=False)
    for step in data["steps"]:
        line = f"  {step['name']}: {step['outcome']} ({step['duration_s']:.3f}s)"
        out.print(line, markup=False)
        for table in ("external_ips", "nics"):
            if table in step:
                counts = ", ".join(f"{k} {v}" for k, v in step[table].items())
                out.print(f"    {table}: {counts}", markup=False)
        for repair in step.get("repairs", []):
            out.print(
                f"    repair: zone {repair['zone_id']} {repair['table']} row"
                f" {repair['row_id']}: {repair['result']} (never created: nothing written,"
                " repair recorded)",
                markup=False,
            )
        for warning in step.get("warnings", []):
            out.print(f"    warning: {_step_warning(warning)}", markup=False)
        for conflict in step.get("conflicts", []):
            owner = f" (held by {conflict['owner']})" if conflict["owner"] else ""
            out.print(
                f"    conflict: zone {conflict['zone_id']} {conflict['table']} row"
                f" {conflict['row_id']}: {conflict['detail']}{owner}",
                markup=False,
            )
    _render_error_chain(app_ctx.out, data.get("error_chain") or [])


def _step_warning(warning: dict[str, Any]) -> str:
    return (
        f"zone {warning['zone_id']} {warning['table']} row {warning['row_id']}: {warning['detail']}"
    )


def _render_error_chain(out: Console, chain: list[str]) -> None:
    if not chain:
        return
    print_line(out, f"error:            {chain[0]}")
    for cause in chain[1:]:
        print_line(out, f"  caused by:      {cause}")


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def status(
    ctx: typer.Context,
    json_output: JsonOption = False,
    stale_after: StaleAfterOption = DEFAULT_STALE_AFTER_S,
) -> None:
    """Show the target and the last executor run, like the upstream background-task status."""
    app_ctx = app_context(ctx)
    show_status(
        app_ctx.out, app_ctx.migrated_engine(), json_output=json_output, stale_after_s=stale_after
    )


def show_status(
    out: Console,
    engine: Engine,
    *,
    json_output: bool = False,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> None:
    """Render the status of the target and the last executor run."""
    with engine.connect() as conn:
        target = current_target(conn)
        last = last_execution(conn, stale_after_s)
    if json_output:
        print_json(out, status_json(target, last))
        return
    if target is None:
        out.print("target:           (none)")
    else:
        out.print(
            f"target:           {target.blueprint_id} (version {target.version},"
            f" made {_when(target.time_made_target)})",
            markup=False,
        )
        out.print(f"execution:        {'enabled' if target.enabled else 'disabled'}")
    if last is None:
        out.print("last run:         never")
        return
    _render_last_run(out, last)


def _render_last_run(out: Console, last: ExecutionRecord) -> None:
    """The last run: when, how it ended, and what it found."""
    if last.time_finished is not None:
        took = f", took {(last.time_finished - last.time_started).total_seconds():.3f}s"
    elif last.outcome is ExecutionOutcome.INTERRUPTED:
        took = " (interrupted)"
    else:
        took = " (still running)"
    out.print(f"last run:         {_when(last.time_started)}{took}", markup=False)
    out.print(f"last blueprint:   {last.blueprint_id}", markup=False)
    report = last.report or {}
    steps = report.get("steps", [])
    total = len(steps)
    if last.failed_step is not None:
        index = next((i for i, s in enumerate(steps) if s["name"] == last.failed_step), 0)
        unknown = report.get("error_kind") == "CommitOutcomeUnknown"
        how = "outcome unknown" if unknown else "failed"
        out.print(
            f"status:           {how} at: {last.failed_step} (step {index + 1}/{total})",
            markup=False,
        )
        _render_error_chain(out, report.get("error_chain") or [last.error or "?"])
        if unknown:
            out.print(
                "note:             the step's changes may or may not have been committed;"
                " the next run will confirm them (the step is idempotent)"
            )
        return
    if last.outcome is ExecutionOutcome.RUNNING:
        out.print(f"status:           running (heartbeat {_when(last.time_heartbeat)})")
        return
    if last.outcome is ExecutionOutcome.INTERRUPTED:
        marked = (
            f", marked {_when(last.time_interrupted)}"
            if last.time_interrupted is not None
            else ", not yet marked"
        )
        out.print(
            f"status:           interrupted (no heartbeat since {_when(last.time_heartbeat)}"
            f"{marked}); the next run will redo its work",
            markup=False,
        )
        return
    out.print(f"status:           completed ({total} step{'s' if total != 1 else ''})")
    repairs = sum(len(s.get("repairs", [])) for s in steps)
    never_created = sum(
        s.get(table, {}).get("not_found", 0) for s in steps for table in ("external_ips", "nics")
    )
    if never_created:
        out.print(
            f"never created:    {never_created} row(s) of expunged zones (nothing written;"
            f" {repairs} repair(s) first met by this run)"
        )
    for step in steps:
        for warning in step.get("warnings", []):
            out.print(f"warning:          {_step_warning(warning)}", markup=False)
    for warning in report.get("warnings", []):
        out.print(f"warning:          {warning}", markup=False)


def status_json(target: Target | None, last: ExecutionRecord | None) -> dict[str, Any]:
    """What ``recon status --json`` prints: the target and the last run."""
    return {
        "target": None
        if target is None
        else {
            "version": target.version,
            "blueprint_id": str(target.blueprint_id),
            "enabled": target.enabled,
            "time_made_target": _when(target.time_made_target),
        },
        "last_execution": None
        if last is None
        else {
            "execution_id": str(last.id),
            "blueprint_id": str(last.blueprint_id),
            "time_started": _when(last.time_started),
            "time_finished": _when(last.time_finished),
            "outcome": last.outcome.value,
            "failed_step": last.failed_step,
            "error": last.error,
            "report": last.report,
            "time_heartbeat": _when(last.time_heartbeat),
            "time_interrupted": _when(last.time_interrupted),
        },
    }


def register(app: typer.Typer) -> None:
    """Add ``recon execute`` and ``recon status`` to the application."""
    app.command("execute")(execute)
    app.command("status")(status)
