"""``recon sim expunge-race`` and ``recon demo``: the production race, replayed."""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from reconfigurator.cli.context import app_context
from reconfigurator.cli.execute_commands import MissingRowsOption, show_status
from reconfigurator.cli.render import (
    JsonOption,
    add_row,
    command_group,
    print_json,
    print_line,
    print_table,
)
from reconfigurator.db import migrate
from reconfigurator.db.embedded import EmbeddedPostgres, default_data_dir
from reconfigurator.db.engine import check_connection, ensure_database, make_engine
from reconfigurator.db.url import masked
from reconfigurator.networking.policy import MissingRowPolicy
from reconfigurator.sim.expunge_race import (
    DEFAULT_DISKS_PER_SLED,
    DEFAULT_SLEDS,
    RaceResult,
    TimelineEntry,
    ZoneChange,
    run_expunge_race,
)

sim_app = command_group("Simulations on a real database.")


def _short(value: object) -> str:
    return str(value)[:8]


def _zones(changes: list[ZoneChange]) -> str:
    return "\n".join(f"{z.kind} {_short(z.zone_id)}" for z in changes) or "-"


def _executor(entry: TimelineEntry) -> str:
    if entry.executor == "not run":
        return "not run" + (f"\n({entry.note})" if entry.note else "")
    text = entry.executor
    if entry.repairs:
        text += f", {entry.repairs} repairs"
    if entry.execution_error:
        text += f"\n{entry.execution_error}"
    return text


def render_timeline(out: Console, result: RaceResult) -> None:
    """Print the race's timeline: one row per plan, expungement and executor run."""
    table = Table(
        "step",
        "action",
        "disk (pool)",
        "blueprint",
        "zones expunged",
        "zones added",
        "executor",
        title="disk-expungement race",
        show_lines=True,
    )
    for entry in result.timeline:
        add_row(
            table,
            str(entry.step),
            entry.action,
            _short(entry.disk_pool_id) if entry.disk_pool_id else "-",
            _short(entry.blueprint_id) if entry.blueprint_id else "-",
            _zones(entry.zones_expunged),
            _zones(entry.zones_added),
            _executor(entry),
        )
    print_table(out, table)
    print_line(out, f"sled expunged disk by disk: {result.sled_id}")
    if result.never_executed_zones:
        print_line(
            out,
            f"zones placed and expunged again before any executor run: "
            f"{len(result.never_executed_zones)}",
        )
    if result.stuck_on_zone is not None:
        print_line(
            out,
            f"the executor is stuck: every run fails on zone {result.stuck_on_zone}"
            " (missing rows: fail, the old behaviour)",
        )
    elif result.converged:
        print_line(out, "the executor converged: the database matches the target")
    print_line(out, "")


def _simulate(
    out: Console,
    engine: Engine,
    *,
    missing_rows: MissingRowPolicy,
    sleds: int,
    disks_per_sled: int,
    seed: int,
    json_output: bool,
) -> None:
    began = time.perf_counter()
    result = run_expunge_race(
        engine, sleds=sleds, disks_per_sled=disks_per_sled, seed=seed, missing_rows=missing_rows
    )
    if json_output:
        data = result.to_json()
        data["duration_s"] = round(time.perf_counter() - began, 3)
        print_json(out, data)
        return
    render_timeline(out, result)
    show_status(out, engine)


def _fresh_embedded_database(out: Console) -> Engine:
    server = EmbeddedPostgres(default_data_dir())
    name = f"recon_sim_{datetime.now(UTC):%Y%m%d%H%M%S}_{int(time.time_ns()) % 10_000:04d}"
    ensure_database(server.server_url(), name)
    url = server.server_url(name)
    print_line(out, f"database: {masked(url)}")
    return make_engine(url)


@sim_app.command("expunge-race")
def expunge_race(
    ctx: typer.Context,
    missing_rows: MissingRowsOption = MissingRowPolicy.TREAT_AS_DELETED,
    sleds: Annotated[
        int, typer.Option("--sleds", min=2, help="Sleds in the rack.")
    ] = DEFAULT_SLEDS,
    disks_per_sled: Annotated[
        int, typer.Option("--disks-per-sled", min=2, help="Disks per sled.")
    ] = DEFAULT_DISKS_PER_SLED,
    seed: Annotated[int, typer.Option("--seed", help="Seed for every generated id.")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Replay the disk-expungement race on a fresh database (exit 0 once it has been shown).

    With --database-url the simulation runs in that database (migrated first if needed; it
    must hold no blueprints yet); without one, in a new database on the embedded server.
    """
    app_ctx = app_context(ctx)
    out = app_ctx.out
    if app_ctx.database_url:
        engine = app_ctx.engine()
        migrate.upgrade(engine)
    else:
        engine = _fresh_embedded_database(out if not json_output else Console(stderr=True))
        migrate.upgrade(engine)
    try:
        _simulate(
            out,
            engine,
            missing_rows=missing_rows,
            sleds=sleds,
            disks_per_sled=disks_per_sled,
            seed=seed,
            json_output=json_output,
        )
    finally:
        engine.dispose()


def demo(ctx: typer.Context) -> None:
    """The race with defaults, on an embedded PostgreSQL in a throwaway data dir."""
    out = app_context(ctx).out
    scratch = Path(tempfile.mkdtemp(prefix="recon-demo-"))
    server = EmbeddedPostgres(scratch, persistent=False)
    try:
        print_line(out, f"starting an embedded PostgreSQL in {scratch} (deleted afterwards)")
        ensure_database(server.server_url(), "demo")
        engine = make_engine(server.server_url("demo"))
        try:
            check_connection(engine)
            migrate.upgrade(engine)
            print_line(
                out,
                "replaying the race: a Nexus's disk is expunged, its replacement lands on the"
                " disk expunged next, and the planner runs again before the executor does.",
            )
            print_line(out, "")
            _simulate(
                out,
                engine,
                missing_rows=MissingRowPolicy.TREAT_AS_DELETED,
                sleds=DEFAULT_SLEDS,
                disks_per_sled=DEFAULT_DISKS_PER_SLED,
                seed=0,
                json_output=False,
            )
            print_line(out, "")
            print_line(
                out,
                "to see the old behaviour get stuck: recon sim expunge-race --missing-rows fail",
            )
        finally:
            engine.dispose()
    finally:
        server.destroy()
        shutil.rmtree(scratch, ignore_errors=True)


def register(app: typer.Typer) -> None:
    """Add ``recon sim`` and ``recon demo`` to the application."""
    app.add_typer(sim_app, name="sim")
    app.command("demo")(demo)
