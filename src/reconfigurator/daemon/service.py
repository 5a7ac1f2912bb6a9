"""The daemon: the background loops, plus (optionally) their status, metrics and health over
HTTP, started and stopped in order.

Stopping closes the HTTP server first (no answer claims a loop that is going away is healthy),
then lets the activation in progress finish for at most ``shutdown_grace_s``. An activation
still running after that is abandoned: its loop threads are daemon threads, so the process can
exit, and the database rolls back the transaction of a connection that goes away. A run's
transaction therefore commits or rolls back as a whole, never in part.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError

from reconfigurator import __version__
from reconfigurator.background import BackgroundTasks
from reconfigurator.daemon.http_server import Endpoints, StatusServer
from reconfigurator.daemon.metrics import DaemonMetrics
from reconfigurator.daemon.probes import liveness, readiness
from reconfigurator.daemon.status import status_document
from reconfigurator.db.engine import first_line
from reconfigurator.db.executions import last_completed_time

_log = logging.getLogger("reconfigurator.daemon")

DEFAULT_SHUTDOWN_GRACE_S = 10.0


@dataclass
class Daemon:
    """``recon run``: ``tasks`` served on ``http_address`` when one is given."""

    tasks: BackgroundTasks
    http_address: tuple[str, int] | None = None
    shutdown_grace_s: float = DEFAULT_SHUTDOWN_GRACE_S
    version: str = __version__
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    metrics: DaemonMetrics = field(init=False)
    started_at: datetime = field(init=False)
    server: StatusServer | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.metrics = DaemonMetrics(self.version)
        self.tasks.observers.append(self.metrics.observe)
        self.started_at = self.now()

    def status(self) -> dict[str, Any]:
        """The document of ``/status``."""
        return status_document(
            self.tasks, version=self.version, started_at=self.started_at, now=self.now()
        )

    def _seed_from_database(self) -> None:
        """What the metrics can know from before the daemon started (best effort)."""
        try:
            with self.tasks.engine.connect() as conn:
                finished = last_completed_time(conn)
        except DBAPIError as exc:
            _log.warning("could not read the execution history", extra={"error": first_line(exc)})
            return
        if finished is not None:
            self.metrics.seed_last_success(finished)

    def start(self, stop: threading.Event) -> None:
        """Open the HTTP server (when configured), then start the loops."""
        self._seed_from_database()
        if self.http_address is not None:
            host, port = self.http_address
            self.server = StatusServer(
                host,
                port,
                Endpoints(
                    status=self.status,
                    metrics=self.metrics.exposition,
                    liveness=lambda: liveness(self.tasks),
                    readiness=lambda: readiness(self.tasks.engine),
                ),
            )
            self.server.start()
        self.started_at = self.now()
        self.tasks.start(stop)

    def shutdown(self) -> bool:
        """After ``stop`` was set: close the HTTP server, then wait for the loops (bounded).
        Whether the loops ended within the grace period."""
        if self.server is not None:
            self.server.close()
        finished = self.tasks.join(self.shutdown_grace_s)
        if not finished:
            _log.warning(
                "an activation is still running after the grace period; leaving it (its"
                " transaction rolls back when the process exits)",
                extra={"shutdown_grace_s": self.shutdown_grace_s},
            )
        return finished

    def run(self, stop: threading.Event) -> bool:
        """Start, wait for ``stop``, shut down; whether the loops ended within the grace."""
        self.start(stop)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            stop.set()
            finished = self.shutdown()
        return finished
