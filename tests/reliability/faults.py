"""Fault injection inside step 1's transaction.

:class:`StepTracer` listens to an engine's SQLAlchemy events and records, for every attempt of
step 1 (*Ensure external networking resources*), the statements its transaction sends. A
:class:`Fault` armed on the tracer runs an action (kill the backend, stop the server) right
before statement ``k`` of the step's first attempt, or right before its COMMIT when ``k`` is
past the last statement. The tracer wraps the real step, so the step's own code is what runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.pool import NullPool

from reconfigurator.db.embedded import EmbeddedPostgres
from reconfigurator.db.engine import make_engine
from reconfigurator.db.retry import sqlstate_of
from reconfigurator.executor import EnsureExternalNetworking, Executor, StepContext, StepDetails
from reconfigurator.executor.external_networking import TargetCheckedHook

#: Label of the injection point right before COMMIT.
COMMIT: Final = "commit"

FaultAction = Callable[[Connection], None]


@dataclass
class Fault:
    """Run ``action`` before statement ``at`` of the step's first attempt (or before COMMIT)."""

    at: int
    action: FaultAction
    #: Where it fired: a statement index, :data:`COMMIT`, or ``None`` (not yet).
    fired_at: int | str | None = None
    #: The statement it fired before (its first line).
    statement: str | None = None


@dataclass
class Attempt:
    """One transaction of step 1: its statements and the SQLSTATE of a failure, if any."""

    statements: list[str] = field(default_factory=list)
    committed: bool = False
    error_sqlstate: str | None = None


class _TracedStep(EnsureExternalNetworking):
    """The real step, with the tracer told when it starts and ends (in this thread)."""

    def __init__(self, tracer: StepTracer, after_target_check: TargetCheckedHook | None) -> None:
        super().__init__(after_target_check=after_target_check)
        self._tracer = tracer

    def __call__(self, ctx: StepContext) -> StepDetails:
        self._tracer.step_started()
        try:
            return super().__call__(ctx)
        finally:
            self._tracer.step_finished()


class StepTracer:
    """Records step 1's transactions on ``engine`` and injects an armed :class:`Fault`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.attempts: list[Attempt] = []
        self._fault: Fault | None = None
        self._step_thread: int | None = None
        self._listeners: list[tuple[str, Callable[..., Any]]] = [
            ("begin", self._on_begin),
            ("before_cursor_execute", self._on_statement),
            ("commit", self._on_commit),
            ("handle_error", self._on_error),
        ]
        for name, listener in self._listeners:
            event.listen(engine, name, listener)

    # --- wiring ---------------------------------------------------------------------------

    def step(self, after_target_check: TargetCheckedHook | None = None) -> EnsureExternalNetworking:
        return _TracedStep(self, after_target_check)

    def executor(self, **options: Any) -> Executor:
        """A new executor on the tracer's engine whose step 1 is traced."""
        hook = options.pop("after_target_check", None)
        return Executor(self.engine, external_networking=self.step(hook), **options)

    def arm(self, at: int, action: FaultAction) -> Fault:
        """Inject ``action`` at statement ``at`` of the next run's first step-1 attempt."""
        self.attempts.clear()
        self._fault = Fault(at, action)
        return self._fault

    def reset(self) -> None:
        self.attempts.clear()
        self._fault = None

    def close(self) -> None:
        for name, listener in self._listeners:
            event.remove(self.engine, name, listener)

    # --- what the step sent -------------------------------------------------------------------

    @property
    def first_attempt(self) -> Attempt:
        assert self.attempts, "step 1 sent no transaction"
        return self.attempts[0]

    # --- events ---------------------------------------------------------------------------------

    def step_started(self) -> None:
        self._step_thread = threading.get_ident()

    def step_finished(self) -> None:
        self._step_thread = None

    def _in_step(self) -> bool:
        return self._step_thread is not None and self._step_thread == threading.get_ident()

    def _on_begin(self, conn: Connection) -> None:
        if self._in_step():
            self.attempts.append(Attempt())

    def _on_statement(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if not self._in_step() or not self.attempts:
            return
        attempt = self.attempts[-1]
        fault = self._fault
        if (
            fault is not None
            and fault.fired_at is None
            and len(self.attempts) == 1
            and len(attempt.statements) == fault.at
        ):
            fault.fired_at = fault.at
            fault.statement = statement.strip().splitlines()[0]
            fault.action(conn)
        attempt.statements.append(statement.strip().splitlines()[0])

    def _on_commit(self, conn: Connection) -> None:
        if not self._in_step() or not self.attempts:
            return
        attempt = self.attempts[-1]
        fault = self._fault
        if fault is not None and fault.fired_at is None and len(self.attempts) == 1:
            fault.fired_at = COMMIT
            fault.statement = "COMMIT"
            fault.action(conn)
        attempt.committed = True

    def _on_error(self, context: ExceptionContext) -> None:
        if self._in_step() and self.attempts:
            self.attempts[-1].error_sqlstate = sqlstate_of(context.original_exception)


# --- actions --------------------------------------------------------------------------------------


def backend_pid(conn: Connection) -> int:
    """``SELECT pg_backend_pid()`` on the connection's own session, without going through
    SQLAlchemy (so the statement is neither traced nor counted)."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    finally:
        cursor.close()
    assert row is not None
    return int(row[0])


class BackendKiller:
    """Terminates the backend of a connection from a second connection."""

    def __init__(self, admin_url: Any) -> None:
        self.admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.killed: list[int] = []

    def __call__(self, conn: Connection) -> None:
        pid = backend_pid(conn)
        with self.admin.connect() as admin:
            # With a timeout, pg_terminate_backend waits until the backend has exited.
            done = admin.execute(
                text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}
            ).scalar()
        assert done, f"backend {pid} did not terminate"
        self.killed.append(pid)

    def close(self) -> None:
        self.admin.dispose()


class ServerStopper:
    """Stops an embedded server (fast shutdown: every session is ended, the data is kept)."""

    def __init__(self, server: EmbeddedPostgres) -> None:
        self.server = server
        self.stops = 0

    def __call__(self, conn: Connection) -> None:
        self.server.stop()
        self.stops += 1
