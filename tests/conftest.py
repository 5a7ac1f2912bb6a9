"""Fixtures shared by every test: a real database server and a fresh database per test.

The server and the per-test databases come from this package's own pytest plugin,
``reconfigurator.testing`` (``recon_database_server``, ``recon_engine``,
``recon_empty_engine``), which is what other projects' test suites use too; the shorter names
below are this suite's aliases for them, so there is one server per session whichever name a
test asks for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy.engine import Engine

from reconfigurator.db.embedded import EmbeddedPostgres
from reconfigurator.testing import DatabaseServer, cockroachdb_server, fresh_database

# Property tests draw the same examples on every run (a red run can be re-run as it was);
# HYPOTHESIS_PROFILE=explore draws new ones each time, to look for more.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(autouse=True)
def _library_logging_restored() -> Iterator[None]:
    """A command run in-process configures the ``reconfigurator`` logger (its own handler, no
    propagation); put it back so later tests see records the usual way (``caplog``)."""
    logger = logging.getLogger("reconfigurator")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture(scope="session")
def db_server(recon_database_server: DatabaseServer) -> DatabaseServer:
    """The session's database server (the plugin's ``recon_database_server``)."""
    return recon_database_server


@pytest.fixture
def engine(recon_engine: Engine) -> Engine:
    """An engine on a new database migrated to the head revision (``recon_engine``)."""
    return recon_engine


@pytest.fixture
def empty_engine(recon_empty_engine: Engine) -> Engine:
    """An engine on a new database with no schema at all (``recon_empty_engine``)."""
    return recon_empty_engine


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
