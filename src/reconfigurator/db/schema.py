"""The database schema (DESIGN §3) as SQLAlchemy 2.x typed ORM models.

Uniqueness applies to live rows only (``time_deleted IS NULL``), expressed as partial unique
indexes. Enumerations are PostgreSQL ``CREATE TYPE`` enums, which CockroachDB supports too.
Constraint names follow :data:`NAMING_CONVENTION` so migrations can refer to them.
"""

from __future__ import annotations

import enum
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import Enum as SAEnum
from sqlalchemy.types import Uuid

# The planning input's enums: these columns store their values.
from reconfigurator.blueprint.model import SledState
from reconfigurator.planning_input import DiskPolicy, DiskState, SledPolicy

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LIVE: Final = text("time_deleted IS NULL")

#: What psycopg returns for an ``INET`` holding a host address (it accepts strings too).
IpAddress = IPv4Address | IPv6Address


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _pg_enum(cls: type[enum.Enum], name: str) -> SAEnum:
    """A native enum type stored by value (the lower-case names of the contract)."""
    return SAEnum(
        cls,
        name=name,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class IpKind(enum.StrEnum):
    SNAT = "snat"
    EPHEMERAL = "ephemeral"
    FLOATING = "floating"


class IpAttachState(enum.StrEnum):
    DETACHED = "detached"
    ATTACHED = "attached"
    DETACHING = "detaching"
    ATTACHING = "attaching"


class IpPoolAssignment(enum.StrEnum):
    SYSTEM_SERVICES = "system_services"
    SILOS = "silos"


class ExecutionOutcome(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


IP_KIND = _pg_enum(IpKind, "ip_kind")
IP_ATTACH_STATE = _pg_enum(IpAttachState, "ip_attach_state")
IP_POOL_ASSIGNMENT = _pg_enum(IpPoolAssignment, "ip_pool_assignment")
SLED_POLICY = _pg_enum(SledPolicy, "sled_policy")
SLED_STATE = _pg_enum(SledState, "sled_state")
DISK_POLICY = _pg_enum(DiskPolicy, "physical_disk_policy")
DISK_STATE = _pg_enum(DiskState, "physical_disk_state")
EXECUTION_OUTCOME = _pg_enum(ExecutionOutcome, "bp_execution_outcome")

TIMESTAMPTZ = DateTime(timezone=True)


class IpPool(Base):
    __tablename__ = "ip_pool"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(512))
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_deleted: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    assignment: Mapped[IpPoolAssignment] = mapped_column(IP_POOL_ASSIGNMENT)

    __table_args__ = (Index("ix_ip_pool_name_live", "name", unique=True, postgresql_where=LIVE),)


class IpPoolRange(Base):
    __tablename__ = "ip_pool_range"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_deleted: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    first_address: Mapped[IpAddress] = mapped_column(INET)
    last_address: Mapped[IpAddress] = mapped_column(INET)
    ip_pool_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("ip_pool.id"))

    __table_args__ = (
        CheckConstraint(
            "family(first_address) = family(last_address) AND first_address <= last_address",
            name="ordered_same_family",
        ),
        Index(
            "ix_ip_pool_range_first_address_live",
            "first_address",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index(
            "ix_ip_pool_range_last_address_live", "last_address", unique=True, postgresql_where=LIVE
        ),
        Index("ix_ip_pool_range_ip_pool_id_live", "ip_pool_id", postgresql_where=LIVE),
    )


class ExternalIp(Base):
    __tablename__ = "external_ip"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(63))
    description: Mapped[str | None] = mapped_column(String(512))
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_deleted: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    ip_pool_id: Mapped[UUID] = mapped_column(Uuid)
    ip_pool_range_id: Mapped[UUID] = mapped_column(Uuid)
    is_service: Mapped[bool] = mapped_column(Boolean)
    parent_id: Mapped[UUID | None] = mapped_column(Uuid)
    kind: Mapped[IpKind] = mapped_column(IP_KIND)
    ip: Mapped[IpAddress] = mapped_column(INET)
    first_port: Mapped[int] = mapped_column(Integer)
    last_port: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[UUID | None] = mapped_column(Uuid)
    state: Mapped[IpAttachState] = mapped_column(IP_ATTACH_STATE)
    is_probe: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (
        CheckConstraint(
            "NOT is_service OR (name IS NOT NULL AND description IS NOT NULL"
            " AND project_id IS NULL)",
            name="service_named_without_project",
        ),
        CheckConstraint("kind != 'snat' OR parent_id IS NOT NULL", name="snat_has_parent"),
        CheckConstraint("NOT (is_service AND kind = 'ephemeral')", name="service_not_ephemeral"),
        CheckConstraint("state = 'detached' OR parent_id IS NOT NULL", name="attached_has_parent"),
        CheckConstraint(
            "first_port >= 0 AND last_port <= 65535 AND first_port <= last_port",
            name="port_range",
        ),
        Index(
            "ix_external_ip_ip_first_port_live",
            "ip",
            "first_port",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index(
            "ix_external_ip_parent_id_id_live",
            "parent_id",
            "id",
            unique=True,
            postgresql_where=LIVE,
        ),
    )


class ServiceNetworkInterface(Base):
    __tablename__ = "service_network_interface"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(512))
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_deleted: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    service_id: Mapped[UUID] = mapped_column(Uuid)
    vpc_id: Mapped[UUID] = mapped_column(Uuid)
    subnet_id: Mapped[UUID] = mapped_column(Uuid)
    mac: Mapped[int] = mapped_column(BigInteger)
    ipv4: Mapped[IpAddress] = mapped_column(INET)
    ipv6: Mapped[IpAddress | None] = mapped_column(INET)
    slot: Mapped[int] = mapped_column(SmallInteger)
    is_primary: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        CheckConstraint("slot >= 0 AND slot < 8", name="slot_range"),
        CheckConstraint("mac >= 0 AND mac < 281474976710656", name="mac_48_bits"),
        CheckConstraint("family(ipv4) = 4", name="ipv4_family"),
        CheckConstraint("ipv6 IS NULL OR family(ipv6) = 6", name="ipv6_family"),
        Index(
            "ix_service_network_interface_subnet_id_ipv4_live",
            "subnet_id",
            "ipv4",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index(
            "ix_service_network_interface_vpc_id_mac_live",
            "vpc_id",
            "mac",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index(
            "ix_service_network_interface_service_id_slot_live",
            "service_id",
            "slot",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index(
            "ix_service_network_interface_service_id_name_live",
            "service_id",
            "name",
            unique=True,
            postgresql_where=LIVE,
        ),
    )


class Blueprint(Base):
    __tablename__ = "blueprint"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    parent_blueprint_id: Mapped[UUID | None] = mapped_column(Uuid)
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    creator: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (Index("ix_blueprint_time_created", "time_created"),)


class BpTarget(Base):
    __tablename__ = "bp_target"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    blueprint_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("blueprint.id"))
    enabled: Mapped[bool] = mapped_column(Boolean)
    time_made_target: Mapped[datetime] = mapped_column(TIMESTAMPTZ)

    __table_args__ = (CheckConstraint("version > 0", name="version_positive"),)


class Sled(Base):
    __tablename__ = "sled"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    policy: Mapped[SledPolicy] = mapped_column(SLED_POLICY)
    state: Mapped[SledState] = mapped_column(SLED_STATE)


class PhysicalDisk(Base):
    __tablename__ = "physical_disk"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    sled_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("sled.id"))
    pool_id: Mapped[UUID] = mapped_column(Uuid)
    policy: Mapped[DiskPolicy] = mapped_column(DISK_POLICY)
    state: Mapped[DiskState] = mapped_column(DISK_STATE)

    __table_args__ = (
        Index("ix_physical_disk_pool_id", "pool_id", unique=True),
        Index("ix_physical_disk_sled_id", "sled_id"),
    )


class BpExecution(Base):
    __tablename__ = "bp_execution"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    blueprint_id: Mapped[UUID] = mapped_column(Uuid)
    time_started: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_finished: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    outcome: Mapped[ExecutionOutcome] = mapped_column(EXECUTION_OUTCOME)
    failed_step: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (Index("ix_bp_execution_time_started", "time_started"),)


metadata: Final = Base.metadata


def _table(model: type[Base]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model maps one table
        raise TypeError(f"{model.__name__} does not map a table")
    return table


# Core tables for set-based statements (SQLAlchemy Core), typed as ``Table``.
ip_pool_table: Final = _table(IpPool)
ip_pool_range_table: Final = _table(IpPoolRange)
external_ip_table: Final = _table(ExternalIp)
service_network_interface_table: Final = _table(ServiceNetworkInterface)
blueprint_table: Final = _table(Blueprint)
bp_target_table: Final = _table(BpTarget)
sled_table: Final = _table(Sled)
physical_disk_table: Final = _table(PhysicalDisk)
bp_execution_table: Final = _table(BpExecution)
