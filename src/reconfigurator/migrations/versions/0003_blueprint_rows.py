"""Blueprints as rows of upstream's blueprint tables instead of one JSONB document each.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Adds ``bp_sled_metadata``, ``bp_omicron_physical_disk``, ``bp_omicron_zone``,
``bp_omicron_zone_nic`` (upstream's names and types for the columns kept), this project's
``bp_omicron_zone_nic_transit_ip``, and ``blueprint.external_networking_generation``. Every
stored document is validated and written as rows, one blueprint at a time, and its document
cleared; the ``document`` column goes once every blueprint is moved. A blueprint's rows are
written in full or, after a failure, written again from its document on the next run, so
the revision completes when run again after a failure part-way (CockroachDB commits each DDL
statement on its own).

Moving documents needs the database (``recon db upgrade``). The SQL that ``--sql`` renders
refuses to run on a database that has blueprints, so it cannot drop their documents.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from reconfigurator.db import ddl

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS: dict[str, tuple[str, ...]] = {
    "zone_type": (
        "boundary_ntp",
        "clickhouse",
        "clickhouse_keeper",
        "clickhouse_server",
        "cockroach_db",
        "crucible",
        "crucible_pantry",
        "external_dns",
        "internal_dns",
        "internal_ntp",
        "nexus",
        "oximeter",
    ),
    "bp_zone_disposition": ("in_service", "expunged"),
    "bp_physical_disk_disposition": ("in_service", "expunged"),
}

EXPUNGED_DISPOSITION_PROPERTIES = (
    "(disposition != 'expunged' AND disposition_expunged_as_of_generation IS NULL"
    " AND NOT disposition_expunged_ready_for_cleanup)"
    " OR (disposition = 'expunged' AND disposition_expunged_as_of_generation IS NOT NULL)"
)

#: The tables of a blueprint's parts, children first.
PART_TABLES = (
    "bp_omicron_zone_nic_transit_ip",
    "bp_omicron_zone_nic",
    "bp_omicron_zone",
    "bp_omicron_physical_disk",
    "bp_sled_metadata",
)


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*ENUMS[name], name=name, create_type=False)


def _disposition_columns(enum_name: str) -> list[sa.Column[object]]:
    return [
        sa.Column("disposition", _enum(enum_name), nullable=False),
        sa.Column("disposition_expunged_as_of_generation", sa.BigInteger(), nullable=True),
        sa.Column("disposition_expunged_ready_for_cleanup", sa.Boolean(), nullable=False),
    ]


def _create_tables() -> None:
    sled_state = postgresql.ENUM("active", "decommissioned", name="sled_state", create_type=False)
    ddl.create_table(
        "bp_sled_metadata",
        sa.Column("blueprint_id", sa.Uuid(), nullable=False),
        sa.Column("sled_id", sa.Uuid(), nullable=False),
        sa.Column("sled_state", sled_state, nullable=False),
        sa.PrimaryKeyConstraint("blueprint_id", "sled_id", name="pk_bp_sled_metadata"),
    )
    ddl.create_table(
        "bp_omicron_physical_disk",
        sa.Column("blueprint_id", sa.Uuid(), nullable=False),
        sa.Column("sled_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        *_disposition_columns("bp_physical_disk_disposition"),
        sa.CheckConstraint(EXPUNGED_DISPOSITION_PROPERTIES, name="expunged_disposition_properties"),
        sa.PrimaryKeyConstraint("blueprint_id", "id", name="pk_bp_omicron_physical_disk"),
    )
    ddl.create_table(
        "bp_omicron_zone",
        sa.Column("blueprint_id", sa.Uuid(), nullable=False),
        sa.Column("sled_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_type", _enum("zone_type"), nullable=False),
        sa.Column("second_service_ip", postgresql.INET(), nullable=True),
        sa.Column("bp_nic_id", sa.Uuid(), nullable=True),
        sa.Column("snat_ip", postgresql.INET(), nullable=True),
        sa.Column("snat_first_port", sa.Integer(), nullable=True),
        sa.Column("snat_last_port", sa.Integer(), nullable=True),
        sa.Column("external_ip_id", sa.Uuid(), nullable=True),
        sa.Column("filesystem_pool", sa.Uuid(), nullable=False),
        *_disposition_columns("bp_zone_disposition"),
        sa.CheckConstraint(EXPUNGED_DISPOSITION_PROPERTIES, name="expunged_disposition_properties"),
        sa.CheckConstraint(
            "snat_first_port IS NULL OR snat_first_port BETWEEN 0 AND 65535",
            name="bp_omicron_zone_snat_first_port_check",
        ),
        sa.CheckConstraint(
            "snat_last_port IS NULL OR snat_last_port BETWEEN 0 AND 65535",
            name="bp_omicron_zone_snat_last_port_check",
        ),
        sa.PrimaryKeyConstraint("blueprint_id", "id", name="pk_bp_omicron_zone"),
    )
    ddl.create_table(
        "bp_omicron_zone_nic",
        sa.Column("blueprint_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("mac", sa.BigInteger(), nullable=False),
        sa.Column("subnet", postgresql.INET(), nullable=True),
        sa.Column("vni", sa.BigInteger(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("ipv6", postgresql.INET(), nullable=True),
        sa.Column("ipv6_subnet", postgresql.INET(), nullable=True),
        sa.CheckConstraint("ip IS NOT NULL OR ipv6 IS NOT NULL", name="at_least_one_ip_address"),
        sa.CheckConstraint(
            "(ip IS NULL) = (subnet IS NULL) AND (ipv6 IS NULL) = (ipv6_subnet IS NULL)",
            name="ip_and_subnet_consistent",
        ),
        sa.PrimaryKeyConstraint("blueprint_id", "id", name="pk_bp_omicron_zone_nic"),
    )
    ddl.create_table(
        "bp_omicron_zone_nic_transit_ip",
        sa.Column("blueprint_id", sa.Uuid(), nullable=False),
        sa.Column("nic_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("network", postgresql.INET(), nullable=False),
        sa.PrimaryKeyConstraint(
            "blueprint_id", "nic_id", "position", name="pk_bp_omicron_zone_nic_transit_ip"
        ),
    )


def _has_column(table: str, column: str) -> bool:
    found = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = :table"
                " AND column_name = :column AND table_schema = current_schema()"
            ),
            {"table": table, "column": column},
        )
        .scalar()
    )
    return bool(found)


def _move_documents() -> None:
    """Each blueprint that still has its document: its rows, written afresh; then the
    document is cleared (so a re-run skips it)."""
    # Imported here: only an online upgrade with data needs the model.
    from reconfigurator.blueprint.parse import blueprint_from_document  # noqa: PLC0415
    from reconfigurator.db.blueprint_rows import write_blueprint_rows  # noqa: PLC0415

    conn = op.get_bind()
    pending = list(
        conn.execute(
            sa.text("SELECT id FROM blueprint WHERE document IS NOT NULL ORDER BY id")
        ).scalars()
    )
    for blueprint_id in pending:
        document = conn.execute(
            sa.text("SELECT document FROM blueprint WHERE id = :id"), {"id": blueprint_id}
        ).scalar_one()
        blueprint = blueprint_from_document(document)
        for table in PART_TABLES:
            conn.execute(
                sa.text(f"DELETE FROM {table} WHERE blueprint_id = :id"), {"id": blueprint_id}
            )
        write_blueprint_rows(conn, blueprint)
        conn.execute(
            sa.text(
                "UPDATE blueprint SET document = NULL, external_networking_generation = :g"
                " WHERE id = :id"
            ),
            {"id": blueprint_id, "g": blueprint.external_networking_generation},
        )


def upgrade() -> None:
    for name, values in ENUMS.items():
        ddl.create_enum(name, values)
    _create_tables()
    ddl.add_column(
        "blueprint",
        sa.Column(
            "external_networking_generation",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text("1"),
        ),
    )
    op.execute("ALTER TABLE blueprint ALTER COLUMN external_networking_generation DROP DEFAULT")
    if ddl.offline():
        # Documents can only be moved by an online upgrade: refuse to drop any.
        op.execute(
            "SELECT CAST('stored blueprints must be moved into rows by an online upgrade"
            " (recon db upgrade)' AS INT) FROM blueprint LIMIT 1"
        )
        op.execute("ALTER TABLE blueprint DROP COLUMN IF EXISTS document")
        return
    if _has_column("blueprint", "document"):
        op.execute("ALTER TABLE blueprint ALTER COLUMN document DROP NOT NULL")
        _move_documents()
        op.execute("ALTER TABLE blueprint DROP COLUMN IF EXISTS document")


def _restore_documents() -> None:
    """Each blueprint's document rebuilt from its rows, without its external networking
    generation (revision 0002's format has none)."""
    from reconfigurator.db.blueprint_store import get_blueprint  # noqa: PLC0415

    conn = op.get_bind()
    pending = list(
        conn.execute(
            sa.text("SELECT id FROM blueprint WHERE document IS NULL ORDER BY id")
        ).scalars()
    )
    for blueprint_id in pending:
        document = get_blueprint(conn, blueprint_id).to_document()
        document.pop("external_networking_generation", None)
        conn.execute(
            sa.text("UPDATE blueprint SET document = :doc WHERE id = :id").bindparams(
                sa.bindparam("doc", type_=postgresql.JSONB())
            ),
            {"id": blueprint_id, "doc": document},
        )


def downgrade() -> None:
    """Back to one document per blueprint. The external networking generation is dropped
    (revision 0002's format has no place for it)."""
    ddl.add_column("blueprint", sa.Column("document", postgresql.JSONB(), nullable=True))
    if not ddl.offline() and ddl.relation_kind("bp_sled_metadata") == "table":
        _restore_documents()
    op.execute("ALTER TABLE blueprint ALTER COLUMN document SET NOT NULL")
    ddl.drop_column("blueprint", "external_networking_generation")
    for table in PART_TABLES:
        ddl.drop_table(table)
    for name in reversed(ENUMS):
        ddl.drop_enum(name)
