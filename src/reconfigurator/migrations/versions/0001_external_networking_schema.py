"""External networking, planning input, blueprints, targets and executions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Valid on PostgreSQL and CockroachDB: enums are created with ``CREATE TYPE``, uniqueness over
live rows uses partial unique indexes, and nothing relies on transactional DDL: every
statement is guarded (``reconfigurator.db.ddl``) or idempotent, so the revision completes when
run again after a failure part-way (CockroachDB commits each DDL statement on its own).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from reconfigurator.db import ddl

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS: dict[str, tuple[str, ...]] = {
    "ip_kind": ("snat", "ephemeral", "floating"),
    "ip_attach_state": ("detached", "attached", "detaching", "attaching"),
    "ip_pool_assignment": ("system_services", "silos"),
    "sled_policy": ("in_service", "expunged"),
    "sled_state": ("active", "decommissioned"),
    "physical_disk_policy": ("in_service", "expunged"),
    "physical_disk_state": ("active", "decommissioned"),
    "bp_execution_outcome": ("running", "completed", "failed"),
}

# The fixed service IP pool (docs/design.md#fixed-data); its ranges are added by operators.
SERVICE_POOL_ID = "001de000-0001-4000-8000-000000000001"

LIVE = sa.text("time_deleted IS NULL")


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*ENUMS[name], name=name, create_type=False)


def _timestamps(*, deletable: bool = True) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_modified", sa.DateTime(timezone=True), nullable=False),
    ]
    if deletable:
        columns.append(sa.Column("time_deleted", sa.DateTime(timezone=True), nullable=True))
    return columns


def _live_unique(name: str, table: str, columns: list[str]) -> None:
    ddl.create_index(name, table, columns, unique=True, where=str(LIVE))


def upgrade() -> None:
    for name, values in ENUMS.items():
        ddl.create_enum(name, values)

    ddl.create_table(
        "ip_pool",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.String(512), nullable=False),
        *_timestamps(),
        sa.Column("assignment", _enum("ip_pool_assignment"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ip_pool"),
    )
    _live_unique("ix_ip_pool_name_live", "ip_pool", ["name"])

    ddl.create_table(
        "ip_pool_range",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.Column("first_address", postgresql.INET(), nullable=False),
        sa.Column("last_address", postgresql.INET(), nullable=False),
        sa.Column("ip_pool_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "family(first_address) = family(last_address) AND first_address <= last_address",
            name=op.f("ck_ip_pool_range_ordered_same_family"),
        ),
        sa.ForeignKeyConstraint(
            ["ip_pool_id"], ["ip_pool.id"], name="fk_ip_pool_range_ip_pool_id_ip_pool"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ip_pool_range"),
    )
    _live_unique("ix_ip_pool_range_first_address_live", "ip_pool_range", ["first_address"])
    _live_unique("ix_ip_pool_range_last_address_live", "ip_pool_range", ["last_address"])
    ddl.create_index(
        "ix_ip_pool_range_ip_pool_id_live", "ip_pool_range", ["ip_pool_id"], where=str(LIVE)
    )

    ddl.create_table(
        "external_ip",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(63), nullable=True),
        sa.Column("description", sa.String(512), nullable=True),
        *_timestamps(),
        sa.Column("ip_pool_id", sa.Uuid(), nullable=False),
        sa.Column("ip_pool_range_id", sa.Uuid(), nullable=False),
        sa.Column("is_service", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("kind", _enum("ip_kind"), nullable=False),
        sa.Column("ip", postgresql.INET(), nullable=False),
        sa.Column("first_port", sa.Integer(), nullable=False),
        sa.Column("last_port", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("state", _enum("ip_attach_state"), nullable=False),
        sa.Column("is_probe", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "NOT is_service OR (name IS NOT NULL AND description IS NOT NULL"
            " AND project_id IS NULL)",
            name=op.f("ck_external_ip_service_named_without_project"),
        ),
        sa.CheckConstraint(
            "kind != 'snat' OR parent_id IS NOT NULL", name=op.f("ck_external_ip_snat_has_parent")
        ),
        sa.CheckConstraint(
            "NOT (is_service AND kind = 'ephemeral')",
            name=op.f("ck_external_ip_service_not_ephemeral"),
        ),
        sa.CheckConstraint(
            "state = 'detached' OR parent_id IS NOT NULL",
            name=op.f("ck_external_ip_attached_has_parent"),
        ),
        sa.CheckConstraint(
            "first_port >= 0 AND last_port <= 65535 AND first_port <= last_port",
            name=op.f("ck_external_ip_port_range"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_external_ip"),
    )
    _live_unique("ix_external_ip_ip_first_port_live", "external_ip", ["ip", "first_port"])
    _live_unique("ix_external_ip_parent_id_id_live", "external_ip", ["parent_id", "id"])

    ddl.create_table(
        "service_network_interface",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.String(512), nullable=False),
        *_timestamps(),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("vpc_id", sa.Uuid(), nullable=False),
        sa.Column("subnet_id", sa.Uuid(), nullable=False),
        sa.Column("mac", sa.BigInteger(), nullable=False),
        sa.Column("ipv4", postgresql.INET(), nullable=False),
        sa.Column("ipv6", postgresql.INET(), nullable=True),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "slot >= 0 AND slot < 8", name=op.f("ck_service_network_interface_slot_range")
        ),
        sa.CheckConstraint(
            "mac >= 0 AND mac < 281474976710656",
            name=op.f("ck_service_network_interface_mac_48_bits"),
        ),
        sa.CheckConstraint(
            "family(ipv4) = 4", name=op.f("ck_service_network_interface_ipv4_family")
        ),
        sa.CheckConstraint(
            "ipv6 IS NULL OR family(ipv6) = 6",
            name=op.f("ck_service_network_interface_ipv6_family"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_service_network_interface"),
    )
    nic = "service_network_interface"
    _live_unique(f"ix_{nic}_subnet_id_ipv4_live", nic, ["subnet_id", "ipv4"])
    _live_unique(f"ix_{nic}_vpc_id_mac_live", nic, ["vpc_id", "mac"])
    _live_unique(f"ix_{nic}_service_id_slot_live", nic, ["service_id", "slot"])
    _live_unique(f"ix_{nic}_service_id_name_live", nic, ["service_id", "name"])

    ddl.create_table(
        "blueprint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("parent_blueprint_id", sa.Uuid(), nullable=True),
        sa.Column("time_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("creator", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("document", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_blueprint"),
    )
    ddl.create_index("ix_blueprint_time_created", "blueprint", ["time_created"])

    ddl.create_table(
        "bp_target",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("blueprint_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("time_made_target", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version > 0", name=op.f("ck_bp_target_version_positive")),
        sa.ForeignKeyConstraint(
            ["blueprint_id"], ["blueprint.id"], name="fk_bp_target_blueprint_id_blueprint"
        ),
        sa.PrimaryKeyConstraint("version", name="pk_bp_target"),
    )

    ddl.create_table(
        "sled",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(deletable=False),
        sa.Column("policy", _enum("sled_policy"), nullable=False),
        sa.Column("state", _enum("sled_state"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sled"),
    )

    ddl.create_table(
        "physical_disk",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(deletable=False),
        sa.Column("sled_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("policy", _enum("physical_disk_policy"), nullable=False),
        sa.Column("state", _enum("physical_disk_state"), nullable=False),
        sa.ForeignKeyConstraint(["sled_id"], ["sled.id"], name="fk_physical_disk_sled_id_sled"),
        sa.PrimaryKeyConstraint("id", name="pk_physical_disk"),
    )
    ddl.create_index("ix_physical_disk_pool_id", "physical_disk", ["pool_id"], unique=True)
    ddl.create_index("ix_physical_disk_sled_id", "physical_disk", ["sled_id"])

    ddl.create_table(
        "bp_execution",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("blueprint_id", sa.Uuid(), nullable=False),
        sa.Column("time_started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", _enum("bp_execution_outcome"), nullable=False),
        sa.Column("failed_step", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("report", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bp_execution"),
    )
    ddl.create_index("ix_bp_execution_time_started", "bp_execution", ["time_started"])

    op.execute(
        "INSERT INTO ip_pool (id, name, description, time_created, time_modified, assignment)"
        f" VALUES ('{SERVICE_POOL_ID}', 'oxide-service-pool',"
        " 'IP pool for the rack''s system services', now(), now(), 'system_services')"
        " ON CONFLICT (id) DO NOTHING"
    )


def downgrade() -> None:
    for table in (
        "bp_execution",
        "physical_disk",
        "sled",
        "bp_target",
        "blueprint",
        "service_network_interface",
        "external_ip",
        "ip_pool_range",
        "ip_pool",
    ):
        ddl.drop_table(table)
    for name in reversed(ENUMS):
        ddl.drop_enum(name)
