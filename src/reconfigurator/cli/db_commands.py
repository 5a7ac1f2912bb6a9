"""``recon db``: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from reconfigurator.cli.context import app_context
from reconfigurator.cli.render import command_group
from reconfigurator.db import migrate, schema_lock
from reconfigurator.db.url import masked
from reconfigurator.errors import DatabaseNotMigrated

app = command_group("Database schema migrations.")

OFFLINE_DEFAULT_URL = "postgresql+psycopg://"

WaitOption = Annotated[
    float,
    typer.Option(
        "--wait",
        help="Seconds to wait for a schema change another process is making.",
        min=0,
    ),
]


@app.command()
def upgrade(
    ctx: typer.Context,
    sql: Annotated[
        bool,
        typer.Option("--sql", help="Print the DDL for the URL's dialect instead of applying it."),
    ] = False,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    wait: WaitOption = schema_lock.DEFAULT_WAIT_S,
) -> None:
    """Migrate the database to the newest schema (or print the DDL with --sql).

    Upgrades started together take turns: one applies the revisions, the others find the
    database up to date.
    """
    app_ctx = app_context(ctx)
    if sql:
        url = app_ctx.configured_url() or OFFLINE_DEFAULT_URL
        app_ctx.out.print(migrate.upgrade_sql(url, revision), markup=False, end="")
        return
    change = migrate.upgrade(app_ctx.engine(), revision, wait_s=wait)
    if not change.changed:
        app_ctx.out.print(f"already at {change.after}; nothing to do", markup=False)
    else:
        app_ctx.out.print(f"upgraded {change.before or '(empty)'} -> {change.after}", markup=False)


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Revision to go down to; 'base' drops all.")],
    wait: WaitOption = schema_lock.DEFAULT_WAIT_S,
) -> None:
    """Revert the schema down to REVISION."""
    app_ctx = app_context(ctx)
    change = migrate.downgrade(app_ctx.engine(), revision, wait_s=wait)
    app_ctx.out.print(
        f"downgraded {change.before or '(empty)'} -> {change.after or '(empty)'}", markup=False
    )


@app.command()
def unlock(ctx: typer.Context) -> None:
    """Remove the schema lock left by an upgrade that crashed (its lease also runs out)."""
    app_ctx = app_context(ctx)
    held = schema_lock.clear(app_ctx.engine())
    if held is None:
        app_ctx.out.print("no schema lock was held")
    else:
        app_ctx.out.print(
            f"removed the schema lock of {held.holder}"
            f" (taken {held.time_acquired.isoformat(timespec='seconds')})",
            markup=False,
        )


@app.command()
def current(ctx: typer.Context) -> None:
    """Print the revision the database is at."""
    app_ctx = app_context(ctx)
    revision = migrate.current_revision(app_ctx.engine())
    head = migrate.head_revision()
    if revision is None:
        app_ctx.out.print("(empty) - run `recon db upgrade`")
    else:
        app_ctx.out.print(
            f"{revision} (head)" if revision == head else f"{revision} (head is {head})"
        )


@app.command()
def check(ctx: typer.Context) -> None:
    """Exit 0 if the schema is at the head revision, 1 if it needs `recon db upgrade`."""
    app_ctx = app_context(ctx)
    try:
        migrate.require_migrated(app_ctx.engine())
    except DatabaseNotMigrated as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    app_ctx.out.print(f"up to date at {migrate.head_revision()}")


@app.command()
def url(
    ctx: typer.Context,
    show_password: Annotated[
        bool, typer.Option("--show-password", help="Print the password in clear.")
    ] = False,
) -> None:
    """Print the database URL in use (password masked)."""
    app_ctx = app_context(ctx)
    in_use = app_ctx.url()
    text = in_use.render_as_string(hide_password=False) if show_password else masked(in_use)
    app_ctx.out.print(text, markup=False)
