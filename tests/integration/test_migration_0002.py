"""Revision 0002 upgrades a populated revision-0001 database without losing anything.

The database is ``tests/fixtures/database_0001.json``: every row that the revision-0001 code
wrote during an expunge race (live and soft-deleted rows, the placeholder rows its executor
wrote for never-created rows, several blueprints, targets and executions, an IPv6 range in the
one service pool of that revision).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from reconfigurator.db import migrate
from reconfigurator.db.engine import make_engine
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from reconfigurator.testing import DatabaseServer
from tests.db_support import snapshot

FIXTURE = Path(__file__).parent.parent / "fixtures" / "database_0001.json"
PLACEHOLDER_NOTE = "(never created; recorded as deleted by the executor)"
LEGACY_POOL_ID = "001de000-0001-4000-8000-000000000001"

#: Tables whose rows revision 0002 leaves exactly as they were.
UNCHANGED_TABLES = ("blueprint", "bp_target", "sled", "physical_disk", "bp_execution")


def _fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def _rows(table: str) -> list[dict[str, str | None]]:
    data = _fixture()["tables"][table]
    return [dict(zip(data["columns"], row, strict=True)) for row in data["rows"]]


def _is_placeholder(row: dict[str, str | None]) -> bool:
    return (row["description"] or "").endswith(PLACEHOLDER_NOTE)


def load_0001_database(engine: Engine) -> None:
    """Migrate to revision 0001 and put back every row of the fixture."""
    migrate.upgrade(engine, "0001")
    tables = _fixture()["tables"]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ip_pool"))  # the pool revision 0001 seeds is in the data
        for table, data in tables.items():
            columns = data["columns"]
            statement = text(
                f"INSERT INTO {table} ({', '.join(columns)})"
                f" VALUES ({', '.join(':' + c for c in columns)})"
            )
            rows = [dict(zip(columns, row, strict=True)) for row in data["rows"]]
            if rows:
                conn.execute(statement, rows)


def _as_text(conn: Connection, table: str, columns: list[str], order: str = "id") -> list[Any]:
    casts = ", ".join(f"{column}::text" for column in columns)
    return [list(r) for r in conn.execute(text(f"SELECT {casts} FROM {table} ORDER BY {order}"))]


@pytest.fixture
def upgraded(empty_engine: Engine) -> Engine:
    load_0001_database(empty_engine)
    migrate.upgrade(empty_engine, "0002")
    return empty_engine


def test_rows_of_real_allocations_survive_byte_for_byte(upgraded: Engine) -> None:
    external_ips = [r for r in _rows("external_ip") if not _is_placeholder(r)]
    nics = [r for r in _rows("service_network_interface") if not _is_placeholder(r)]
    assert external_ips
    assert nics
    with upgraded.connect() as conn:
        columns = list(external_ips[0])
        assert _as_text(conn, "external_ip", columns) == [list(r.values()) for r in external_ips]
        # Through upstream's view, the NICs read exactly as the old table held them.
        view_columns = list(nics[0])
        assert _as_text(conn, "service_network_interface", view_columns) == [
            list(r.values()) for r in nics
        ]
        moved = conn.execute(
            text(
                "SELECT count(*) FROM network_interface WHERE kind = 'service'"
                " AND transit_ips = '{}' AND transit_ips_v6 = '{}'"
            )
        ).scalar()
        assert moved == len(nics)
        for table in UNCHANGED_TABLES:
            columns = _fixture()["tables"][table]["columns"]
            order = "version" if table == "bp_target" else "id"
            expected = [list(r.values()) for r in _rows(table)]
            assert _as_text(conn, table, columns, order) == expected, table


def test_placeholder_rows_become_repair_records(upgraded: Engine) -> None:
    placeholders = {
        ("external_ip", r["id"], r["parent_id"], r["time_created"])
        for r in _rows("external_ip")
        if _is_placeholder(r)
    } | {
        ("service_network_interface", r["id"], r["service_id"], r["time_created"])
        for r in _rows("service_network_interface")
        if _is_placeholder(r)
    }
    assert len(placeholders) == 24
    with upgraded.connect() as conn:
        records = conn.execute(
            text(
                "SELECT table_name, row_id::text, zone_id::text, time_recorded::text,"
                " blueprint_id, execution_id FROM external_networking_repair"
            )
        ).all()
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM external_ip WHERE description LIKE :note)"
                " + (SELECT count(*) FROM network_interface WHERE description LIKE :note)"
            ),
            {"note": f"%{PLACEHOLDER_NOTE}"},
        ).scalar()
    assert {tuple(r[:4]) for r in records} == placeholders
    assert len(records) == len(placeholders)
    assert all(r.blueprint_id is None and r.execution_id is None for r in records)
    assert left == 0


def test_pools_get_versions_and_ranges_count_their_allocations(upgraded: Engine) -> None:
    (old_pool,) = _rows("ip_pool")
    with upgraded.connect() as conn:
        pools = conn.execute(
            text("SELECT id::text, name, ip_version, rcgen, assignment FROM ip_pool ORDER BY 3")
        ).all()
        ranges = conn.execute(
            text(
                "SELECT r.first_address::text, r.ip_pool_id::text, r.rcgen,"
                " (SELECT count(*) FROM external_ip e WHERE e.ip_pool_range_id = r.id)"
                " FROM ip_pool_range r ORDER BY r.first_address"
            )
        ).all()
    (v4, v6) = pools
    assert (v4.id, v4.name, v4.ip_version) == (old_pool["id"], old_pool["name"], "v4")
    assert (v6.name, v6.ip_version, v6.assignment) == (
        "oxide-service-pool-v6",
        "v6",
        "system_services",
    )
    # The IPv4 range stays in its pool; the IPv6 range moved to the IPv6 service pool.
    assert [(r[0], r[1]) for r in ranges] == [
        ("192.0.2.1/32", v4.id),
        ("2001:db8::10/128", v6.id),
    ]
    # A range's generation is the number of addresses given out from it (placeholders gone).
    real = [r for r in _rows("external_ip") if not _is_placeholder(r)]
    assert [(r[2], r[3]) for r in ranges] == [(len(real), len(real)), (0, 0)]


def test_the_next_execution_writes_nothing(empty_engine: Engine) -> None:
    load_0001_database(empty_engine)
    migrate.upgrade(empty_engine)
    before = snapshot(empty_engine)
    report = Executor(empty_engine).execute()
    assert report.succeeded, report.error
    step = report.step(EXTERNAL_NETWORKING_STEP).details
    assert step["repairs"] == []
    assert step["external_ips"]["not_found"] == 12
    assert step["nics"]["not_found"] == 12
    assert step["external_ips"]["created"] == step["nics"]["created"] == 0
    assert step["external_ips"]["soft_deleted"] == step["nics"]["soft_deleted"] == 0
    assert snapshot(empty_engine) == before


def test_downgrade_gives_back_revision_0001s_tables_and_one_service_pool(
    upgraded: Engine,
) -> None:
    before = {
        table: _as_text_all(upgraded, table)
        for table in ("external_ip", "service_network_interface", *UNCHANGED_TABLES)
    }
    migrate.downgrade(upgraded, "0001")
    with upgraded.connect() as conn:
        kinds = {
            name: conn.execute(
                text(
                    "SELECT table_type FROM information_schema.tables"
                    " WHERE table_name = :name AND table_schema = current_schema()"
                ),
                {"name": name},
            ).scalar()
            for name in ("service_network_interface", "network_interface")
        }
        pools = conn.execute(text("SELECT id::text, name FROM ip_pool")).all()
        ranges = conn.execute(text("SELECT DISTINCT ip_pool_id::text FROM ip_pool_range")).all()
    assert kinds == {"service_network_interface": "BASE TABLE", "network_interface": None}
    (old_pool,) = _rows("ip_pool")
    assert [tuple(p) for p in pools] == [(old_pool["id"], "oxide-service-pool")]
    assert [r[0] for r in ranges] == [old_pool["id"]]
    for table, rows in before.items():
        assert _as_text_all(upgraded, table) == rows, table
    # And up again: the same rows.
    migrate.upgrade(upgraded, "0002")
    for table, rows in before.items():
        assert _as_text_all(upgraded, table) == rows, table


def _as_text_all(engine: Engine, table: str) -> list[Any]:
    with engine.connect() as conn:
        columns = [
            row[0]
            for row in conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = :t"
                    " AND table_schema = current_schema() ORDER BY ordinal_position"
                ),
                {"t": table},
            )
        ]
        return _as_text(conn, table, columns, "1")


@contextlib.contextmanager
def fresh_database_copy(server: DatabaseServer, source: Engine) -> Iterator[Engine]:
    """A copy of ``source``'s database, dropped afterwards."""
    url = server.copy_database(source.url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        server.drop_database(url)
