"""Database set-up and inspection shared by integration tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import insert_blueprint
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.schema import ip_pool_range_table
from reconfigurator.db.targets import Target, set_target
from reconfigurator.fixed_data import SERVICE_IP_POOL_ID
from tests.blueprint_builder import EXTERNAL_RANGE

NETWORKING_TABLES = ("external_ip", "service_network_interface")


def seed_service_range(
    engine: Engine, first: str = EXTERNAL_RANGE[0], last: str = EXTERNAL_RANGE[1]
) -> uuid.UUID:
    range_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(ip_pool_range_table).values(
                id=range_id,
                time_created=text("now()"),
                time_modified=text("now()"),
                first_address=first,
                last_address=last,
                ip_pool_id=SERVICE_IP_POOL_ID,
            )
        )
    return range_id


def make_target(engine: Engine, blueprint: Blueprint, *, enabled: bool | None = None) -> Target:
    """Store the blueprint and make it the current target."""

    def body(conn: Any) -> Target:
        insert_blueprint(conn, blueprint)
        return set_target(conn, blueprint.id, enabled=enabled)

    return run_transaction(engine, body)


def snapshot(engine: Engine, tables: tuple[str, ...] = NETWORKING_TABLES) -> dict[str, list[Any]]:
    """Full contents of tables (every column), in a stable order, to compare states."""
    out: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for table in tables:
            rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            out[table] = [tuple(row) for row in rows]
    return out


def live_rows(engine: Engine, table: str, parent: uuid.UUID) -> list[Any]:
    column = "parent_id" if table == "external_ip" else "service_id"
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(f"SELECT * FROM {table} WHERE {column} = :p AND time_deleted IS NULL"),
                {"p": parent},
            )
        )


def row_by_id(engine: Engine, table: str, row_id: uuid.UUID) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT * FROM {table} WHERE id = :i"), {"i": row_id}).first()
