"""Fixtures of the reliability suite: its figures, a PostgreSQL server it can kill sessions on,
and an embedded server of its own that tests may stop and restart."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from reconfigurator.db.embedded import EmbeddedPostgres
from reconfigurator.db.engine import make_engine
from reconfigurator.testing import DatabaseServer
from tests.reliability.stats import ReliabilityStats, soak_enabled


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reliability: fault injection, concurrency, model-based and fuzz tests"
        " (longer with RECON_SOAK=1)",
    )


@pytest.fixture(scope="session")
def soak() -> bool:
    """``RECON_SOAK=1``: run the long versions (more time, examples and steps)."""
    return soak_enabled()


@pytest.fixture(scope="session")
def reliability_stats() -> Iterator[ReliabilityStats]:
    """Figures of this session, written for ``scripts/reliability_report.py`` at its end."""
    stats = ReliabilityStats()
    yield stats
    stats.write()


def _record_server(server: DatabaseServer, stats: ReliabilityStats) -> None:
    admin = make_engine(server.admin_url, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
    finally:
        admin.dispose()
    kind = server.description.split(" in /", 1)[0]  # without the temporary path
    stats.record("environment", database=f"PostgreSQL {version}", server=kind)


@pytest.fixture(scope="session")
def pg_server(
    db_server: DatabaseServer, reliability_stats: ReliabilityStats
) -> Iterator[DatabaseServer]:
    """A PostgreSQL server: the session's, unless that is CockroachDB (the fault injection
    terminates PostgreSQL backends), in which case an embedded PostgreSQL of this suite."""
    if not db_server.is_cockroachdb:
        _record_server(db_server, reliability_stats)
        yield db_server
        return
    scratch = Path(tempfile.mkdtemp(prefix="recon-rel-pg-"))
    embedded = EmbeddedPostgres(scratch, persistent=False)
    embedded.start()
    server = DatabaseServer(
        embedded.server_url(), f"embedded PostgreSQL in {scratch}", embedded.destroy
    )
    _record_server(server, reliability_stats)
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(scratch, ignore_errors=True)


class RestartableServer:
    """An embedded PostgreSQL that only this suite uses, so it can be stopped at any time."""

    def __init__(self, directory: Path) -> None:
        self.embedded = EmbeddedPostgres(directory, persistent=False)
        self.embedded.start()
        self.server = DatabaseServer(
            self.embedded.server_url(), f"embedded PostgreSQL in {directory}"
        )
        self.stops = 0
        self.starts = 0

    def stop(self) -> None:
        self.embedded.stop()
        self.stops += 1

    def start(self) -> None:
        self.embedded.start()
        self.starts += 1

    def close(self) -> None:
        self.server.close()
        self.embedded.destroy()


@pytest.fixture(scope="module")
def restartable_server() -> Iterator[RestartableServer]:
    # Not under pytest's basetemp, which pytest prunes (see tests/conftest.py).
    scratch = Path(tempfile.mkdtemp(prefix="recon-rel-restart-"))
    server = RestartableServer(scratch)
    try:
        yield server
    finally:
        server.start()  # a test that failed half-way may have left it stopped
        server.close()
        shutil.rmtree(scratch, ignore_errors=True)
