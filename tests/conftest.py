"""Fixtures shared by every test: a real database server and a fresh database per test."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from reconfigurator.db.embedded import EmbeddedPostgres
from reconfigurator.testing import (
    DatabaseServer,
    cockroachdb_server,
    database_server,
    fresh_database,
)


@pytest.fixture(autouse=True)
def _library_logging_restored() -> Iterator[None]:
    """A command run in-process configures the ``reconfigurator`` logger (its own handler, no
    propagation); put it back so later tests see records the usual way (``caplog``)."""
    logger = logging.getLogger("reconfigurator")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture(scope="session")
def db_server() -> Iterator[DatabaseServer]:
    # Not under pytest's basetemp: pytest prunes old basetemps, and a concurrent pytest
    # session could delete a running server's data directory.
    scratch = Path(tempfile.mkdtemp(prefix="recon-test-pg-"))
    server = database_server(scratch)
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def engine(db_server: DatabaseServer) -> Iterator[Engine]:
    """An engine on a new database migrated to the head revision."""
    with fresh_database(db_server) as engine:
        yield engine


@pytest.fixture
def empty_engine(db_server: DatabaseServer) -> Iterator[Engine]:
    """An engine on a new database with no schema at all."""
    with fresh_database(db_server, migrated=False) as engine:
        yield engine


@pytest.fixture(scope="session")
def crdb_server() -> Iterator[DatabaseServer]:
    server, reason = cockroachdb_server()
    if server is None:
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def crdb_engine(crdb_server: DatabaseServer) -> Iterator[Engine]:
    with fresh_database(crdb_server) as engine:
        yield engine


@pytest.fixture
def crdb_empty_engine(crdb_server: DatabaseServer) -> Iterator[Engine]:
    with fresh_database(crdb_server, migrated=False) as engine:
        yield engine


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh RECON_DATA_DIR for CLI runs; its embedded server is stopped afterwards
    (the CLI leaves it running on purpose, for later commands)."""
    path = tmp_path / "recon-data"
    yield path
    if (path / "pgdata" / "postmaster.pid").exists():
        server = EmbeddedPostgres(path)
        server.start()
        server.stop()
