"""One schema change at a time: a lock row in a table of this project's own.

``recon db upgrade`` started by several processes at once must apply each revision exactly
once. Advisory locks would do on PostgreSQL, but CockroachDB has none, so the lock is a row
of ``recon_schema_lock``, taken in a transaction of its own (an ``INSERT … ON CONFLICT DO
UPDATE … WHERE`` the holder's lease has run out) before Alembic looks at the revision the
database is at. The holder renews its lease while it works; a holder that crashed leaves a
row whose lease runs out (``DEFAULT_LEASE_S``), or that ``recon db unlock`` removes.

Waiters poll until the row is free or their timeout passes
(:class:`~reconfigurator.errors.SchemaLockTimeout`, naming the holder).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from reconfigurator.db.engine import sqlstate_of
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.schema import schema_lock_table
from reconfigurator.errors import SchemaLockTimeout

LOCK_NAME: Final = "schema"
#: How long a lease lasts unless renewed; the holder renews it every quarter of that.
DEFAULT_LEASE_S: Final = 60.0
#: How long ``recon db upgrade`` waits for another upgrade by default.
DEFAULT_WAIT_S: Final = 600.0
POLL_INTERVAL_S: Final = 0.2

_log = logging.getLogger(__name__)

_TABLE = schema_lock_table

#: Concurrent ``CREATE TABLE IF NOT EXISTS`` on PostgreSQL can fail with these although the
#: table then exists: a unique violation in the catalog, or "already exists".
_CREATED_MEANWHILE: Final = frozenset({"23505", "42P07", "42710"})


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds the schema lock, since when, and until when unless renewed."""

    holder: str
    time_acquired: datetime
    time_expires: datetime


def ensure_lock_table(engine: Engine) -> None:
    """Create ``recon_schema_lock`` unless it exists (safe to race with other processes)."""
    for _attempt in range(5):
        try:
            with engine.connect() as conn:
                autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
                _TABLE.create(autocommit, checkfirst=True)
            return
        except DBAPIError as exc:
            if sqlstate_of(exc) not in _CREATED_MEANWHILE and sqlstate_of(exc) != "40001":
                raise
            time.sleep(0.05)
    with engine.connect() as conn:
        _TABLE.create(conn.execution_options(isolation_level="AUTOCOMMIT"), checkfirst=True)


def new_holder_name() -> str:
    """``host:pid:random``: enough for a person to find the process holding the lock."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


_TAKE = text(
    "INSERT INTO recon_schema_lock (name, holder, time_acquired, time_expires)"
    " VALUES (:name, :holder, now(), now() + CAST(:lease AS FLOAT8) * INTERVAL '1 second')"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
    " time_acquired = excluded.time_acquired, time_expires = excluded.time_expires"
    " WHERE recon_schema_lock.time_expires < now()"
    " RETURNING holder"
)
_RENEW = text(
    "UPDATE recon_schema_lock"
    " SET time_expires = now() + CAST(:lease AS FLOAT8) * INTERVAL '1 second'"
    " WHERE name = :name AND holder = :holder"
)
_RELEASE = text("DELETE FROM recon_schema_lock WHERE name = :name AND holder = :holder")
_READ = text("SELECT holder, time_acquired, time_expires FROM recon_schema_lock WHERE name = :name")


def try_acquire(engine: Engine, holder: str, lease_s: float = DEFAULT_LEASE_S) -> bool:
    """Take the lock for ``holder`` if it is free or its lease ran out."""

    def take(conn: Connection) -> bool:
        taken = conn.execute(_TAKE, {"name": LOCK_NAME, "holder": holder, "lease": lease_s})
        return taken.first() is not None

    return run_transaction(engine, take)


def current_holder(engine: Engine) -> LockHolder | None:
    """The row of the lock, if any (its lease may have run out)."""
    with engine.connect() as conn:
        row = conn.execute(_READ, {"name": LOCK_NAME}).first()
    return None if row is None else LockHolder(row.holder, row.time_acquired, row.time_expires)


def release(engine: Engine, holder: str) -> None:
    """Give the lock back (only if ``holder`` still holds it)."""
    run_transaction(
        engine, lambda conn: conn.execute(_RELEASE, {"name": LOCK_NAME, "holder": holder})
    )


def clear(engine: Engine) -> LockHolder | None:
    """Remove the lock whoever holds it (after a crashed upgrade); returns what was there."""
    ensure_lock_table(engine)

    def remove(conn: Connection) -> LockHolder | None:
        row = conn.execute(
            text(
                "DELETE FROM recon_schema_lock WHERE name = :name"
                " RETURNING holder, time_acquired, time_expires"
            ),
            {"name": LOCK_NAME},
        ).first()
        return None if row is None else LockHolder(row.holder, row.time_acquired, row.time_expires)

    return run_transaction(engine, remove)


class _Renewer(threading.Thread):
    """Renews a lease every quarter of its length until stopped."""

    def __init__(self, engine: Engine, holder: str, lease_s: float) -> None:
        super().__init__(name="recon-schema-lock", daemon=True)
        self.engine = engine
        self.holder = holder
        self.lease_s = lease_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.lease_s / 4):
            try:
                with self.engine.begin() as conn:
                    renewed = conn.execute(
                        _RENEW, {"name": LOCK_NAME, "holder": self.holder, "lease": self.lease_s}
                    ).rowcount
            except Exception as exc:  # the migration itself reports database trouble
                _log.warning("could not renew the schema lock", extra={"error": str(exc)})
                continue
            if not renewed:
                _log.error(
                    "the schema lock was taken away (cleared or expired)",
                    extra={"holder": self.holder},
                )


@contextlib.contextmanager
def schema_lock(
    engine: Engine,
    *,
    wait_s: float = DEFAULT_WAIT_S,
    lease_s: float = DEFAULT_LEASE_S,
    poll_s: float = POLL_INTERVAL_S,
) -> Iterator[str]:
    """Hold the schema lock while the block runs; yields the holder's name.

    Waits up to ``wait_s`` for another holder; raises :class:`SchemaLockTimeout` then.
    """
    ensure_lock_table(engine)
    holder = new_holder_name()
    deadline = time.monotonic() + wait_s
    logged = False
    while not try_acquire(engine, holder, lease_s):
        if time.monotonic() >= deadline:
            held = current_holder(engine)
            if held is None:  # released just now: try once more before giving up
                if try_acquire(engine, holder, lease_s):
                    break
                held = current_holder(engine)
            raise SchemaLockTimeout(
                wait_s,
                held.holder if held else None,
                held.time_acquired if held else None,
                held.time_expires if held else None,
            )
        if not logged:
            held = current_holder(engine)
            _log.info(
                "waiting for another schema change to finish",
                extra={"holder": held.holder if held else None},
            )
            logged = True
        time.sleep(poll_s)
    renewer = _Renewer(engine, holder, lease_s)
    renewer.start()
    try:
        yield holder
    finally:
        renewer.stopped.set()
        renewer.join()
        try:
            release(engine, holder)
        except Exception as exc:  # the lease runs out on its own
            _log.warning("could not release the schema lock", extra={"error": str(exc)})
