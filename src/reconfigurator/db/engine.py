"""Engine factory: a URL given by the user, or the embedded PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from reconfigurator.db.embedded import DATABASE_NAME, EmbeddedPostgres, default_data_dir
from reconfigurator.db.url import masked, normalize_url
from reconfigurator.errors import DatabaseUnavailable

DATABASE_URL_ENV: Final = "RECON_DATABASE_URL"

_log = logging.getLogger(__name__)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for a PostgreSQL or CockroachDB URL (normalized to psycopg 3).

    Nothing is connected yet. The engine's ``repr`` and every message of this library show
    the URL with its password masked.
    """
    normalized = normalize_url(url)
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "connect_args": {"application_name": "reconfigurator", "connect_timeout": 10},
    }
    options.update(kwargs)
    return create_engine(normalized, **options)


def embedded_database_url(data_dir: Path | None = None) -> URL:
    """Start (or reuse) the embedded server and make sure its database exists.

    Safe when several processes do it at once on one data dir: they take turns (see
    :meth:`EmbeddedPostgres.exclusive`), so one creates the server and the database.
    """
    server = EmbeddedPostgres(data_dir or default_data_dir())
    with server.exclusive():
        ensure_database(server.server_url(), DATABASE_NAME)
        return server.server_url(DATABASE_NAME)


def ensure_database(server_url: URL, name: str) -> None:
    """Create database ``name`` on the server unless it exists."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except (IntegrityError, ProgrammingError) as exc:
        # Created meanwhile by a client that does not take the data dir's lock.
        if sqlstate_of(exc) not in {"23505", "42P04"}:
            raise DatabaseUnavailable(masked(server_url), first_line(exc)) from None
    except OperationalError as exc:
        raise DatabaseUnavailable(masked(server_url), first_line(exc)) from None
    finally:
        admin.dispose()


def check_connection(engine: Engine) -> None:
    """Connect once; raise :class:`DatabaseUnavailable` (one line, masked URL) on failure."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError) as exc:
        raise DatabaseUnavailable(masked(engine.url), first_line(exc)) from None


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error wrapped by SQLAlchemy, if there is one."""
    original = getattr(exc, "orig", exc)
    state = getattr(original, "sqlstate", None)
    return state if isinstance(state, str) else None


def first_line(exc: BaseException) -> str:
    """The first meaningful line of a driver error, without SQLAlchemy's boilerplate."""
    original = getattr(exc, "orig", None) or exc
    for raw in str(original).splitlines():
        line = raw.strip()
        if line:
            return line
    return type(original).__name__
