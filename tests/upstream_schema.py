"""Upstream's tables, created by DDL of the tests' own, and rows shaped as upstream writes them.

The DDL is written from the column lists of omicron's ``schema/crdb/dbinit.sql`` at commit
``b848b6df85531e85aaaa6d434dfb5bfd45bb42ce``: the enums ``ip_kind``, ``ip_attach_state``,
``ip_version``, ``ip_pool_type``, ``ip_pool_assignment`` and ``network_interface_kind``; the
tables ``ip_pool``, ``ip_pool_range``, ``external_ip`` and ``network_interface`` with every
column, NOT NULL, default, CHECK and index upstream gives them (partial unique indexes
included); the ``service_network_interface`` view; ``bp_target``, ``blueprint``,
``bp_sled_metadata``, ``bp_omicron_physical_disk``, ``bp_omicron_zone`` and
``bp_omicron_zone_nic`` with every column, NOT NULL and CHECK, and the enums they use.
CockroachDB-only syntax is dropped or spelled as PostgreSQL spells it (no ``omicron.public.``
prefix or ``STORING``, ``STRING(n)`` is ``VARCHAR(n)``, the empty array default is typed).
Nothing here is taken from this project's schema or migrations, so the tests that use it hold
the project's queries to upstream's tables.

The row builders write what upstream writes for a zone of a blueprint (a service external IP
and a service vNIC), for a blueprint (its ``blueprint`` and ``bp_*`` rows), for a guest
instance, and for an IP pool and its ranges. Fixed values are
upstream's own (services VPC, service subnets, name prefixes), restated here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from ipaddress import ip_interface
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.engine import Connection

from reconfigurator.blueprint.model import Blueprint, BlueprintZone, SnatExternalIp

UPSTREAM_COMMIT: Final = "b848b6df85531e85aaaa6d434dfb5bfd45bb42ce"

#: The relations :data:`DDL` creates (tables and the view).
UPSTREAM_TABLES: Final = (
    "ip_pool",
    "ip_pool_range",
    "external_ip",
    "network_interface",
    "blueprint",
    "bp_target",
    "bp_sled_metadata",
    "bp_omicron_physical_disk",
    "bp_omicron_zone",
    "bp_omicron_zone_nic",
)
UPSTREAM_VIEWS: Final = ("service_network_interface",)

DDL: Final = (
    # --- enums --------------------------------------------------------------------------
    "CREATE TYPE ip_kind AS ENUM ('snat', 'ephemeral', 'floating')",
    "CREATE TYPE ip_attach_state AS ENUM ('detached', 'attached', 'detaching', 'attaching')",
    "CREATE TYPE ip_version AS ENUM ('v4', 'v6')",
    "CREATE TYPE ip_pool_assignment AS ENUM ('silos', 'system_services')",
    "CREATE TYPE ip_pool_type AS ENUM ('unicast', 'multicast')",
    "CREATE TYPE network_interface_kind AS ENUM ('instance', 'service', 'probe')",
    # --- network_interface: NICs of instances, services and probes ----------------------
    """
    CREATE TABLE network_interface (
        id UUID PRIMARY KEY,
        name VARCHAR(63) NOT NULL,
        description VARCHAR(512) NOT NULL,
        time_created TIMESTAMPTZ NOT NULL,
        time_modified TIMESTAMPTZ NOT NULL,
        time_deleted TIMESTAMPTZ,
        kind network_interface_kind NOT NULL,
        -- the instance, service (zone) or probe, per kind
        parent_id UUID NOT NULL,
        vpc_id UUID NOT NULL,
        subnet_id UUID NOT NULL,
        -- a 48-bit MAC held in the low bytes of a 64-bit integer
        mac INT8 NOT NULL,
        -- the IPv4 address (the column kept its first name)
        ip INET,
        slot INT2 NOT NULL CHECK (slot >= 0 AND slot < 8),
        is_primary BOOL NOT NULL,
        -- further IPv4 networks the NIC may use
        transit_ips INET[] NOT NULL DEFAULT ARRAY[]::INET[],
        ipv6 INET,
        transit_ips_v6 INET[] NOT NULL DEFAULT ARRAY[]::INET[],
        CONSTRAINT at_least_one_ip_address CHECK (ip IS NOT NULL OR ipv6 IS NOT NULL),
        CONSTRAINT transit_ips_require_ip_address CHECK (
            (array_length(transit_ips, 1) = 0 OR ip IS NOT NULL) AND
            (array_length(transit_ips_v6, 1) = 0 OR ipv6 IS NOT NULL)
        )
    )
    """,
    "CREATE INDEX instance_network_interface_mac ON network_interface (mac)",
    """
    CREATE VIEW service_network_interface AS
    SELECT id, name, description, time_created, time_modified, time_deleted,
           parent_id AS service_id, vpc_id, subnet_id, mac, ip AS ipv4, ipv6, slot,
           is_primary
    FROM network_interface
    WHERE kind = 'service'
    """,
    """
    CREATE UNIQUE INDEX network_interface_subnet_id_ipv4_key
        ON network_interface (subnet_id, ip) WHERE time_deleted IS NULL AND ip IS NOT NULL
    """,
    """
    CREATE UNIQUE INDEX network_interface_subnet_id_ipv6_key
        ON network_interface (subnet_id, ipv6) WHERE time_deleted IS NULL AND ipv6 IS NOT NULL
    """,
    """
    CREATE UNIQUE INDEX network_interface_vpc_id_mac_key
        ON network_interface (vpc_id, mac) WHERE time_deleted IS NULL
    """,
    """
    CREATE UNIQUE INDEX network_interface_parent_id_name_kind_key
        ON network_interface (parent_id, name, kind) WHERE time_deleted IS NULL
    """,
    """
    CREATE UNIQUE INDEX network_interface_parent_id_slot_key
        ON network_interface (parent_id, slot) WHERE time_deleted IS NULL
    """,
    "CREATE INDEX network_interface_by_parent ON network_interface (parent_id)",
    """
    CREATE INDEX v2p_mapping_details
        ON network_interface (time_deleted, kind, subnet_id, vpc_id, parent_id)
    """,
    # --- ip_pool and its ranges ---------------------------------------------------------
    """
    CREATE TABLE ip_pool (
        id UUID PRIMARY KEY,
        name VARCHAR(63) NOT NULL,
        description VARCHAR(512) NOT NULL,
        time_created TIMESTAMPTZ NOT NULL,
        time_modified TIMESTAMPTZ NOT NULL,
        time_deleted TIMESTAMPTZ,
        -- generation of the pool's children (its ranges)
        rcgen INT8 NOT NULL,
        ip_version ip_version NOT NULL,
        pool_type ip_pool_type NOT NULL DEFAULT 'unicast',
        assignment ip_pool_assignment NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX lookup_pool_by_name ON ip_pool (name) WHERE time_deleted IS NULL",
    "CREATE INDEX lookup_ip_pool_by_type ON ip_pool (pool_type) WHERE time_deleted IS NULL",
    """
    CREATE TABLE ip_pool_range (
        id UUID PRIMARY KEY,
        time_created TIMESTAMPTZ NOT NULL,
        time_modified TIMESTAMPTZ NOT NULL,
        time_deleted TIMESTAMPTZ,
        first_address INET NOT NULL,
        -- inclusive
        last_address INET NOT NULL,
        ip_pool_id UUID NOT NULL,
        -- generation of the addresses handed out of the range
        rcgen INT8 NOT NULL,
        CONSTRAINT check_address_order CHECK (first_address <= last_address)
    )
    """,
    """
    CREATE UNIQUE INDEX lookup_pool_range_by_first_address
        ON ip_pool_range (first_address) WHERE time_deleted IS NULL
    """,
    """
    CREATE UNIQUE INDEX lookup_pool_range_by_last_address
        ON ip_pool_range (last_address) WHERE time_deleted IS NULL
    """,
    """
    CREATE INDEX ip_pool_range_by_pool_id
        ON ip_pool_range (ip_pool_id) WHERE time_deleted IS NULL
    """,
    # --- external_ip: addresses of instances and services -------------------------------
    """
    CREATE TABLE external_ip (
        id UUID PRIMARY KEY,
        name VARCHAR(63),
        description VARCHAR(512),
        time_created TIMESTAMPTZ NOT NULL,
        time_modified TIMESTAMPTZ NOT NULL,
        time_deleted TIMESTAMPTZ,
        ip_pool_id UUID NOT NULL,
        ip_pool_range_id UUID NOT NULL,
        is_service BOOL NOT NULL,
        -- the instance or service (zone)
        parent_id UUID,
        kind ip_kind NOT NULL,
        ip INET NOT NULL,
        -- ports, both ends inclusive
        first_port INT4 NOT NULL,
        last_port INT4 NOT NULL,
        project_id UUID,
        state ip_attach_state NOT NULL,
        is_probe BOOL NOT NULL DEFAULT false,
        CONSTRAINT fips_and_services_need_names CHECK (
            (is_service = TRUE AND name IS NOT NULL) OR
            (is_service = FALSE AND kind != 'floating' AND name IS NULL) OR
            (is_service = FALSE AND kind = 'floating' AND name IS NOT NULL)
        ),
        CONSTRAINT fips_and_services_need_descriptions CHECK (
            (is_service = TRUE AND description IS NOT NULL) OR
            (is_service = FALSE AND kind != 'floating' AND description IS NULL) OR
            (is_service = FALSE AND kind = 'floating' AND description IS NOT NULL)
        ),
        CONSTRAINT null_project_id CHECK (
            (kind = 'floating' AND is_service = FALSE AND project_id IS NOT NULL) OR
            ((kind != 'floating' OR is_service = TRUE) AND project_id IS NULL)
        ),
        CONSTRAINT null_snat_parent_id CHECK ((kind != 'snat') OR (parent_id IS NOT NULL)),
        CONSTRAINT ephemeral_kind_service CHECK (
            (kind = 'ephemeral' AND is_service = FALSE) OR (kind != 'ephemeral')
        ),
        CONSTRAINT detached_null_parent_id CHECK (
            (state = 'detached') OR (parent_id IS NOT NULL)
        )
    )
    """,
    """
    CREATE INDEX external_ip_by_pool
        ON external_ip (ip_pool_id, ip_pool_range_id, ip) WHERE time_deleted IS NULL
    """,
    """
    CREATE UNIQUE INDEX external_ip_unique
        ON external_ip (ip, first_port) WHERE time_deleted IS NULL
    """,
    """
    CREATE UNIQUE INDEX lookup_external_ip_by_parent
        ON external_ip (parent_id, id) WHERE parent_id IS NOT NULL AND time_deleted IS NULL
    """,
    """
    CREATE UNIQUE INDEX one_ephemeral_ip_per_instance_per_version
        ON external_ip (parent_id, (family(ip)))
        WHERE kind = 'ephemeral' AND parent_id IS NOT NULL AND time_deleted IS NULL
    """,
    """
    CREATE UNIQUE INDEX lookup_floating_ip_by_name ON external_ip (name)
        WHERE kind = 'floating' AND time_deleted IS NULL AND project_id IS NULL
    """,
    """
    CREATE UNIQUE INDEX lookup_floating_ip_by_name_and_project ON external_ip (project_id, name)
        WHERE kind = 'floating' AND time_deleted IS NULL AND project_id IS NOT NULL
    """,
    # --- blueprints: every column, and the target history -------------------------------
    "CREATE TYPE bp_source AS ENUM ('rss', 'planner', 'reconfigurator_cli_edit', 'test')",
    "CREATE TYPE sled_state AS ENUM ('active', 'decommissioned')",
    "CREATE TYPE bp_sled_measurements AS ENUM ('unknown', 'install_dataset', 'artifacts')",
    "CREATE TYPE sled_update_availability AS ENUM ('available', 'evacuating')",
    """
    CREATE TYPE reconfigurator_disruption_policy AS ENUM
        ('terminate', 'migrate_or_terminate', 'migrate_only')
    """,
    """
    CREATE TYPE zone_type AS ENUM (
        'boundary_ntp', 'clickhouse', 'clickhouse_keeper', 'clickhouse_server',
        'cockroach_db', 'crucible', 'crucible_pantry', 'external_dns', 'internal_dns',
        'internal_ntp', 'nexus', 'oximeter'
    )
    """,
    "CREATE TYPE bp_zone_disposition AS ENUM ('in_service', 'expunged')",
    "CREATE TYPE bp_physical_disk_disposition AS ENUM ('in_service', 'expunged')",
    "CREATE TYPE bp_zone_image_source AS ENUM ('install_dataset', 'artifact')",
    """
    CREATE TABLE blueprint (
        id UUID PRIMARY KEY,
        parent_blueprint_id UUID,
        time_created TIMESTAMPTZ NOT NULL,
        creator TEXT NOT NULL,
        comment TEXT NOT NULL,
        internal_dns_version INT8 NOT NULL,
        external_dns_version INT8 NOT NULL,
        cockroachdb_fingerprint TEXT NOT NULL,
        cockroachdb_setting_preserve_downgrade TEXT,
        target_release_minimum_generation INT8 NOT NULL,
        nexus_generation INT8 NOT NULL,
        source bp_source NOT NULL,
        external_networking_generation INT8 NOT NULL
    )
    """,
    """
    CREATE TABLE bp_sled_metadata (
        blueprint_id UUID NOT NULL,
        sled_id UUID NOT NULL,
        sled_state sled_state NOT NULL,
        sled_agent_generation INT8 NOT NULL,
        remove_mupdate_override UUID,
        host_phase_2_desired_slot_a VARCHAR(64),
        host_phase_2_desired_slot_b VARCHAR(64),
        subnet INET NOT NULL,
        last_allocated_ip_subnet_offset INT4
            CHECK (last_allocated_ip_subnet_offset BETWEEN 0 AND 65535) NOT NULL,
        measurements bp_sled_measurements NOT NULL,
        update_disposition_generation INT8 NOT NULL,
        update_availability sled_update_availability NOT NULL,
        update_disruption_policy reconfigurator_disruption_policy,
        CONSTRAINT update_disruption_policy_set_iff_evacuating CHECK (
            (update_availability = 'evacuating') = (update_disruption_policy IS NOT NULL)
        ),
        PRIMARY KEY (blueprint_id, sled_id)
    )
    """,
    """
    CREATE TABLE bp_omicron_physical_disk (
        blueprint_id UUID NOT NULL,
        sled_id UUID NOT NULL,
        vendor TEXT NOT NULL,
        serial TEXT NOT NULL,
        model TEXT NOT NULL,
        id UUID NOT NULL,
        pool_id UUID NOT NULL,
        disposition bp_physical_disk_disposition NOT NULL,
        disposition_expunged_as_of_generation INT,
        disposition_expunged_ready_for_cleanup BOOL NOT NULL,
        PRIMARY KEY (blueprint_id, id),
        CONSTRAINT expunged_disposition_properties CHECK (
            (disposition != 'expunged'
                AND disposition_expunged_as_of_generation IS NULL
                AND NOT disposition_expunged_ready_for_cleanup)
            OR (disposition = 'expunged' AND disposition_expunged_as_of_generation IS NOT NULL)
        )
    )
    """,
    """
    CREATE TABLE bp_omicron_zone (
        blueprint_id UUID NOT NULL,
        sled_id UUID NOT NULL,
        id UUID NOT NULL,
        zone_type zone_type NOT NULL,
        primary_service_ip INET NOT NULL,
        primary_service_port INT4 CHECK (primary_service_port BETWEEN 0 AND 65535) NOT NULL,
        second_service_ip INET,
        second_service_port INT4
            CHECK (second_service_port IS NULL OR second_service_port BETWEEN 0 AND 65535),
        dataset_zpool_name TEXT,
        bp_nic_id UUID,
        dns_gz_address INET,
        dns_gz_address_index INT8,
        ntp_ntp_servers TEXT[],
        ntp_dns_servers INET[],
        ntp_domain TEXT,
        nexus_external_tls BOOLEAN,
        nexus_external_dns_servers INET[],
        snat_ip INET,
        snat_first_port INT4
            CHECK (snat_first_port IS NULL OR snat_first_port BETWEEN 0 AND 65535),
        snat_last_port INT4
            CHECK (snat_last_port IS NULL OR snat_last_port BETWEEN 0 AND 65535),
        external_ip_id UUID,
        filesystem_pool UUID NOT NULL,
        disposition bp_zone_disposition NOT NULL,
        disposition_expunged_as_of_generation INT,
        disposition_expunged_ready_for_cleanup BOOL NOT NULL,
        image_source bp_zone_image_source NOT NULL,
        image_artifact_sha256 VARCHAR(64),
        nexus_generation INT8,
        nexus_lockstep_port INT4
            CHECK (nexus_lockstep_port IS NULL OR nexus_lockstep_port BETWEEN 0 AND 65535),
        PRIMARY KEY (blueprint_id, id),
        CONSTRAINT expunged_disposition_properties CHECK (
            (disposition != 'expunged'
                AND disposition_expunged_as_of_generation IS NULL
                AND NOT disposition_expunged_ready_for_cleanup)
            OR (disposition = 'expunged' AND disposition_expunged_as_of_generation IS NOT NULL)
        ),
        CONSTRAINT zone_image_source_artifact_hash_present CHECK (
            (image_source = 'artifact' AND image_artifact_sha256 IS NOT NULL)
            OR (image_source != 'artifact' AND image_artifact_sha256 IS NULL)
        ),
        CONSTRAINT nexus_generation_for_nexus_zones CHECK (
            (zone_type = 'nexus' AND nexus_generation IS NOT NULL)
            OR (zone_type != 'nexus' AND nexus_generation IS NULL)
        ),
        CONSTRAINT nexus_lockstep_port_for_nexus_zones CHECK (
            (zone_type = 'nexus' AND nexus_lockstep_port IS NOT NULL)
            OR (zone_type != 'nexus' AND nexus_lockstep_port IS NULL)
        )
    )
    """,
    """
    CREATE TABLE bp_omicron_zone_nic (
        blueprint_id UUID NOT NULL,
        id UUID NOT NULL,
        name TEXT NOT NULL,
        ip INET,
        mac INT8 NOT NULL,
        subnet INET,
        vni INT8 NOT NULL,
        is_primary BOOLEAN NOT NULL,
        slot INT2 NOT NULL,
        ipv6 INET,
        ipv6_subnet INET,
        PRIMARY KEY (blueprint_id, id),
        CONSTRAINT at_least_one_ip_address CHECK (ip IS NOT NULL OR ipv6 IS NOT NULL),
        CONSTRAINT ip_and_subnet_consistent CHECK (
            (ip IS NULL) = (subnet IS NULL) AND (ipv6 IS NULL) = (ipv6_subnet IS NULL)
        )
    )
    """,
    """
    CREATE TABLE bp_target (
        version INT8 PRIMARY KEY,
        blueprint_id UUID NOT NULL,
        enabled BOOL NOT NULL,
        time_made_target TIMESTAMPTZ NOT NULL
    )
    """,
)

# --- upstream's fixed data, restated ------------------------------------------------------

#: The built-in services VPC.
SERVICES_VPC_ID: Final = uuid.UUID("001de000-074c-4000-8000-000000000000")
#: The built-in VPC subnet of each zone kind with external networking.
SERVICE_SUBNET_IDS: Final = {
    "external_dns": uuid.UUID("001de000-c470-4000-8000-000000000001"),
    "nexus": uuid.UUID("001de000-c470-4000-8000-000000000002"),
    "boundary_ntp": uuid.UUID("001de000-c470-4000-8000-000000000003"),
}
#: The prefix of the names upstream gives a zone's external IP and vNIC.
NAME_PREFIXES: Final = {"external_dns": "external-dns", "nexus": "nexus", "boundary_ntp": "ntp"}

WHEN: Final = datetime(2026, 1, 1, tzinfo=UTC)


def create_tables(conn: Connection) -> None:
    """Create upstream's tables, view and enums (on an empty database)."""
    for statement in DDL:
        conn.execute(text(statement))


def insert(conn: Connection, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert rows into ``table`` by plain SQL (one statement per row)."""
    for row in rows:
        columns = ", ".join(row)
        values = ", ".join(f":{column}" for column in row)
        conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), dict(row))


# --- rows -----------------------------------------------------------------------------------


def ip_pool(
    pool_id: uuid.UUID,
    name: str,
    *,
    assignment: str = "system_services",
    ip_version: str = "v4",
    rcgen: int = 1,
) -> dict[str, Any]:
    """An ``ip_pool`` row (``rcgen`` counts the ranges added to it)."""
    return {
        "id": pool_id,
        "name": name,
        "description": f"{name} pool",
        "time_created": WHEN,
        "time_modified": WHEN,
        "time_deleted": None,
        "rcgen": rcgen,
        "ip_version": ip_version,
        "pool_type": "unicast",
        "assignment": assignment,
    }


def ip_pool_range(
    range_id: uuid.UUID,
    pool_id: uuid.UUID,
    first: str,
    last: str,
    *,
    rcgen: int = 0,
    time_deleted: datetime | None = None,
) -> dict[str, Any]:
    """An ``ip_pool_range`` row (``rcgen`` counts the addresses handed out of it)."""
    return {
        "id": range_id,
        "time_created": WHEN,
        "time_modified": WHEN,
        "time_deleted": time_deleted,
        "first_address": first,
        "last_address": last,
        "ip_pool_id": pool_id,
        "rcgen": rcgen,
    }


def _zone_networking(zone: BlueprintZone) -> Any:
    networking = zone.networking
    if networking is None:
        raise ValueError(f"zone {zone.id} has no external networking")
    return networking


def zone_name(zone: BlueprintZone) -> str:
    """The name upstream gives a zone's external IP and vNIC."""
    return f"{NAME_PREFIXES[_zone_networking(zone).kind]}-{zone.id}"


def zone_external_ip(
    zone: BlueprintZone,
    pool_id: uuid.UUID,
    range_id: uuid.UUID,
    *,
    time_deleted: datetime | None = None,
) -> dict[str, Any]:
    """The ``external_ip`` row upstream allocates for a zone: floating with every port for
    Nexus and external DNS, SNAT with the zone's ports for boundary NTP, attached, named as
    the zone's vNIC and described by the zone kind."""
    networking = _zone_networking(zone)
    external = networking.external_ip
    snat = isinstance(external, SnatExternalIp)
    return {
        "id": external.id,
        "name": zone_name(zone),
        "description": networking.kind,
        "time_created": WHEN,
        "time_modified": WHEN,
        "time_deleted": time_deleted,
        "ip_pool_id": pool_id,
        "ip_pool_range_id": range_id,
        "is_service": True,
        "parent_id": zone.id,
        "kind": "snat" if snat else "floating",
        "ip": str(external.ip),
        "first_port": external.first_port if snat else 0,
        "last_port": external.last_port if snat else 65535,
        "project_id": None,
        "state": "attached",
        "is_probe": False,
    }


def zone_nic(zone: BlueprintZone, *, time_deleted: datetime | None = None) -> dict[str, Any]:
    """The ``network_interface`` row upstream creates for a zone's vNIC: kind ``service``,
    the zone as parent, the zone kind's subnet in the services VPC."""
    networking = _zone_networking(zone)
    nic = networking.nic
    return {
        "id": nic.id,
        "name": nic.name,
        "description": f"{networking.kind} service vNIC",
        "time_created": WHEN,
        "time_modified": WHEN,
        "time_deleted": time_deleted,
        "kind": "service",
        "parent_id": zone.id,
        "vpc_id": SERVICES_VPC_ID,
        "subnet_id": SERVICE_SUBNET_IDS[networking.kind],
        "mac": nic.mac_int,
        "ip": str(nic.ip) if nic.ip is not None else None,
        "slot": nic.slot,
        "is_primary": nic.primary,
        "transit_ips": [ip_interface(n) for n in nic.transit_ips if n.version == 4],
        "ipv6": str(nic.ipv6) if nic.ipv6 is not None else None,
        "transit_ips_v6": [ip_interface(n) for n in nic.transit_ips if n.version == 6],
    }


def instance_nic(
    instance_id: uuid.UUID,
    *,
    vpc_id: uuid.UUID,
    subnet_id: uuid.UUID,
    ip: str,
    mac: int,
) -> dict[str, Any]:
    """A guest instance's primary NIC in a VPC of its own."""
    return {
        "id": uuid.UUID(int=instance_id.int ^ 1),
        "name": "net0",
        "description": "primary interface",
        "time_created": WHEN,
        "time_modified": WHEN,
        "time_deleted": None,
        "kind": "instance",
        "parent_id": instance_id,
        "vpc_id": vpc_id,
        "subnet_id": subnet_id,
        "mac": mac,
        "ip": ip,
        "slot": 0,
        "is_primary": True,
        "transit_ips": [],
        "ipv6": None,
        "transit_ips_v6": [],
    }


def instance_ephemeral_ip(
    instance_id: uuid.UUID, pool_id: uuid.UUID, range_id: uuid.UUID, ip: str
) -> dict[str, Any]:
    """A guest instance's ephemeral external IP: unnamed, no project, every port."""
    return {
        "id": uuid.UUID(int=instance_id.int ^ 2),
        "name": None,
        "description": None,
        "time_created": WHEN,
        "time_modified": WHEN,
        "time_deleted": None,
        "ip_pool_id": pool_id,
        "ip_pool_range_id": range_id,
        "is_service": False,
        "parent_id": instance_id,
        "kind": "ephemeral",
        "ip": ip,
        "first_port": 0,
        "last_port": 65535,
        "project_id": None,
        "state": "attached",
        "is_probe": False,
    }


def blueprint_row(blueprint: Blueprint) -> dict[str, Any]:
    """The ``blueprint`` row upstream writes, its columns of other subsystems made up."""
    return {
        "id": blueprint.id,
        "parent_blueprint_id": blueprint.parent_blueprint_id,
        "time_created": blueprint.time_created,
        "creator": blueprint.creator,
        "comment": blueprint.comment,
        "internal_dns_version": 3,
        "external_dns_version": 2,
        "cockroachdb_fingerprint": "fingerprint",
        "cockroachdb_setting_preserve_downgrade": None,
        "target_release_minimum_generation": 1,
        "nexus_generation": 1,
        "source": "planner",
        "external_networking_generation": blueprint.external_networking_generation,
    }


def _disposition(item: Any) -> dict[str, Any]:
    disposition = item.disposition
    expunged = disposition.kind == "expunged"
    return {
        "disposition": disposition.kind,
        "disposition_expunged_as_of_generation": (
            disposition.as_of_generation if expunged else None
        ),
        "disposition_expunged_ready_for_cleanup": (
            disposition.ready_for_cleanup if expunged else False
        ),
    }


def blueprint_part_rows(blueprint: Blueprint) -> dict[str, list[dict[str, Any]]]:
    """The rows of upstream's ``bp_*`` tables for ``blueprint``, per table, with the columns
    this project does not model filled as upstream requires (underlay addresses, ports, image
    sources, a Nexus generation)."""
    rows: dict[str, list[dict[str, Any]]] = {
        "bp_sled_metadata": [],
        "bp_omicron_physical_disk": [],
        "bp_omicron_zone": [],
        "bp_omicron_zone_nic": [],
    }
    for index, sled in enumerate(blueprint.sleds):
        rows["bp_sled_metadata"].append(
            {
                "blueprint_id": blueprint.id,
                "sled_id": sled.id,
                "sled_state": sled.state.value,
                "sled_agent_generation": 4,
                "remove_mupdate_override": None,
                "host_phase_2_desired_slot_a": None,
                "host_phase_2_desired_slot_b": None,
                "subnet": f"fd00:1122:3344:{index + 101:x}::/64",
                "last_allocated_ip_subnet_offset": 32 + len(sled.zones),
                "measurements": "install_dataset",
                "update_disposition_generation": 1,
                "update_availability": "available",
                "update_disruption_policy": None,
            }
        )
        for number, disk in enumerate(sled.disks):
            rows["bp_omicron_physical_disk"].append(
                {
                    "blueprint_id": blueprint.id,
                    "sled_id": sled.id,
                    "vendor": "fake-vendor",
                    "serial": f"serial-{sled.id}-{number}",
                    "model": "fake-model",
                    "id": disk.id,
                    "pool_id": disk.pool_id,
                    **_disposition(disk),
                }
            )
        for number, zone in enumerate(sled.zones):
            networking = zone.networking
            nexus = zone.kind.value == "nexus"
            row: dict[str, Any] = {
                "blueprint_id": blueprint.id,
                "sled_id": sled.id,
                "id": zone.id,
                "zone_type": zone.kind.value,
                "primary_service_ip": f"fd00:1122:3344:{index + 101:x}::{number + 33:x}",
                "primary_service_port": 12221,
                "second_service_ip": None,
                "second_service_port": None,
                "dataset_zpool_name": f"oxp_{zone.filesystem_pool}",
                "bp_nic_id": None,
                "snat_ip": None,
                "snat_first_port": None,
                "snat_last_port": None,
                "external_ip_id": None,
                "filesystem_pool": zone.filesystem_pool,
                **_disposition(zone),
                "image_source": "install_dataset",
                "image_artifact_sha256": None,
                "nexus_generation": 1 if nexus else None,
                "nexus_lockstep_port": 12232 if nexus else None,
            }
            if networking is not None:
                external = networking.external_ip
                nic = networking.nic
                row["external_ip_id"] = external.id
                row["bp_nic_id"] = nic.id
                if isinstance(external, SnatExternalIp):
                    row |= {
                        "snat_ip": str(external.ip),
                        "snat_first_port": external.first_port,
                        "snat_last_port": external.last_port,
                    }
                else:
                    row |= {"second_service_ip": str(external.ip), "second_service_port": 443}
                rows["bp_omicron_zone_nic"].append(
                    {
                        "blueprint_id": blueprint.id,
                        "id": nic.id,
                        "name": nic.name,
                        "ip": str(nic.ip) if nic.ip is not None else None,
                        "mac": nic.mac_int,
                        "subnet": str(nic.subnet) if nic.subnet is not None else None,
                        "vni": nic.vni,
                        "is_primary": nic.primary,
                        "slot": nic.slot,
                        "ipv6": str(nic.ipv6) if nic.ipv6 is not None else None,
                        "ipv6_subnet": (
                            str(nic.ipv6_subnet) if nic.ipv6_subnet is not None else None
                        ),
                    }
                )
            rows["bp_omicron_zone"].append(row)
    return rows


def target_row(version: int, blueprint_id: uuid.UUID, *, enabled: bool = True) -> dict[str, Any]:
    """A ``bp_target`` row."""
    return {
        "version": version,
        "blueprint_id": blueprint_id,
        "enabled": enabled,
        "time_made_target": WHEN,
    }
