"""A blueprint as rows of upstream's blueprint tables, and back.

``blueprint`` holds one row per blueprint; ``bp_sled_metadata``, ``bp_omicron_physical_disk``,
``bp_omicron_zone`` and ``bp_omicron_zone_nic`` one per sled, disk, zone and service NIC, as
upstream stores them; ``bp_omicron_zone_nic_transit_ip`` (this project's own) a NIC's transit
networks. A zone's external IP lives in its zone row: ``second_service_ip`` for Nexus and
external DNS (a floating IP), ``snat_ip`` and its ports for boundary NTP, ``external_ip_id``
for both.

Rows are written with ``COPY … FROM STDIN``, one per table: the client streams them in small
messages (tens of KiB), so no single message comes near CockroachDB's 16 MiB limit however
large the blueprint, and the whole blueprint is one statement per table inside the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg import Connection as PsycopgConnection
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from reconfigurator.blueprint.model import (
    Blueprint,
    BlueprintZone,
    BoundaryNtpZone,
    ExpungedDisposition,
    ExternalDnsZone,
    NexusZone,
    ServiceNic,
    SnatExternalIp,
)
from reconfigurator.db.schema import (
    BpDisposition,
    blueprint_table,
    bp_omicron_physical_disk_table,
    bp_omicron_zone_nic_table,
    bp_omicron_zone_nic_transit_ip_table,
    bp_omicron_zone_table,
    bp_sled_metadata_table,
)
from reconfigurator.errors import BlueprintNotStorable
from reconfigurator.fixed_data import int_to_mac

SLED = bp_sled_metadata_table
DISK = bp_omicron_physical_disk_table
ZONE = bp_omicron_zone_table
NIC = bp_omicron_zone_nic_table
TRANSIT = bp_omicron_zone_nic_transit_ip_table

#: The columns written, per table, in COPY order.
SLED_COLUMNS: Final = ("blueprint_id", "sled_id", "sled_state")
DISK_COLUMNS: Final = (
    "blueprint_id",
    "sled_id",
    "id",
    "pool_id",
    "disposition",
    "disposition_expunged_as_of_generation",
    "disposition_expunged_ready_for_cleanup",
)
ZONE_COLUMNS: Final = (
    "blueprint_id",
    "sled_id",
    "id",
    "zone_type",
    "filesystem_pool",
    "disposition",
    "disposition_expunged_as_of_generation",
    "disposition_expunged_ready_for_cleanup",
    "external_ip_id",
    "second_service_ip",
    "snat_ip",
    "snat_first_port",
    "snat_last_port",
    "bp_nic_id",
)
NIC_COLUMNS: Final = (
    "blueprint_id",
    "id",
    "name",
    "ip",
    "mac",
    "subnet",
    "vni",
    "is_primary",
    "slot",
    "ipv6",
    "ipv6_subnet",
)
TRANSIT_COLUMNS: Final = ("blueprint_id", "nic_id", "position", "network")

Row = tuple[Any, ...]


def _disposition(zone_or_disk: Any) -> tuple[str, int | None, bool]:
    disposition = zone_or_disk.disposition
    if isinstance(disposition, ExpungedDisposition):
        return EXPUNGED, disposition.as_of_generation, disposition.ready_for_cleanup
    return IN_SERVICE, None, False


EXPUNGED: Final = BpDisposition.EXPUNGED.value
IN_SERVICE: Final = BpDisposition.IN_SERVICE.value
_NETWORKED: Final = (NexusZone, ExternalDnsZone, BoundaryNtpZone)


def _sled_rows(blueprint: Blueprint) -> Iterator[Row]:
    bp = blueprint.id
    for sled in blueprint.sleds:
        yield bp, sled.id, sled.state.value


def _disk_rows(blueprint: Blueprint) -> Iterator[Row]:
    bp = blueprint.id
    for sled in blueprint.sleds:
        sled_id = sled.id
        for disk in sled.disks:
            yield (bp, sled_id, disk.id, disk.pool_id, *_disposition(disk))


def _zone_rows(blueprint: Blueprint) -> Iterator[Row]:
    bp = blueprint.id
    for sled in blueprint.sleds:
        sled_id = sled.id
        for zone in sled.zones:
            zone_type = zone.zone_type
            disposition = zone.disposition
            if isinstance(disposition, ExpungedDisposition):
                state, as_of, ready = (
                    EXPUNGED,
                    disposition.as_of_generation,
                    disposition.ready_for_cleanup,
                )
            else:
                state, as_of, ready = IN_SERVICE, None, False
            networking: Row = _NONE6
            if isinstance(zone_type, _NETWORKED):
                external = zone_type.external_ip
                snat = isinstance(external, SnatExternalIp)
                networking = (
                    external.id,
                    None if snat else external.ip,
                    external.ip if snat else None,
                    external.first_port if snat else None,
                    external.last_port if snat else None,
                    zone_type.nic.id,
                )
            yield (
                bp,
                sled_id,
                zone.id,
                zone_type.kind,
                zone.filesystem_pool,
                state,
                as_of,
                ready,
                *networking,
            )


#: A zone without external networking: no external IP id, addresses, ports or NIC.
_NONE6: Final = (None,) * 6


def _mac_int(mac: str) -> int:
    """A validated ``aa:bb:cc:dd:ee:ff`` as its integer."""
    return int(mac.replace(":", ""), 16)


def _nic_rows(blueprint_id: UUID, nics: list[ServiceNic]) -> Iterator[Row]:
    for nic in nics:
        yield (
            blueprint_id,
            nic.id,
            nic.name,
            nic.ip,
            _mac_int(nic.mac),
            nic.subnet,
            nic.vni,
            nic.primary,
            nic.slot,
            nic.ipv6,
            nic.ipv6_subnet,
        )


def _transit_rows(blueprint_id: UUID, nics: list[ServiceNic]) -> Iterator[Row]:
    for nic in nics:
        if nic.transit_ips:
            for position, network in enumerate(nic.transit_ips):
                yield blueprint_id, nic.id, position, network


def storable_nics(blueprint: Blueprint) -> list[ServiceNic]:
    """Each NIC of the blueprint once, in zone order. Refuses a blueprint whose zones record
    one NIC id with different NICs: a NIC row is stored once per blueprint (upstream's key),
    so the second could not be stored; :class:`BlueprintNotStorable` names both zones."""
    owners: dict[UUID, BlueprintZone] = {}
    nics: list[ServiceNic] = []
    for zone in blueprint.all_zones():
        zone_type = zone.zone_type
        if not isinstance(zone_type, _NETWORKED):
            continue
        nic = zone_type.nic
        first = owners.setdefault(nic.id, zone)
        if first is zone:
            nics.append(nic)
        elif first.nic != nic:
            raise BlueprintNotStorable(
                blueprint.id,
                f"zones {first.id} and {zone.id} record NIC {nic.id} with different"
                " contents; a blueprint stores one NIC per id",
            )
    return nics


def _tables(blueprint: Blueprint) -> Iterator[tuple[str, Sequence[str], Iterator[Row]]]:
    """(table, its columns in COPY order, the blueprint's rows of it), in the order they are
    written; the rows are made as they are consumed."""
    nics = storable_nics(blueprint)
    yield SLED.name, SLED_COLUMNS, _sled_rows(blueprint)
    yield DISK.name, DISK_COLUMNS, _disk_rows(blueprint)
    yield ZONE.name, ZONE_COLUMNS, _zone_rows(blueprint)
    yield NIC.name, NIC_COLUMNS, _nic_rows(blueprint.id, nics)
    yield TRANSIT.name, TRANSIT_COLUMNS, _transit_rows(blueprint.id, nics)


def blueprint_rows(blueprint: Blueprint) -> list[tuple[str, Sequence[str], list[Row]]]:
    """Every row of ``blueprint`` but its ``blueprint`` row, per table, built in full
    (:func:`write_blueprint_rows` streams them instead)."""
    return [(table, columns, list(rows)) for table, columns, rows in _tables(blueprint)]


def driver_connection(conn: Connection) -> PsycopgConnection[Any]:
    """The psycopg connection under a SQLAlchemy connection (same transaction)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, PsycopgConnection):  # pragma: no cover - psycopg is the driver
        raise TypeError(f"expected a psycopg connection, got {type(driver).__name__}")
    return driver


def copy_rows(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
    """``COPY table (columns) FROM STDIN`` of ``rows``, in the caller's transaction.

    psycopg formats the rows and sends them in messages of about 32 KiB; a table with no rows
    sends nothing.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    try:
        with driver_connection(conn).cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            write(first)
            for row in iterator:
                write(row)
    except psycopg.Error as exc:
        # As SQLAlchemy reports any other statement's error, so that the retry helper sees
        # a serialization failure here as it does everywhere else.
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def write_blueprint_rows(conn: Connection, blueprint: Blueprint) -> None:
    """Write every row of ``blueprint`` but its ``blueprint`` row (one COPY per table).

    Each row goes to the server as it is made and is freed right after: a blueprint of
    100,000 zones never exists twice in memory, and the garbage collector, which counts
    objects made and not yet freed, is not set off by the hundreds of thousands of rows.
    """
    for table, columns, rows in _tables(blueprint):
        copy_rows(conn, table, columns, rows)


# --- reading back -----------------------------------------------------------------------------


def _disposition_document(row: Any) -> dict[str, Any]:
    """A zone's or disk's disposition, from the three columns both tables have."""
    if str(row.disposition) == BpDisposition.EXPUNGED.value:
        return {
            "kind": "expunged",
            "as_of_generation": row.disposition_expunged_as_of_generation,
            "ready_for_cleanup": row.disposition_expunged_ready_for_cleanup,
        }
    return {"kind": "in_service"}


def _nic_document(row: Any, transit: dict[UUID, list[str]]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "mac": int_to_mac(row.mac),
        "vni": row.vni,
        "primary": row.is_primary,
        "slot": row.slot,
    }
    if row.ip is not None:
        document["ip"] = str(row.ip)
        document["subnet"] = _network_text(row.subnet)
    if row.ipv6 is not None:
        document["ipv6"] = str(row.ipv6)
        document["ipv6_subnet"] = _network_text(row.ipv6_subnet)
    networks = transit.get(row.id)
    if networks:
        document["transit_ips"] = networks
    return document


def _zone_type_document(row: Any, nics: dict[UUID, dict[str, Any]]) -> dict[str, Any]:
    kind = str(row.zone_type)
    if row.bp_nic_id is None:
        return {"kind": kind}
    nic = nics.get(row.bp_nic_id)
    if nic is None:
        raise ValueError(f"zone {row.id} records NIC {row.bp_nic_id}, which the blueprint lacks")
    external: dict[str, Any] = {"id": row.external_ip_id}
    if row.snat_ip is not None:
        external |= {
            "ip": str(row.snat_ip),
            "first_port": row.snat_first_port,
            "last_port": row.snat_last_port,
        }
    else:
        external["ip"] = None if row.second_service_ip is None else str(row.second_service_ip)
    return {"kind": kind, "external_ip": external, "nic": nic}


def blueprint_document(conn: Connection, blueprint_id: UUID) -> dict[str, Any] | None:
    """The blueprint's JSON document rebuilt from its rows (``None`` when not stored): five
    SELECTs, whatever its size. The caller validates it into a model."""
    head = conn.execute(select(blueprint_table).where(blueprint_table.c.id == blueprint_id)).first()
    if head is None:
        return None
    transit: dict[UUID, list[str]] = {}
    for row in conn.execute(
        select(TRANSIT.c.nic_id, TRANSIT.c.network)
        .where(TRANSIT.c.blueprint_id == blueprint_id)
        .order_by(TRANSIT.c.nic_id, TRANSIT.c.position)
    ):
        transit.setdefault(row.nic_id, []).append(_network_text(row.network))
    nics = {
        row.id: _nic_document(row, transit)
        for row in conn.execute(select(NIC).where(NIC.c.blueprint_id == blueprint_id))
    }
    sleds: dict[UUID, dict[str, Any]] = {}
    for row in conn.execute(
        select(SLED).where(SLED.c.blueprint_id == blueprint_id).order_by(SLED.c.sled_id)
    ):
        sleds[row.sled_id] = {
            "id": row.sled_id,
            "state": str(row.sled_state),
            "disks": [],
            "zones": [],
        }
    for row in conn.execute(
        select(DISK).where(DISK.c.blueprint_id == blueprint_id).order_by(DISK.c.id)
    ):
        _sled(sleds, row.sled_id, blueprint_id)["disks"].append(
            {
                "id": row.id,
                "pool_id": row.pool_id,
                "disposition": _disposition_document(row),
            }
        )
    for row in conn.execute(
        select(ZONE).where(ZONE.c.blueprint_id == blueprint_id).order_by(ZONE.c.id)
    ):
        _sled(sleds, row.sled_id, blueprint_id)["zones"].append(
            {
                "id": row.id,
                "filesystem_pool": row.filesystem_pool,
                "disposition": _disposition_document(row),
                "zone_type": _zone_type_document(row, nics),
            }
        )
    return {
        "id": head.id,
        "parent_blueprint_id": head.parent_blueprint_id,
        "time_created": head.time_created,
        "creator": head.creator,
        "comment": head.comment,
        "external_networking_generation": head.external_networking_generation,
        "sleds": list(sleds.values()),
    }


def _sled(sleds: dict[UUID, dict[str, Any]], sled_id: UUID, blueprint_id: UUID) -> dict[str, Any]:
    sled = sleds.get(sled_id)
    if sled is None:
        raise ValueError(f"blueprint {blueprint_id} has rows of sled {sled_id} but no such sled")
    return sled


def _network_text(value: Any) -> str:
    """An INET holding a network, as the blueprint writes it (``10.1.0.0/16``)."""
    network = getattr(value, "network", None)
    return str(network if network is not None else value)
