"""Schema changes that can be applied again after a failure part-way.

CockroachDB commits each DDL statement on its own, so a revision that fails part-way leaves
the statements before the failure applied, and running it again must skip them. Revisions use
these helpers instead of the bare Alembic operations: each looks at the catalog first, or uses
``IF [NOT] EXISTS`` where both PostgreSQL and CockroachDB understand it. In offline mode
(``recon db upgrade --sql``) there is no catalog to look at, and the statements are rendered
as they would run on a database at the revision before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


def offline() -> bool:
    """Whether the revision is being rendered as SQL rather than applied."""
    return bool(op.get_context().as_sql)


def _scalar(sql: str, **params: Any) -> Any:
    return op.get_bind().execute(sa.text(sql), params).scalar()


def type_exists(name: str) -> bool:
    """Whether a type of this name exists in the current schema."""
    return bool(
        _scalar(
            "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
            " WHERE t.typname = :name AND n.nspname = current_schema()",
            name=name,
        )
    )


def relation_kind(name: str) -> str | None:
    """``"table"``, ``"view"`` or ``None``: what ``name`` is in the current schema."""
    found = _scalar(
        "SELECT table_type FROM information_schema.tables"
        " WHERE table_name = :name AND table_schema = current_schema()",
        name=name,
    )
    if found is None:
        return None
    return "view" if str(found).upper() == "VIEW" else "table"


def constraint_exists(table: str, name: str) -> bool:
    """Whether ``table`` has a constraint called ``name``."""
    return bool(
        _scalar(
            "SELECT count(*) FROM information_schema.table_constraints"
            " WHERE table_name = :table AND constraint_name = :name"
            " AND table_schema = current_schema()",
            table=table,
            name=name,
        )
    )


def create_enum(name: str, values: Sequence[str]) -> None:
    """``CREATE TYPE name AS ENUM (...)`` unless the type exists."""
    if offline() or not type_exists(name):
        labels = ", ".join(f"'{value}'" for value in values)
        op.execute(f"CREATE TYPE {name} AS ENUM ({labels})")


def drop_enum(name: str) -> None:
    """``DROP TYPE IF EXISTS``."""
    op.execute(f"DROP TYPE IF EXISTS {name}")


def create_table(name: str, *items: sa.schema.SchemaItem) -> None:
    """``CREATE TABLE IF NOT EXISTS`` with its columns and constraints."""
    op.create_table(name, *items, if_not_exists=True)


def drop_table(name: str) -> None:
    """``DROP TABLE IF EXISTS``."""
    op.drop_table(name, if_exists=True)


def add_column(table: str, column: sa.Column[Any]) -> None:
    """``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``."""
    op.add_column(table, column, if_not_exists=True)


def drop_column(table: str, column: str) -> None:
    """``ALTER TABLE ... DROP COLUMN IF EXISTS``."""
    op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}")


def create_index(
    name: str,
    table: str,
    columns: Sequence[str],
    *,
    unique: bool = False,
    where: str | None = None,
) -> None:
    """``CREATE [UNIQUE] INDEX IF NOT EXISTS``, partial when ``where`` is given."""
    options: dict[str, Any] = {}
    if where is not None:
        options["postgresql_where"] = sa.text(where)
    op.create_index(name, table, list(columns), unique=unique, if_not_exists=True, **options)


def drop_index(name: str, table: str) -> None:
    """``DROP INDEX IF EXISTS``."""
    op.drop_index(name, table_name=table, if_exists=True)


def create_check(table: str, name: str, condition: str) -> None:
    """Add a CHECK constraint unless ``table`` has one of that name."""
    if offline() or not constraint_exists(table, name):
        op.create_check_constraint(name, table, condition)


def drop_constraint(table: str, name: str) -> None:
    """``ALTER TABLE ... DROP CONSTRAINT IF EXISTS``."""
    op.drop_constraint(name, table, if_exists=True)


def enum_labels(name: str) -> list[str]:
    """The labels of enum type ``name`` in order (empty when there is no such type)."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid"
            " JOIN pg_namespace n ON n.oid = t.typnamespace"
            " WHERE t.typname = :name AND n.nspname = current_schema() ORDER BY e.enumsortorder"
        ),
        {"name": name},
    )
    return [str(label) for label in rows.scalars()]


def add_enum_value(name: str, value: str) -> None:
    """``ALTER TYPE ... ADD VALUE IF NOT EXISTS`` (PostgreSQL ≥ 12 and CockroachDB accept it
    inside a transaction; the value cannot be used before that transaction commits)."""
    op.execute(f"ALTER TYPE {name} ADD VALUE IF NOT EXISTS '{value}'")


def column_type_name(table: str, column: str) -> str | None:
    """The type name of ``table.column`` (an enum's own name), or ``None`` without it."""
    found = _scalar(
        "SELECT udt_name FROM information_schema.columns WHERE table_name = :table"
        " AND column_name = :column AND table_schema = current_schema()",
        table=table,
        column=column,
    )
    return None if found is None else str(found)


def is_cockroachdb() -> bool:
    """Whether the revision runs on (or is rendered for) CockroachDB."""
    return op.get_context().dialect.name == "cockroachdb"
