"""``recon run``: the planner and the executor as background loops."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from reconfigurator.background import BackgroundTasks
from reconfigurator.cli.context import app_context
from reconfigurator.cli.execute_commands import MissingRowsOption
from reconfigurator.networking.policy import MissingRowPolicy


def run(
    ctx: typer.Context,
    plan_interval: Annotated[
        float, typer.Option("--plan-interval", min=0.05, help="Seconds between planner runs.")
    ] = 10.0,
    execute_interval: Annotated[
        float,
        typer.Option("--execute-interval", min=0.05, help="Seconds between executor runs."),
    ] = 5.0,
    missing_rows: MissingRowsOption = MissingRowPolicy.TREAT_AS_DELETED,
) -> None:
    """Run the planner and the executor until SIGINT or SIGTERM (then exit 0)."""
    app_ctx = app_context(ctx)
    engine = app_ctx.migrated_engine()
    root = logging.getLogger("reconfigurator")
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("reconfigurator.background").info(
            "stopping after the current activations", extra={"signal": signal.Signals(signum).name}
        )
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        BackgroundTasks(
            engine,
            plan_interval_s=plan_interval,
            execute_interval_s=execute_interval,
            missing_rows=missing_rows,
        ).run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
