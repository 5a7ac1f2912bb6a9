"""``recon run``: the planner and the executor as background loops, optionally served over
HTTP (``--http``: ``/status``, ``/metrics``, ``/healthz``, ``/readyz``)."""

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
from reconfigurator.daemon import Daemon
from reconfigurator.daemon.http_server import parse_address
from reconfigurator.daemon.service import DEFAULT_SHUTDOWN_GRACE_S
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
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="ADDR:PORT",
            help="Serve /status, /metrics, /healthz and /readyz here (port 0: any free port;"
            " the bound address is logged on stderr). Off by default.",
        ),
    ] = None,
    shutdown_grace: Annotated[
        float,
        typer.Option(
            "--shutdown-grace",
            min=0.0,
            help="Seconds to let an activation in progress finish after SIGINT or SIGTERM;"
            " after that the process exits and the activation's transaction rolls back.",
        ),
    ] = DEFAULT_SHUTDOWN_GRACE_S,
) -> None:
    """Run the planner and the executor until SIGINT or SIGTERM (then exit 0)."""
    address = parse_address(http) if http is not None else None
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

    daemon = Daemon(
        BackgroundTasks(
            engine,
            plan_interval_s=plan_interval,
            execute_interval_s=execute_interval,
            missing_rows=missing_rows,
        ),
        http_address=address,
        shutdown_grace_s=shutdown_grace,
    )
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # With --http the server logs the address it bound (at info level, which recon run
        # always logs): "serving status and metrics on http://HOST:PORT".
        daemon.start(stop)
        while not stop.wait(0.5):
            pass
    finally:
        stop.set()
        daemon.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    """Add ``recon run`` to the application."""
    app.command("run")(run)
