"""Alembic environment for reconfigurator.

The database comes from code: ``config.attributes["connection"]`` (an open connection) or
``config.attributes["url"]``. When Alembic's own command line is used with the repository's
``alembic.ini``, the URL comes from ``-x url=...`` or ``RECON_DATABASE_URL``. Logging is left
exactly as the caller configured it.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from reconfigurator.db.schema import metadata
from reconfigurator.db.url import is_cockroachdb, normalize_url

config = context.config


def _url() -> URL:
    given = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    given = given or os.environ.get("RECON_DATABASE_URL")
    if not given:
        raise RuntimeError(
            "no database: pass a connection or URL, -x url=..., or RECON_DATABASE_URL"
        )
    return normalize_url(given)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata,
        transaction_per_migration=True,
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = _url()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if is_cockroachdb(url):
                conn.execution_options(isolation_level="AUTOCOMMIT")
            _run_with(conn)
            if conn.in_transaction():
                conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
