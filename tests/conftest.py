"""Fixtures shared by every test: a real database server and a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from reconfigurator.testing import (
    DatabaseServer,
    cockroachdb_server,
    database_server,
    fresh_database,
)


@pytest.fixture(scope="session")
def db_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseServer]:
    server = database_server(tmp_path_factory.mktemp("embedded-pg"))
    try:
        yield server
    finally:
        server.close()


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
