"""Database set-up and inspection shared by integration tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import insert_blueprint
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.service_pools import add_pool_range
from reconfigurator.db.targets import Target, set_target
from tests.blueprint_builder import EXTERNAL_RANGE

#: Every table the networking step may write: its two tables, the ranges whose ``rcgen`` it
#: bumps, and the repair record.
NETWORKING_TABLES = (
    "external_ip",
    "network_interface",
    "ip_pool_range",
    "external_networking_repair",
)


def seed_service_range(
    engine: Engine, first: str = EXTERNAL_RANGE[0], last: str = EXTERNAL_RANGE[1]
) -> uuid.UUID:
    """Add a range to the service pool of its version (created on first use)."""
    added = run_transaction(engine, lambda conn: add_pool_range(conn, first, last))
    return added.id


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
            rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")).all()
            out[table] = [tuple(row) for row in rows]
    return out


def live_rows(engine: Engine, table: str, parent: uuid.UUID) -> list[Any]:
    """Live rows of ``parent`` in ``external_ip``, ``network_interface`` or the
    ``service_network_interface`` view."""
    column = "service_id" if table == "service_network_interface" else "parent_id"
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
