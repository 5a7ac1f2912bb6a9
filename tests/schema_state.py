"""The schema as the catalog describes it, for comparing two databases."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

CATALOG_QUERIES = {
    "columns": (
        "SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_schema = current_schema()"
    ),
    "constraints": (
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid)"
        " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = current_schema()"
    ),
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = current_schema()",
    "enums": (
        "SELECT t.typname, e.enumlabel, e.enumsortorder FROM pg_type t"
        " JOIN pg_enum e ON e.enumtypid = t.oid"
        " JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = current_schema()"
    ),
    "types": (
        "SELECT t.typname, t.typtype FROM pg_type t"
        " JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'c')"
        " AND t.typrelid = 0"
    ),
}


def catalog(engine: Engine | Connection) -> dict[str, list[tuple[str, ...]]]:
    """Every column, constraint, index, view and enum of the current schema, sorted."""
    with _connected(engine) as conn:
        return {
            name: sorted(tuple(map(str, row)) for row in conn.execute(text(query)))
            for name, query in CATALOG_QUERIES.items()
        }


def table_names(engine: Engine | Connection) -> set[str]:
    with _connected(engine) as conn:
        return set(
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                )
            ).scalars()
        )


def rows_as_json(engine: Engine | Connection, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` as JSON values, in no particular order."""
    with _connected(engine) as conn:
        return list(conn.execute(text(f"SELECT to_jsonb(t) FROM {table} t")).scalars())


@contextlib.contextmanager
def _connected(source: Engine | Connection) -> Iterator[Connection]:
    if isinstance(source, Connection):
        yield source
        return
    with source.connect() as conn:
        yield conn
