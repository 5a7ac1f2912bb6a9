"""The per-row baseline: one lookup and one write per row, in one transaction.

This is how the upstream datastore realizes external networking: for each expunged zone it
looks up the zone's external IP by id and soft-deletes it when it is live, then does the same
for the zone's service NIC (a ``network_interface`` row of kind ``service``); for each
in-service zone it looks up the zone's rows (by id, or live by parent) and inserts the ones
that are missing. Every statement is prepared once and executed with one row's parameters, so
the work is what a careful per-row implementation does, no more: a round trip per row.

As upstream after its fix, a row of an expunged zone that does not exist was never created:
nothing is written for it, it is only counted (``not_found``). The executor ends in the same
state of ``external_ip``, ``network_interface`` and ``ip_pool_range``; it also records each
such row once in its own ``external_networking_repair`` table, which the baseline, like
upstream, does not have.

A new external IP takes the pool and range holding its address, and the range's ``rcgen``
goes up by one in the same statement (a data-modifying CTE), as upstream's allocation query
does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Executable,
    Select,
    Update,
    and_,
    bindparam,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine

from benchmarks.zones import EXTERNAL_IP_COLUMNS, ZoneRows
from reconfigurator.db.schema import (
    external_ip_table,
    ip_pool_range_table,
    ip_pool_table,
    network_interface_table,
)
from reconfigurator.fixed_data import SERVICE_IP_POOL_ASSIGNMENT

EXT = external_ip_table
NIC = network_interface_table
RANGE = ip_pool_range_table

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
        and_(
            NIC.c.parent_id == bindparam("zone_id"),
            NIC.c.kind == "service",
            NIC.c.time_deleted.is_(None),
        ),
    )
)
# Soft-deleting sets only ``time_deleted``, as upstream does.
SOFT_DELETE_IP = (
    update(EXT)
    .where(EXT.c.id == bindparam("row_id"), EXT.c.time_deleted.is_(None))
    .values(time_deleted=bindparam("now"))
)
SOFT_DELETE_NIC = (
    update(NIC)
    .where(NIC.c.id == bindparam("row_id"), NIC.c.time_deleted.is_(None))
    .values(time_deleted=bindparam("now"))
)
# Written out: SQLAlchemy would bind the row's values to the CTE's UPDATE too.
INSERT_IP = text(
    "WITH bump_range_generation AS ("
    " UPDATE ip_pool_range SET rcgen = rcgen + 1 WHERE id = :ip_pool_range_id)"
    f" INSERT INTO external_ip ({', '.join(EXTERNAL_IP_COLUMNS)})"
    f" VALUES ({', '.join(f':{name}' for name in EXTERNAL_IP_COLUMNS)})"
).bindparams(*(bindparam(name, type_=EXT.c[name].type) for name in EXTERNAL_IP_COLUMNS))
INSERT_NIC = insert(NIC)
SERVICE_RANGES = (
    select(RANGE.c.id, RANGE.c.ip_pool_id, RANGE.c.first_address, RANGE.c.last_address)
    .join(ip_pool_table, ip_pool_table.c.id == RANGE.c.ip_pool_id)
    .where(
        ip_pool_table.c.assignment == SERVICE_IP_POOL_ASSIGNMENT,
        ip_pool_table.c.time_deleted.is_(None),
        RANGE.c.time_deleted.is_(None),
    )
)


class BaselineConflict(RuntimeError):
    """The state holds something the benchmark's states never do (a bug in the set-up)."""


@dataclass
class BaselineCounts:
    soft_deleted: int = 0
    already_soft_deleted: int = 0
    #: Rows of expunged zones that were never created: nothing written.
    not_found: int = 0
    created: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class Range:
    """A live service range, addresses as integers."""

    id: UUID
    pool_id: UUID
    version: int
    first: int
    last: int


def _ranges(rows: Sequence[Any]) -> list[Range]:
    out: list[Range] = []
    for row in rows:
        first, last = ip_address(row.first_address), ip_address(row.last_address)
        out.append(Range(row.id, row.ip_pool_id, first.version, int(first), int(last)))
    return out


def _range_for(ranges: Sequence[Range], zone: ZoneRows) -> Range:
    address = int(zone.ip)
    for candidate in ranges:
        if candidate.version == zone.ip.version and candidate.first <= address <= candidate.last:
            return candidate
    raise BaselineConflict(f"{zone.ip} of zone {zone.zone_id} is in no service range")


def _ip_owned_by(row: Any, zone_id: UUID) -> bool:
    return bool(row.parent_id == zone_id)


def _nic_owned_by(row: Any, zone_id: UUID) -> bool:
    return bool(row.parent_id == zone_id and row.kind == "service")


def _deallocate_row(
    conn: Connection,
    statements: tuple[Select[Any], Update],
    owned: Callable[[Any, UUID], bool],
    *,
    zone_id: UUID,
    row_id: UUID,
    now: datetime,
    counts: BaselineCounts,
) -> None:
    """Look the row up by id; soft-delete it when live; when missing, write nothing."""
    select_by_id, soft_delete = statements
    row = conn.execute(select_by_id, {"row_id": row_id}).first()
    if row is None:
        counts.not_found += 1
    elif not owned(row, zone_id):
        raise BaselineConflict(f"row {row_id} belongs to another zone than {zone_id}")
    elif row.time_deleted is None:
        conn.execute(soft_delete, {"row_id": row_id, "now": now})
        counts.soft_deleted += 1
    else:
        counts.already_soft_deleted += 1


def _allocate_row(
    conn: Connection,
    statements: tuple[Select[Any], Executable],
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


def _deallocate(conn: Connection, zone: ZoneRows, now: datetime, counts: BaselineCounts) -> None:
    for statements, owned, row_id in (
        ((SELECT_IP_BY_ID, SOFT_DELETE_IP), _ip_owned_by, zone.ip_id),
        ((SELECT_NIC_BY_ID, SOFT_DELETE_NIC), _nic_owned_by, zone.nic_id),
    ):
        _deallocate_row(
            conn, statements, owned, zone_id=zone.zone_id, row_id=row_id, now=now, counts=counts
        )


def _new_external_ip(zone: ZoneRows, ranges: Sequence[Range], now: datetime) -> dict[str, Any]:
    found = _range_for(ranges, zone)
    return zone.external_ip_row(found.pool_id, found.id, now)


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
        new_row=lambda: _new_external_ip(zone, ranges, now),
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
                _deallocate(conn, zone, now, counts)
        for zone in zones:
            if not zone.expunged:
                _allocate(conn, zone, now, ranges, counts)
    return counts
