"""``recon audit``: what the executor would do, and what would make it fail."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import Connection

from reconfigurator.audit import audit as run_audit
from reconfigurator.audit import audit_read_only
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.cli.context import app_context
from reconfigurator.cli.execute_commands import MissingRowsOption
from reconfigurator.cli.render import BlueprintOption, JsonOption, print_json
from reconfigurator.db.blueprint_store import get_blueprint, resolve_blueprint_id
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.targets import current_target
from reconfigurator.errors import NoTarget
from reconfigurator.networking.policy import MissingRowPolicy

EXIT_BLOCKING = 1


ReadOnlyOption = Annotated[
    bool,
    typer.Option(
        "--read-only",
        help="Write nothing and need no migration history: read the blueprint from the bp_*"
        " tables of any database with upstream's tables (one made by upstream's own DDL too).",
    ),
]


def audit(
    ctx: typer.Context,
    blueprint: BlueprintOption = None,
    missing_rows: MissingRowsOption = MissingRowPolicy.TREAT_AS_DELETED,
    read_only: ReadOnlyOption = False,
    json_output: JsonOption = False,
) -> None:
    """Compare the database with a blueprint, per zone (exit 1 if the executor would fail)."""
    app_ctx = app_context(ctx)
    if read_only:
        engine = app_ctx.engine()
        blueprint_id = (
            run_transaction(engine, lambda conn: resolve_blueprint_id(conn, blueprint))
            if blueprint is not None
            else None
        )
        report = audit_read_only(engine, blueprint_id, missing_rows)
    else:
        engine = app_ctx.migrated_engine()

        def body(conn: Connection) -> Blueprint:
            if blueprint is not None:
                blueprint_id = resolve_blueprint_id(conn, blueprint)
            else:
                target = current_target(conn)
                if target is None:
                    raise NoTarget()
                blueprint_id = target.blueprint_id
            return get_blueprint(conn, blueprint_id)

        report = run_audit(engine, run_transaction(engine, body), missing_rows)
    out = app_ctx.out
    if json_output:
        print_json(out, report.to_json())
    else:
        out.print(f"blueprint: {report.blueprint_id}", markup=False)
        if not report.is_current_target:
            out.print(
                "note: this blueprint is not the current target; the executor would refuse it"
            )
        if report.findings:
            zone_of = None
            for finding in report.findings:
                if finding.zone_id != zone_of or zone_of is None:
                    zone_of = finding.zone_id
                    out.print(f"zone {finding.zone_id or '(no parent)'}:", markup=False)
                flag = "BLOCKING " if finding.blocking else ""
                out.print(
                    f"  {flag}{finding.kind.value}: {finding.table} row {finding.row_id}:"
                    f" {finding.detail}",
                    markup=False,
                )
        else:
            out.print("the database matches the blueprint")
        out.print(
            f"blocking: {'yes: the executor would fail' if report.blocking else 'no'}"
            f" (missing rows: {missing_rows.value})"
        )
    if report.blocking:
        raise typer.Exit(EXIT_BLOCKING)


def register(app: typer.Typer) -> None:
    """Add ``recon audit`` to the application."""
    app.command("audit")(audit)
