"""The service IP pools: one per IP version (``ip_pool`` rows with ``assignment =
'system_services'``), and their ranges, from which external IPs of services come.

A pool is created, with a random id as on a real rack, when the first range of its version is
added. Every function takes a connection inside a transaction (use
:func:`reconfigurator.db.retry.run_transaction`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from uuid import UUID

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import INET, insert
from sqlalchemy.engine import Connection

from reconfigurator.db import schema
from reconfigurator.db.values import enum_text, to_address
from reconfigurator.errors import InputError, InvalidIpRange, IpRangeOverlap
from reconfigurator.fixed_data import SERVICE_IP_POOL_NAMES, IpVersion

POOL = schema.ip_pool_table
RANGE = schema.ip_pool_range_table

IpAddress = IPv4Address | IPv6Address
IdFactory = Callable[[], UUID]

_log = logging.getLogger(__name__)

#: Live service pools (of every version).
_SERVICE_POOLS = (
    POOL.c.assignment == schema.IpPoolAssignment.SYSTEM_SERVICES,
    POOL.c.time_deleted.is_(None),
)


@dataclass(frozen=True, slots=True)
class PoolRecord:
    """A live service IP pool."""

    id: UUID
    name: str
    ip_version: IpVersion
    assignment: str
    rcgen: int

    def to_json(self) -> dict[str, object]:
        """The pool as ``recon pool show --json`` shows it."""
        return {
            "id": str(self.id),
            "name": self.name,
            "ip_version": self.ip_version.value,
            "assignment": self.assignment,
            "rcgen": self.rcgen,
        }


@dataclass(frozen=True, slots=True)
class PoolRangeRecord:
    """A live range of a service pool."""

    id: UUID
    ip_pool_id: UUID
    first: IpAddress
    last: IpAddress
    time_created: datetime
    rcgen: int = 0

    @property
    def size(self) -> int:
        """How many addresses the range holds."""
        return int(self.last) - int(self.first) + 1

    def to_json(self) -> dict[str, object]:
        """The range as ``recon pool`` shows it."""
        return {
            "id": str(self.id),
            "ip_pool_id": str(self.ip_pool_id),
            "first": str(self.first),
            "last": str(self.last),
            "size": self.size,
            "rcgen": self.rcgen,
            "time_created": self.time_created.isoformat(),
        }


def parse_address(text: str | IpAddress) -> IpAddress:
    """An address from text, or :class:`InputError` naming the text."""
    if isinstance(text, IPv4Address | IPv6Address):
        return text
    try:
        return ip_address(text.strip())
    except ValueError:
        raise InputError(f"not an IP address: {text!r}") from None


def _pool(row: object) -> PoolRecord:
    return PoolRecord(
        id=row.id,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        ip_version=IpVersion(enum_text(row.ip_version)),  # type: ignore[attr-defined]
        assignment=enum_text(row.assignment),  # type: ignore[attr-defined]
        rcgen=row.rcgen,  # type: ignore[attr-defined]
    )


def list_service_pools(conn: Connection) -> list[PoolRecord]:
    """The live service pools, IPv4 first."""
    rows = conn.execute(select(POOL).where(*_SERVICE_POOLS).order_by(POOL.c.ip_version))
    return [_pool(row) for row in rows]


def service_pool(conn: Connection, version: IpVersion) -> PoolRecord | None:
    """The live service pool of ``version``, if there is one."""
    row = conn.execute(select(POOL).where(*_SERVICE_POOLS, POOL.c.ip_version == version)).first()
    return _pool(row) if row is not None else None


def ensure_service_pool(
    conn: Connection, version: IpVersion, *, new_id: IdFactory = uuid.uuid4
) -> PoolRecord:
    """The live service pool of ``version``, created (with a new random id) if missing.

    Safe against a concurrent creator: the insert does nothing when another transaction made
    the pool first, and the pool is read again.
    """
    found = service_pool(conn, version)
    if found is not None:
        return found
    pool_id = new_id()
    conn.execute(
        insert(POOL)
        .values(
            id=pool_id,
            name=SERVICE_IP_POOL_NAMES[version],
            description=f"IP{version.value} addresses of the rack's system services",
            time_created=func.now(),
            time_modified=func.now(),
            rcgen=0,
            ip_version=version,
            pool_type=schema.IpPoolType.UNICAST,
            assignment=schema.IpPoolAssignment.SYSTEM_SERVICES,
        )
        .on_conflict_do_nothing()
    )
    created = service_pool(conn, version)
    if created is None:
        raise InputError(
            f"cannot create the {version.value} service IP pool: the name"
            f" {SERVICE_IP_POOL_NAMES[version]!r} is taken by another live pool"
        )
    if created.id == pool_id:
        _log.info(
            "created service IP pool",
            extra={"ip_pool_id": str(pool_id), "ip_version": version.value},
        )
    return created


def add_pool_range(
    conn: Connection,
    first: str | IpAddress,
    last: str | IpAddress,
    *,
    new_id: IdFactory = uuid.uuid4,
) -> PoolRangeRecord:
    """Add the inclusive range ``first``–``last`` to the service pool of its IP version,
    creating that pool on first use.

    Raises :class:`InvalidIpRange` (families differ, ``first`` after ``last``) or
    :class:`IpRangeOverlap` naming the live range of any pool it overlaps.
    """
    first_ip, last_ip = parse_address(first), parse_address(last)
    if first_ip.version != last_ip.version:
        raise InvalidIpRange(first_ip, last_ip, "the addresses are of different families")
    if int(first_ip) > int(last_ip):
        raise InvalidIpRange(first_ip, last_ip, "the first address is after the last")
    lo = literal(str(first_ip), INET)
    hi = literal(str(last_ip), INET)
    overlap = conn.execute(
        select(RANGE.c.id, RANGE.c.first_address, RANGE.c.last_address)
        .where(
            RANGE.c.time_deleted.is_(None),
            func.family(RANGE.c.first_address) == first_ip.version,
            RANGE.c.first_address <= hi,
            RANGE.c.last_address >= lo,
        )
        .order_by(RANGE.c.first_address)
        .limit(1)
    ).first()
    if overlap is not None:
        raise IpRangeOverlap(
            first_ip,
            last_ip,
            overlap.id,
            (to_address(overlap.first_address), to_address(overlap.last_address)),
        )
    pool = ensure_service_pool(conn, IpVersion.of(first_ip), new_id=new_id)
    range_id = new_id()
    created: datetime = conn.execute(
        insert(RANGE)
        .values(
            id=range_id,
            time_created=func.now(),
            time_modified=func.now(),
            first_address=str(first_ip),
            last_address=str(last_ip),
            ip_pool_id=pool.id,
            rcgen=0,
        )
        .returning(RANGE.c.time_created)
    ).scalar_one()
    # The pool's generation counts changes to its ranges, as upstream's collections do.
    conn.execute(update(POOL).where(POOL.c.id == pool.id).values(rcgen=POOL.c.rcgen + 1))
    _log.info(
        "added IP pool range",
        extra={
            "range_id": str(range_id),
            "ip_pool_id": str(pool.id),
            "first": str(first_ip),
            "last": str(last_ip),
        },
    )
    return PoolRangeRecord(range_id, pool.id, first_ip, last_ip, created)


def list_pool_ranges(conn: Connection) -> list[PoolRangeRecord]:
    """The live ranges of the live service pools, ordered by family and first address."""
    rows = conn.execute(
        select(RANGE)
        .join(POOL, POOL.c.id == RANGE.c.ip_pool_id)
        .where(*_SERVICE_POOLS, RANGE.c.time_deleted.is_(None))
        .order_by(func.family(RANGE.c.first_address), RANGE.c.first_address)
    )
    return [
        PoolRangeRecord(
            id=row.id,
            ip_pool_id=row.ip_pool_id,
            first=to_address(row.first_address),
            last=to_address(row.last_address),
            time_created=row.time_created,
            rcgen=row.rcgen,
        )
        for row in rows
    ]
