"""Entry point of ``recon``: global options, error rendering and exit codes.

Exit codes: 0 success; 1 the operation ran and failed; 2 it could not run (bad input or
usage, an unreachable or un-migrated database). Errors are one line on stderr.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from reconfigurator.cli import (
    audit_commands,
    blueprint_commands,
    db_commands,
    execute_commands,
    log_format,
    plan_command,
    rack_commands,
    run_command,
    sim_commands,
    target_commands,
)
from reconfigurator.cli.context import AppContext
from reconfigurator.cli.render import command_group
from reconfigurator.db.engine import DATABASE_URL_ENV, first_line
from reconfigurator.errors import DatabaseSetupError, InputError, ReconError

EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2

app = command_group(
    "Realize a control plane's target blueprint in a database.",
    name="recon",
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(rack_commands.sled_app, name="sled")
app.add_typer(rack_commands.disk_app, name="disk")
app.add_typer(rack_commands.pool_app, name="pool")
execute_commands.register(app)
audit_commands.register(app)
run_command.register(app)
plan_command.register(app)
sim_commands.register(app)
app.add_typer(blueprint_commands.app, name="blueprint")
app.add_typer(target_commands.app, name="target")


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar=DATABASE_URL_ENV,
            help="PostgreSQL or CockroachDB URL; default: an embedded PostgreSQL in"
            " RECON_DATA_DIR.",
            show_envvar=True,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging on stderr.")
    ] = 0,
    log_style: Annotated[
        log_format.LogFormat,
        typer.Option(
            "--log-format",
            case_sensitive=False,
            help="Log lines on stderr: human (key=value fields) or json (one object per line).",
        ),
    ] = log_format.LogFormat.HUMAN,
) -> None:
    """Realize a control plane's target blueprint in a database."""
    log_format.configure(verbose, log_style)
    app_ctx = AppContext(database_url=database_url)
    ctx.obj = app_ctx
    ctx.call_on_close(app_ctx.close)


def _fail(message: str, code: int) -> int:
    typer.echo(f"error: {message}", err=True)
    return code


def run(argv: list[str] | None = None) -> int:  # noqa: PLR0911 - one return per outcome
    """Run the CLI and return its exit code (used by :func:`main` and by tests)."""
    try:
        result = app(args=argv, prog_name="recon", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:
        exc.show()  # type: ignore[attr-defined]  # every concrete subclass is a ClickException
        return int(exc.exit_code)
    except typer.Abort:
        return _fail("aborted", EXIT_FAILED)
    except (InputError, DatabaseSetupError) as exc:
        return _fail(str(exc), EXIT_CANNOT_RUN)
    except ReconError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except DBAPIError as exc:
        return _fail(f"database error: {first_line(exc)}", EXIT_FAILED)
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    """Run ``recon`` with the process's arguments and exit with its code."""
    sys.exit(run())
