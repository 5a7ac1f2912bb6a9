"""``recon target``: which blueprint the executor realizes, and whether it may."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.engine import Connection

from reconfigurator.cli.context import app_context
from reconfigurator.cli.render import JsonOption, command_group, print_data, print_json
from reconfigurator.db import blueprint_store
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.targets import Target, current_target, set_target
from reconfigurator.errors import NoTarget

app = command_group("The target blueprint.")


def _target_json(target: Target) -> dict[str, Any]:
    return {
        "version": target.version,
        "blueprint_id": str(target.blueprint_id),
        "enabled": target.enabled,
        "time_made_target": target.time_made_target.isoformat(),
    }


def _target_text(target: Target) -> str:
    rows = (
        ("version", str(target.version)),
        ("blueprint", str(target.blueprint_id)),
        ("enabled", "yes" if target.enabled else "no"),
        ("time", target.time_made_target.isoformat()),
    )
    return "".join(f"{label + ':':<11}{value}\n" for label, value in rows)


@app.command()
def show(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the current target: version, blueprint, enabled, when it was set."""
    app_ctx = app_context(ctx)
    target = run_transaction(app_ctx.migrated_engine(), current_target)
    if target is None:
        raise NoTarget()
    if json_output:
        print_json(app_ctx.out, _target_json(target))
    else:
        print_data(app_ctx.out, _target_text(target))


@app.command("set")
def set_(
    ctx: typer.Context,
    blueprint_ref: Annotated[
        str, typer.Argument(metavar="ID", help="A blueprint id or unique prefix.")
    ],
    enabled: Annotated[
        bool | None,
        typer.Option(
            "--enable/--disable",
            help="Enable or disable execution (default: keep the current setting; a first"
            " target is enabled).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Make a blueprint the target; its parent must be the current target."""
    app_ctx = app_context(ctx)

    def body(conn: Connection) -> Target:
        blueprint_id = blueprint_store.resolve_blueprint_id(conn, blueprint_ref)
        return set_target(conn, blueprint_id, enabled=enabled)

    target = run_transaction(app_ctx.migrated_engine(), body)
    if json_output:
        print_json(app_ctx.out, _target_json(target))
    else:
        print_data(app_ctx.out, _target_text(target))
