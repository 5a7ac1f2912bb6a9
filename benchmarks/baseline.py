"""The per-row baseline: one lookup and one write per row, in one transaction.

This is how the upstream datastore realizes external networking: for each expunged zone it
looks up the zone's external IP by id and soft-deletes it when it is live, then does the same
for the zone's NIC; for each in-service zone it looks up the zone's rows (by id, or live by
parent) and inserts the ones that are missing. Every statement is prepared once and executed
with one row's parameters, so the work is what a careful per-row implementation does, no
more: a round trip per row.

To reach the same end state as the executor, a row of an expunged zone that does not exist is
recorded as created-and-deleted (a tombstone), one INSERT per row, as the executor does with
its set-based INSERT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any
from uuid import UUID

from sqlalchemy import Insert, Select, Update, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from benchmarks.zones import ZoneRows
from reconfigurator.db.schema import (
    external_ip_table,
    ip_pool_range_table,
    service_network_interface_table,
)

EXT = external_ip_table
NIC = service_network_interface_table

SELECT_IP_BY_ID = select(EXT).where(EXT.c.id == bindparam("row_id"))
SELECT_NIC_BY_ID = select(NIC).where(NIC.c.id == bindparam("row_id"))
SELECT_IP_OF_ZONE = select(EXT).where(
    or_(
        EXT.c.id == bindparam("row_id"),
        and_(EXT.c.parent_id == bindparam("zone_id"), EXT.c.time_deleted.is_(None)),
    )
)
SELECT_NIC_OF_ZONE = select(NIC).where(
    or_(
        NIC.c.id == bindparam("row_id"),
        and_(NIC.c.service_id == bindparam("zone_id"), NIC.c.time_deleted.is_(None)),
    )
)
SOFT_DELETE_IP = (
    update(EXT)
    .where(EXT.c.id == bindparam("row_id"), EXT.c.time_deleted.is_(None))
    .values(time_deleted=bindparam("now"), time_modified=bindparam("now"))
)
SOFT_DELETE_NIC = (
    update(NIC)
    .where(NIC.c.id == bindparam("row_id"), NIC.c.time_deleted.is_(None))
    .values(time_deleted=bindparam("now"), time_modified=bindparam("now"))
)
INSERT_IP = insert(EXT)
INSERT_NIC = insert(NIC)
SERVICE_RANGES = select(
    ip_pool_range_table.c.id,
    ip_pool_range_table.c.first_address,
    ip_pool_range_table.c.last_address,
).where(ip_pool_range_table.c.time_deleted.is_(None))


class BaselineConflict(RuntimeError):
    """The state holds something the benchmark's states never do (a bug in the set-up)."""


@dataclass
class BaselineCounts:
    soft_deleted: int = 0
    already_soft_deleted: int = 0
    tombstones: int = 0
    created: int = 0
    unchanged: int = 0


#: A service range: (id, IP version, first address, last address), addresses as integers.
Range = tuple[UUID, int, int, int]


def _ranges(rows: Sequence[Any]) -> list[Range]:
    out: list[Range] = []
    for row in rows:
        first, last = ip_address(row.first_address), ip_address(row.last_address)
        out.append((row.id, first.version, int(first), int(last)))
    return out


def _range_for(ranges: Sequence[Range], zone: ZoneRows) -> UUID:
    address = int(zone.ip)
    for range_id, version, first, last in ranges:
        if version == zone.ip.version and first <= address <= last:
            return range_id
    raise BaselineConflict(f"{zone.ip} of zone {zone.zone_id} is in no service range")


def _deallocate_row(
    conn: Connection,
    statements: tuple[Select[Any], Update, Insert],
    *,
    zone_id: UUID,
    row_id: UUID,
    tombstone: Callable[[], dict[str, Any]],
    now: datetime,
    counts: BaselineCounts,
) -> None:
    """Look the row up by id; soft-delete it when live, record it when missing."""
    select_by_id, soft_delete, insert_row = statements
    row = conn.execute(select_by_id, {"row_id": row_id}).first()
    if row is None:
        conn.execute(insert_row, tombstone())
        counts.tombstones += 1
    elif (row.parent_id if "parent_id" in row._fields else row.service_id) != zone_id:
        raise BaselineConflict(f"row {row_id} belongs to another zone than {zone_id}")
    elif row.time_deleted is None:
        conn.execute(soft_delete, {"row_id": row_id, "now": now})
        counts.soft_deleted += 1
    else:
        counts.already_soft_deleted += 1


def _allocate_row(
    conn: Connection,
    statements: tuple[Select[Any], Insert],
    *,
    zone_id: UUID,
    row_id: UUID,
    new_row: Callable[[], dict[str, Any]],
    counts: BaselineCounts,
) -> None:
    """Look the zone's rows up (by id, or live by parent); insert the row when missing."""
    select_of_zone, insert_row = statements
    rows = conn.execute(select_of_zone, {"row_id": row_id, "zone_id": zone_id}).all()
    if not rows:
        conn.execute(insert_row, new_row())
        counts.created += 1
    elif len(rows) == 1 and rows[0].id == row_id and rows[0].time_deleted is None:
        counts.unchanged += 1
    else:
        raise BaselineConflict(f"zone {zone_id} holds {[r.id for r in rows]}")


def _deallocate(
    conn: Connection,
    zone: ZoneRows,
    now: datetime,
    ranges: Sequence[Range],
    counts: BaselineCounts,
) -> None:
    _deallocate_row(
        conn,
        (SELECT_IP_BY_ID, SOFT_DELETE_IP, INSERT_IP),
        zone_id=zone.zone_id,
        row_id=zone.ip_id,
        tombstone=lambda: zone.external_ip_row(_range_for(ranges, zone), now, tombstone=True),
        now=now,
        counts=counts,
    )
    _deallocate_row(
        conn,
        (SELECT_NIC_BY_ID, SOFT_DELETE_NIC, INSERT_NIC),
        zone_id=zone.zone_id,
        row_id=zone.nic_id,
        tombstone=lambda: zone.nic_row(now, tombstone=True),
        now=now,
        counts=counts,
    )


def _allocate(
    conn: Connection,
    zone: ZoneRows,
    now: datetime,
    ranges: Sequence[Range],
    counts: BaselineCounts,
) -> None:
    _allocate_row(
        conn,
        (SELECT_IP_OF_ZONE, INSERT_IP),
        zone_id=zone.zone_id,
        row_id=zone.ip_id,
        new_row=lambda: zone.external_ip_row(_range_for(ranges, zone), now),
        counts=counts,
    )
    _allocate_row(
        conn,
        (SELECT_NIC_OF_ZONE, INSERT_NIC),
        zone_id=zone.zone_id,
        row_id=zone.nic_id,
        new_row=lambda: zone.nic_row(now),
        counts=counts,
    )


def per_row_ensure(engine: Engine, zones: Sequence[ZoneRows]) -> BaselineCounts:
    """Deallocate expunged zones' rows, then allocate in-service zones' rows, row by row,
    in one SERIALIZABLE transaction."""
    counts = BaselineCounts()
    now = datetime.now(UTC)
    with (
        engine.connect().execution_options(isolation_level="SERIALIZABLE") as conn,
        conn.begin(),
    ):
        ranges = _ranges(conn.execute(SERVICE_RANGES).all())
        for zone in zones:
            if zone.expunged:
                _deallocate(conn, zone, now, ranges, counts)
        for zone in zones:
            if not zone.expunged:
                _allocate(conn, zone, now, ranges, counts)
    return counts
