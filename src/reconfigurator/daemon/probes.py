"""Liveness and readiness of the daemon (``/healthz`` and ``/readyz``).

Live: the process answers and both loops are running. Ready: the database answers and its
schema is at the head revision, so an activation can do its work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from reconfigurator.background import BackgroundTasks
from reconfigurator.db.engine import check_connection, first_line
from reconfigurator.db.migrate import require_migrated
from reconfigurator.errors import ReconError


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """A probe's answer: whether it passed, and why not."""

    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unavailable", "detail": self.detail}


def liveness(tasks: BackgroundTasks) -> ProbeResult:
    """Whether both loops are running."""
    if tasks.loops_alive():
        return ProbeResult(True, "planner and executor loops running")
    return ProbeResult(False, "the background loops are not running")


def readiness(engine: Engine) -> ProbeResult:
    """Whether the database answers and is migrated to the head revision."""
    try:
        check_connection(engine)
        require_migrated(engine)
    except ReconError as exc:
        return ProbeResult(False, str(exc))
    except DBAPIError as exc:
        return ProbeResult(False, f"database error: {first_line(exc)}")
    return ProbeResult(True, "database reachable and migrated")
