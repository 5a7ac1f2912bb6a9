"""Every revision completes when run again after a failure before any of its statements, in
the way CockroachDB runs it: each statement commits on its own (autocommit), so a failure
part-way leaves what came before it applied and no new ``alembic_version``.

For each revision and direction the starting database is built once (the populated fixture of
``test_migration_0002``) and copied per case as a template. The migration is run once in full
for reference, then, for every statement ``i`` that writes, on a fresh copy: stopped before
statement ``i``, then run again to the end. The catalog and every row must then be what the
uninterrupted run gave. A failure before a statement that only reads (a guard's look at the
catalog) leaves the same database as a failure before the next statement that writes, so the
run after it is the same run. To keep the default suite short, it stops before twelve of the
writing statements of each case, spread evenly from the first to the last; ``RECON_SOAK=1``
stops before every statement, reads included.

The copies commit without waiting for the disk (``synchronous_commit = off``): a crash of the
test server is not what is tested, and it keeps the ~500 cases fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from reconfigurator.db import blueprint_rows, migrate
from reconfigurator.db.engine import make_engine
from reconfigurator.testing import DatabaseServer, fresh_database
from tests.integration.test_migration_0002 import load_0001_database
from tests.schema_state import catalog, rows_as_json, table_names


class _Stop(Exception):
    """Stands for a failure (a crash, a lost connection) before one statement."""


def _migrate_one_statement_at_a_time(
    engine: Engine, target: str, direction: str, fail_before: int | None
) -> list[str]:
    """Run ``direction`` to ``target`` with every statement committed on its own, failing
    before statement ``fail_before`` (0-based) when given. Returns the statements sent.

    Statements are those SQLAlchemy sends and each ``COPY`` a revision writes rows with.
    """
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if fail_before is not None and len(sent) == fail_before:
            raise _Stop(f"stopped before statement {len(sent)}")
        sent.append(statement)

    original_copy = blueprint_rows.copy_rows

    def counted_copy(conn: Connection, table: str, *args: Any, **kwargs: Any) -> None:
        count(None, None, f"COPY {table}")
        original_copy(conn, table, *args, **kwargs)

    with engine.connect() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        event.listen(autocommit, "before_cursor_execute", count)
        blueprint_rows.copy_rows = counted_copy  # type: ignore[assignment]
        try:
            config = migrate.alembic_config(connection=autocommit)
            if direction == "upgrade":
                command.upgrade(config, target)
            else:
                command.downgrade(config, target)
        finally:
            blueprint_rows.copy_rows = original_copy  # type: ignore[assignment]
            event.remove(autocommit, "before_cursor_execute", count)
    return sent


def _state(engine: Engine) -> dict[str, Any]:
    """The catalog and every row, with what a revision makes up anew on each run (the id
    and timestamps of a service pool it creates or seeds) replaced by placeholders."""
    with engine.connect() as conn:
        return _state_on(conn)


def _state_on(conn: Connection) -> dict[str, Any]:
    state: dict[str, Any] = dict(catalog(conn))
    tables = sorted(table_names(conn))
    pools = rows_as_json(conn, "ip_pool") if "ip_pool" in tables else []
    made_up = [p["id"] for p in pools if p["name"] == "oxide-service-pool-v6"]
    for table in tables:
        rows = []
        for row in rows_as_json(conn, table):
            if table == "ip_pool":
                row.update(time_created="-", time_modified="-")
            encoded = json.dumps(row, sort_keys=True)
            for pool_id in made_up:
                encoded = encoded.replace(pool_id, "<new pool>")
            rows.append(encoded)
        state[f"rows of {table}"] = sorted(rows)
    return state


def _at(revision: str | None) -> Callable[[Engine], None]:
    def build(engine: Engine) -> None:
        if revision is None:
            return
        load_0001_database(engine)
        migrate.upgrade(engine, revision)
        if revision >= "0004":
            _add_an_interrupted_run(engine)

    return build


def _add_an_interrupted_run(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO bp_execution (id, blueprint_id, time_started, outcome,"
                " time_heartbeat, time_interrupted)"
                " SELECT gen_random_uuid(), blueprint_id, now(), 'interrupted', now(), now()"
                " FROM bp_target ORDER BY version DESC LIMIT 1"
            )
        )


@dataclass(frozen=True)
class Case:
    revision: str
    direction: str
    start: Callable[[Engine], None]
    target: str
    before: str | None

    def __str__(self) -> str:
        return f"{self.revision}-{self.direction}"


CASES = [
    Case("0001", "upgrade", _at(None), "0001", None),
    Case("0001", "downgrade", _at("0001"), "base", "0001"),
    Case("0002", "upgrade", _at("0001"), "0002", "0001"),
    Case("0002", "downgrade", _at("0002"), "0001", "0002"),
    Case("0003", "upgrade", _at("0002"), "0003", "0002"),
    Case("0003", "downgrade", _at("0003"), "0002", "0003"),
    Case("0004", "upgrade", _at("0003"), "0004", "0003"),
    Case("0004", "downgrade", _at("0004"), "0003", "0004"),
]


def test_every_revision_and_direction_is_covered() -> None:
    revisions = migrate.known_revisions()
    assert sorted({case.revision for case in CASES}) == sorted(revisions)
    assert all(
        {c.direction for c in CASES if c.revision == r} == {"upgrade", "downgrade"}
        for r in revisions
    )


@pytest.fixture
def starting_database(
    db_server: DatabaseServer, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    case: Case = request.param
    with fresh_database(db_server, migrated=False) as engine:
        case.start(engine)
        engine.dispose()
        yield engine


#: Failure points per case in the default run, spread evenly over the statements that write
#: (the first and the last always among them); ``RECON_SOAK=1`` tries every statement.
DEFAULT_STOPS = 12


def _spread(stops: list[int], count: int) -> list[int]:
    if len(stops) <= count:
        return stops
    last = len(stops) - 1
    return sorted({stops[round(k * last / (count - 1))] for k in range(count)})


def _writes(statement: str) -> bool:
    return not statement.lstrip().upper().startswith("SELECT")


class _Copies:
    """Copies of one database, made and dropped over one admin connection."""

    def __init__(self, server: DatabaseServer, admin: Connection, source: Engine) -> None:
        self.server = server
        self.admin = admin
        self.source = source.url.database

    @contextlib.contextmanager
    def copy(self) -> Iterator[Engine]:
        name = f"recon_test_{uuid.uuid4().hex[:16]}"
        self.admin.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.source}"'))
        engine = make_engine(
            self.server.admin_url.set(database=name),
            pool_size=1,
            pool_pre_ping=False,
            connect_args={"options": "-c synchronous_commit=off"},
        )
        try:
            yield engine
        finally:
            engine.dispose()
            self.admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def copies(db_server: DatabaseServer, starting_database: Engine) -> Iterator[_Copies]:
    if db_server.is_cockroachdb:
        pytest.skip(
            "copies a database per case as a template, which CockroachDB cannot; the revisions"
            " run there one statement per transaction in test_cockroachdb"
        )
    admin_engine = make_engine(
        db_server.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with admin_engine.connect() as admin:
            admin.execute(text("SET synchronous_commit = off"))
            yield _Copies(db_server, admin, starting_database)
    finally:
        admin_engine.dispose()


@pytest.mark.parametrize(
    ("starting_database", "case"), [(c, c) for c in CASES], ids=str, indirect=["starting_database"]
)
def test_a_rerun_completes_after_a_failure_before_any_statement(
    copies: _Copies, case: Case
) -> None:
    with copies.copy() as reference:
        statements = _migrate_one_statement_at_a_time(reference, case.target, case.direction, None)
        expected = _state(reference)
        assert migrate.current_revision(reference) == (
            None if case.target == "base" else case.target
        )
    every_statement = os.environ.get("RECON_SOAK") == "1"
    stops = [i for i, sql in enumerate(statements) if every_statement or _writes(sql)]
    assert len(stops) >= 3
    if not every_statement:
        stops = _spread(stops, DEFAULT_STOPS)
    for stop in stops:
        with copies.copy() as engine:
            with pytest.raises(_Stop):
                _migrate_one_statement_at_a_time(engine, case.target, case.direction, stop)
            assert migrate.current_revision(engine) == case.before, stop
            _migrate_one_statement_at_a_time(engine, case.target, case.direction, None)
            assert _state(engine) == expected, f"re-run after a failure before statement {stop}"
