"""The database schema (docs/design.md#data-model) as SQLAlchemy 2.x typed ORM models.

The tables shared with the upstream control plane (``ip_pool``, ``ip_pool_range``,
``external_ip``, ``network_interface`` and its ``service_network_interface`` view) keep
upstream's table, column, type, CHECK and index names for every column they keep; a rule of
this project's own is named as such. Uniqueness applies to live rows only
(``time_deleted IS NULL``), expressed as partial unique indexes. Enumerations are PostgreSQL
``CREATE TYPE`` enums, which CockroachDB supports too.
"""

from __future__ import annotations

import enum
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
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
from reconfigurator.fixed_data import IpVersion
from reconfigurator.planning_input import DiskPolicy, DiskState, SledPolicy

#: Names of constraints and indexes that are not given one. Upstream's tables give every
#: CHECK and index its own name (kept here), so only this project's own keys use it.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LIVE: Final = text("time_deleted IS NULL")

#: What psycopg returns for an ``INET`` holding a host address (it accepts strings too).
IpAddress = IPv4Address | IPv6Address


class Base(DeclarativeBase):
    """The declarative base of every table, with the constraint naming convention."""

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
    """What an external IP is: SNAT, ephemeral or floating (upstream's ``ip_kind``)."""

    SNAT = "snat"
    EPHEMERAL = "ephemeral"
    FLOATING = "floating"


class IpAttachState(enum.StrEnum):
    """Where an external IP is in attaching to its parent (upstream's ``ip_attach_state``)."""

    DETACHED = "detached"
    ATTACHED = "attached"
    DETACHING = "detaching"
    ATTACHING = "attaching"


class IpPoolAssignment(enum.StrEnum):
    """What an IP pool serves: silos or the rack's system services."""

    SYSTEM_SERVICES = "system_services"
    SILOS = "silos"


class IpPoolType(enum.StrEnum):
    """Unicast or multicast IP pool (upstream's ``ip_pool_type``)."""

    UNICAST = "unicast"
    MULTICAST = "multicast"


class NetworkInterfaceKind(enum.StrEnum):
    """What a NIC belongs to: an instance, a service zone or a probe."""

    INSTANCE = "instance"
    SERVICE = "service"
    PROBE = "probe"


class ExecutionOutcome(enum.StrEnum):
    """How an executor run ended (``running`` while it runs)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    #: The run stopped without recording its end (its process died): found by its heartbeat.
    INTERRUPTED = "interrupted"


class BpZoneType(enum.StrEnum):
    """Every zone type upstream's blueprint tables know (``zone_type``); the blueprint model
    holds a subset, and reading a row of another type is refused by name."""

    BOUNDARY_NTP = "boundary_ntp"
    CLICKHOUSE = "clickhouse"
    CLICKHOUSE_KEEPER = "clickhouse_keeper"
    CLICKHOUSE_SERVER = "clickhouse_server"
    COCKROACH_DB = "cockroach_db"
    CRUCIBLE = "crucible"
    CRUCIBLE_PANTRY = "crucible_pantry"
    EXTERNAL_DNS = "external_dns"
    INTERNAL_DNS = "internal_dns"
    INTERNAL_NTP = "internal_ntp"
    NEXUS = "nexus"
    OXIMETER = "oximeter"


class BpDisposition(enum.StrEnum):
    """A zone's or disk's disposition in a blueprint (``bp_zone_disposition`` and
    ``bp_physical_disk_disposition`` upstream: two types with these values)."""

    IN_SERVICE = "in_service"
    EXPUNGED = "expunged"


IP_KIND = _pg_enum(IpKind, "ip_kind")
IP_ATTACH_STATE = _pg_enum(IpAttachState, "ip_attach_state")
IP_POOL_ASSIGNMENT = _pg_enum(IpPoolAssignment, "ip_pool_assignment")
IP_VERSION = _pg_enum(IpVersion, "ip_version")
IP_POOL_TYPE = _pg_enum(IpPoolType, "ip_pool_type")
NETWORK_INTERFACE_KIND = _pg_enum(NetworkInterfaceKind, "network_interface_kind")
SLED_POLICY = _pg_enum(SledPolicy, "sled_policy")
SLED_STATE = _pg_enum(SledState, "sled_state")
DISK_POLICY = _pg_enum(DiskPolicy, "physical_disk_policy")
DISK_STATE = _pg_enum(DiskState, "physical_disk_state")
EXECUTION_OUTCOME = _pg_enum(ExecutionOutcome, "bp_execution_outcome")
ZONE_TYPE = _pg_enum(BpZoneType, "zone_type")
BP_ZONE_DISPOSITION = _pg_enum(BpDisposition, "bp_zone_disposition")
BP_PHYSICAL_DISK_DISPOSITION = _pg_enum(BpDisposition, "bp_physical_disk_disposition")

TIMESTAMPTZ = DateTime(timezone=True)


class IpPool(Base):
    """``ip_pool``: an IP pool (here the service pools, one per IP version)."""

    __tablename__ = "ip_pool"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(512))
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_deleted: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    rcgen: Mapped[int] = mapped_column(BigInteger)
    ip_version: Mapped[IpVersion] = mapped_column(IP_VERSION)
    pool_type: Mapped[IpPoolType] = mapped_column(IP_POOL_TYPE, server_default=text("'unicast'"))
    assignment: Mapped[IpPoolAssignment] = mapped_column(IP_POOL_ASSIGNMENT)

    __table_args__ = (
        Index("lookup_pool_by_name", "name", unique=True, postgresql_where=LIVE),
        Index("lookup_ip_pool_by_type", "pool_type", postgresql_where=LIVE),
        # This project's own rule: at most one live service pool per IP version.
        Index(
            "ip_pool_one_service_pool_per_version",
            "ip_version",
            unique=True,
            postgresql_where=text("assignment = 'system_services' AND time_deleted IS NULL"),
        ),
    )


class IpPoolRange(Base):
    """``ip_pool_range``: an inclusive address range of a pool."""

    __tablename__ = "ip_pool_range"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_deleted: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    first_address: Mapped[IpAddress] = mapped_column(INET)
    last_address: Mapped[IpAddress] = mapped_column(INET)
    ip_pool_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("ip_pool.id"))
    rcgen: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("first_address <= last_address", name="check_address_order"),
        # This project's own rule: a range holds addresses of one family.
        CheckConstraint(
            "family(first_address) = family(last_address)", name="ip_pool_range_one_family"
        ),
        Index(
            "lookup_pool_range_by_first_address",
            "first_address",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index(
            "lookup_pool_range_by_last_address", "last_address", unique=True, postgresql_where=LIVE
        ),
        Index("ip_pool_range_by_pool_id", "ip_pool_id", postgresql_where=LIVE),
    )


class ExternalIp(Base):
    """``external_ip``: an address handed out, here to a zone (``parent_id``)."""

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
            "(is_service = true AND name IS NOT NULL)"
            " OR (is_service = false AND kind != 'floating' AND name IS NULL)"
            " OR (is_service = false AND kind = 'floating' AND name IS NOT NULL)",
            name="fips_and_services_need_names",
        ),
        CheckConstraint(
            "(is_service = true AND description IS NOT NULL)"
            " OR (is_service = false AND kind != 'floating' AND description IS NULL)"
            " OR (is_service = false AND kind = 'floating' AND description IS NOT NULL)",
            name="fips_and_services_need_descriptions",
        ),
        CheckConstraint(
            "(kind = 'floating' AND is_service = false AND project_id IS NOT NULL)"
            " OR ((kind != 'floating' OR is_service = true) AND project_id IS NULL)",
            name="null_project_id",
        ),
        CheckConstraint("kind != 'snat' OR parent_id IS NOT NULL", name="null_snat_parent_id"),
        CheckConstraint(
            "(kind = 'ephemeral' AND is_service = false) OR kind != 'ephemeral'",
            name="ephemeral_kind_service",
        ),
        CheckConstraint(
            "state = 'detached' OR parent_id IS NOT NULL", name="detached_null_parent_id"
        ),
        Index(
            "external_ip_by_pool",
            "ip_pool_id",
            "ip_pool_range_id",
            "ip",
            postgresql_where=LIVE,
        ),
        Index("external_ip_unique", "ip", "first_port", unique=True, postgresql_where=LIVE),
        Index(
            "lookup_external_ip_by_parent",
            "parent_id",
            "id",
            unique=True,
            postgresql_where=text("parent_id IS NOT NULL AND time_deleted IS NULL"),
        ),
        Index(
            "lookup_floating_ip_by_name",
            "name",
            unique=True,
            postgresql_where=text(
                "kind = 'floating' AND time_deleted IS NULL AND project_id IS NULL"
            ),
        ),
    )


class NetworkInterface(Base):
    """Upstream's NIC table; service NICs are its rows with ``kind = 'service'``."""

    __tablename__ = "network_interface"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(512))
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_deleted: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    kind: Mapped[NetworkInterfaceKind] = mapped_column(NETWORK_INTERFACE_KIND)
    parent_id: Mapped[UUID] = mapped_column(Uuid)
    vpc_id: Mapped[UUID] = mapped_column(Uuid)
    subnet_id: Mapped[UUID] = mapped_column(Uuid)
    mac: Mapped[int] = mapped_column(BigInteger)
    #: The IPv4 address (upstream kept the column's first name).
    ip: Mapped[IpAddress | None] = mapped_column(INET)
    slot: Mapped[int] = mapped_column(SmallInteger)
    is_primary: Mapped[bool] = mapped_column(Boolean)
    transit_ips: Mapped[list[Any]] = mapped_column(
        ARRAY(INET), server_default=text("ARRAY[]::INET[]")
    )
    ipv6: Mapped[IpAddress | None] = mapped_column(INET)
    transit_ips_v6: Mapped[list[Any]] = mapped_column(
        ARRAY(INET), server_default=text("ARRAY[]::INET[]")
    )

    __table_args__ = (
        CheckConstraint("slot >= 0 AND slot < 8", name="network_interface_slot_check"),
        CheckConstraint("ip IS NOT NULL OR ipv6 IS NOT NULL", name="at_least_one_ip_address"),
        CheckConstraint(
            "(array_length(transit_ips, 1) = 0 OR ip IS NOT NULL)"
            " AND (array_length(transit_ips_v6, 1) = 0 OR ipv6 IS NOT NULL)",
            name="transit_ips_require_ip_address",
        ),
        Index(
            "network_interface_subnet_id_ipv4_key",
            "subnet_id",
            "ip",
            unique=True,
            postgresql_where=text("time_deleted IS NULL AND ip IS NOT NULL"),
        ),
        Index(
            "network_interface_subnet_id_ipv6_key",
            "subnet_id",
            "ipv6",
            unique=True,
            postgresql_where=text("time_deleted IS NULL AND ipv6 IS NOT NULL"),
        ),
        Index(
            "network_interface_vpc_id_mac_key", "vpc_id", "mac", unique=True, postgresql_where=LIVE
        ),
        Index(
            "network_interface_parent_id_name_kind_key",
            "parent_id",
            "name",
            "kind",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index(
            "network_interface_parent_id_slot_key",
            "parent_id",
            "slot",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index("network_interface_by_parent", "parent_id"),
    )


class ExternalNetworkingRepair(Base):
    """This project's record of rows of expunged zones that were never created.

    A run that meets such a row writes nothing to the upstream tables for it (as upstream);
    it lists the row as a repair in its report and records it here, so later runs count it
    without listing it again. ``execution_id`` is the run that met it first (``NULL`` for
    repairs carried over from placeholder rows by the schema upgrade).
    """

    __tablename__ = "external_networking_repair"

    table_name: Mapped[str] = mapped_column(Text, primary_key=True)
    row_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    zone_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    blueprint_id: Mapped[UUID | None] = mapped_column(Uuid)
    execution_id: Mapped[UUID | None] = mapped_column(Uuid)
    time_recorded: Mapped[datetime] = mapped_column(TIMESTAMPTZ)

    __table_args__ = (
        CheckConstraint(
            "table_name IN ('external_ip', 'service_network_interface')",
            name="external_networking_repair_table_name",
        ),
    )


class Blueprint(Base):
    """``blueprint``: a stored blueprint's own fields (its sleds, disks and zones are rows of
    the ``bp_*`` tables).
    """

    __tablename__ = "blueprint"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    parent_blueprint_id: Mapped[UUID | None] = mapped_column(Uuid)
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    creator: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text)
    external_networking_generation: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_blueprint_time_created", "time_created"),)


#: Upstream's CHECK on the columns of an expunged disposition (zones and disks alike).
EXPUNGED_DISPOSITION_PROPERTIES = (
    "(disposition != 'expunged' AND disposition_expunged_as_of_generation IS NULL"
    " AND NOT disposition_expunged_ready_for_cleanup)"
    " OR (disposition = 'expunged' AND disposition_expunged_as_of_generation IS NOT NULL)"
)


class BpSledMetadata(Base):
    """A sled of a blueprint (upstream's ``bp_sled_metadata``)."""

    __tablename__ = "bp_sled_metadata"

    blueprint_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    sled_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    sled_state: Mapped[SledState] = mapped_column(SLED_STATE)


class BpOmicronPhysicalDisk(Base):
    """A disk of a blueprint's sled (upstream's ``bp_omicron_physical_disk``)."""

    __tablename__ = "bp_omicron_physical_disk"

    blueprint_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    sled_id: Mapped[UUID] = mapped_column(Uuid)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    pool_id: Mapped[UUID] = mapped_column(Uuid)
    disposition: Mapped[BpDisposition] = mapped_column(BP_PHYSICAL_DISK_DISPOSITION)
    disposition_expunged_as_of_generation: Mapped[int | None] = mapped_column(BigInteger)
    disposition_expunged_ready_for_cleanup: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        CheckConstraint(EXPUNGED_DISPOSITION_PROPERTIES, name="expunged_disposition_properties"),
    )


class BpOmicronZone(Base):
    """A zone of a blueprint (upstream's ``bp_omicron_zone``, the columns this system uses).

    ``second_service_ip`` holds the external IP of Nexus and external DNS zones; ``snat_*``
    boundary NTP's; ``external_ip_id`` the row id of either; ``bp_nic_id`` the zone's NIC in
    ``bp_omicron_zone_nic``.
    """

    __tablename__ = "bp_omicron_zone"

    blueprint_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    sled_id: Mapped[UUID] = mapped_column(Uuid)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    zone_type: Mapped[BpZoneType] = mapped_column(ZONE_TYPE)
    second_service_ip: Mapped[IpAddress | None] = mapped_column(INET)
    bp_nic_id: Mapped[UUID | None] = mapped_column(Uuid)
    snat_ip: Mapped[IpAddress | None] = mapped_column(INET)
    snat_first_port: Mapped[int | None] = mapped_column(Integer)
    snat_last_port: Mapped[int | None] = mapped_column(Integer)
    external_ip_id: Mapped[UUID | None] = mapped_column(Uuid)
    filesystem_pool: Mapped[UUID] = mapped_column(Uuid)
    disposition: Mapped[BpDisposition] = mapped_column(BP_ZONE_DISPOSITION)
    disposition_expunged_as_of_generation: Mapped[int | None] = mapped_column(BigInteger)
    disposition_expunged_ready_for_cleanup: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        CheckConstraint(EXPUNGED_DISPOSITION_PROPERTIES, name="expunged_disposition_properties"),
        CheckConstraint(
            "snat_first_port IS NULL OR snat_first_port BETWEEN 0 AND 65535",
            name="bp_omicron_zone_snat_first_port_check",
        ),
        CheckConstraint(
            "snat_last_port IS NULL OR snat_last_port BETWEEN 0 AND 65535",
            name="bp_omicron_zone_snat_last_port_check",
        ),
    )


class BpOmicronZoneNic(Base):
    """A zone's service NIC in a blueprint (upstream's ``bp_omicron_zone_nic``): ``ip`` and
    ``subnet`` are IPv4, ``ipv6`` and ``ipv6_subnet`` IPv6."""

    __tablename__ = "bp_omicron_zone_nic"

    blueprint_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    ip: Mapped[IpAddress | None] = mapped_column(INET)
    mac: Mapped[int] = mapped_column(BigInteger)
    subnet: Mapped[str | None] = mapped_column(INET)
    vni: Mapped[int] = mapped_column(BigInteger)
    is_primary: Mapped[bool] = mapped_column(Boolean)
    slot: Mapped[int] = mapped_column(SmallInteger)
    ipv6: Mapped[IpAddress | None] = mapped_column(INET)
    ipv6_subnet: Mapped[str | None] = mapped_column(INET)

    __table_args__ = (
        CheckConstraint("ip IS NOT NULL OR ipv6 IS NOT NULL", name="at_least_one_ip_address"),
        CheckConstraint(
            "(ip IS NULL) = (subnet IS NULL) AND (ipv6 IS NULL) = (ipv6_subnet IS NULL)",
            name="ip_and_subnet_consistent",
        ),
    )


class BpOmicronZoneNicTransitIp(Base):
    """A transit network of a blueprint's service NIC, in the blueprint's order.

    This project's own table: upstream's ``bp_omicron_zone_nic`` has no column for them (its
    service NICs have none), and keeping them apart leaves that table as upstream has it.
    """

    __tablename__ = "bp_omicron_zone_nic_transit_ip"

    blueprint_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    nic_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    network: Mapped[str] = mapped_column(INET)


class BpTarget(Base):
    """``bp_target``: the history of targets, one row per version."""

    __tablename__ = "bp_target"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    blueprint_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("blueprint.id"))
    enabled: Mapped[bool] = mapped_column(Boolean)
    time_made_target: Mapped[datetime] = mapped_column(TIMESTAMPTZ)

    __table_args__ = (CheckConstraint("version > 0", name="ck_bp_target_version_positive"),)


class Sled(Base):
    """``sled``: a sled of the planning input, with its policy and state."""

    __tablename__ = "sled"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    time_created: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_modified: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    policy: Mapped[SledPolicy] = mapped_column(SLED_POLICY)
    state: Mapped[SledState] = mapped_column(SLED_STATE)


class PhysicalDisk(Base):
    """``physical_disk``: a disk of the planning input and its zpool."""

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
    """``bp_execution``: one executor run, its outcome and its JSON report."""

    __tablename__ = "bp_execution"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    blueprint_id: Mapped[UUID] = mapped_column(Uuid)
    time_started: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_finished: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    outcome: Mapped[ExecutionOutcome] = mapped_column(EXECUTION_OUTCOME)
    failed_step: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    #: Renewed by the running executor every few seconds (``NULL`` for runs of revision 0003).
    time_heartbeat: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)
    #: When the run was found to have stopped without recording its end.
    time_interrupted: Mapped[datetime | None] = mapped_column(TIMESTAMPTZ)

    __table_args__ = (Index("ix_bp_execution_time_started", "time_started"),)


class SchemaLock(Base):
    """Who is changing the schema (``recon db upgrade``/``downgrade``): at most one row.

    Created by :mod:`reconfigurator.db.schema_lock` before any revision runs (it must exist
    before the first one), not by a revision; a crashed holder's row expires.
    """

    __tablename__ = "recon_schema_lock"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    time_acquired: Mapped[datetime] = mapped_column(TIMESTAMPTZ)
    time_expires: Mapped[datetime] = mapped_column(TIMESTAMPTZ)


metadata: Final = Base.metadata

#: Views, kept apart from :data:`metadata` (which migrations compare with the database).
view_metadata: Final = MetaData()

#: Upstream's view of service NICs over ``network_interface`` (read-only).
service_network_interface_view: Final = Table(
    "service_network_interface",
    view_metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(63)),
    Column("description", String(512)),
    Column("time_created", TIMESTAMPTZ),
    Column("time_modified", TIMESTAMPTZ),
    Column("time_deleted", TIMESTAMPTZ),
    Column("service_id", Uuid),
    Column("vpc_id", Uuid),
    Column("subnet_id", Uuid),
    Column("mac", BigInteger),
    Column("ipv4", INET),
    Column("ipv6", INET),
    Column("slot", SmallInteger),
    Column("is_primary", Boolean),
)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model maps one table
        raise TypeError(f"{model.__name__} does not map a table")
    return table


# Core tables for set-based statements (SQLAlchemy Core), typed as ``Table``.
ip_pool_table: Final = _table(IpPool)
ip_pool_range_table: Final = _table(IpPoolRange)
external_ip_table: Final = _table(ExternalIp)
network_interface_table: Final = _table(NetworkInterface)
external_networking_repair_table: Final = _table(ExternalNetworkingRepair)
blueprint_table: Final = _table(Blueprint)
bp_sled_metadata_table: Final = _table(BpSledMetadata)
bp_omicron_physical_disk_table: Final = _table(BpOmicronPhysicalDisk)
bp_omicron_zone_table: Final = _table(BpOmicronZone)
bp_omicron_zone_nic_table: Final = _table(BpOmicronZoneNic)
bp_omicron_zone_nic_transit_ip_table: Final = _table(BpOmicronZoneNicTransitIp)
bp_target_table: Final = _table(BpTarget)
sled_table: Final = _table(Sled)
physical_disk_table: Final = _table(PhysicalDisk)
bp_execution_table: Final = _table(BpExecution)
schema_lock_table: Final = _table(SchemaLock)
