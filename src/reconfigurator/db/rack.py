"""The planning input as operators edit it: sleds and physical disks (the service IP pools
are :mod:`reconfigurator.db.service_pools`).

Every function takes a connection inside a transaction (use
:func:`reconfigurator.db.retry.run_transaction`) and runs a fixed number of set-based
statements. Ids may be given in full or, where a ``resolve_*`` function is used, as a unique
prefix.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Final
from uuid import UUID

from sqlalchemy import String, cast, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from reconfigurator.blueprint.model import SledState
from reconfigurator.db import schema
from reconfigurator.db.values import enum_text
from reconfigurator.errors import (
    AmbiguousId,
    DiskAlreadyExists,
    DiskNotFound,
    InputError,
    SledAlreadyExists,
    SledNotFound,
    SledNotInService,
)
from reconfigurator.planning_input import DiskPolicy, DiskState, SledPolicy

SLED = schema.sled_table
DISK = schema.physical_disk_table
POOL = schema.ip_pool_table
RANGE = schema.ip_pool_range_table

#: Disks a new sled gets when no number is given (a sled has ten U.2 bays, as upstream).
DEFAULT_DISKS_PER_SLED: Final = 10

#: The shortest id prefix accepted (shorter ones match too much to be useful).
MIN_PREFIX_CHARS: Final = 4

IpAddress = IPv4Address | IPv6Address
IdFactory = Callable[[], UUID]

_log = logging.getLogger(__name__)


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewDisk:
    """A disk to add; ids left out are generated."""

    id: UUID | None = None
    pool_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class DiskRecord:
    """A physical disk of the planning input as stored."""

    id: UUID
    sled_id: UUID
    pool_id: UUID
    policy: str
    state: str
    time_created: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "id": str(self.id),
            "sled_id": str(self.sled_id),
            "pool_id": str(self.pool_id),
            "policy": self.policy,
            "state": self.state,
            "time_created": self.time_created.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SledRecord:
    """A sled of the planning input as stored, with its disks."""

    id: UUID
    policy: str
    state: str
    time_created: datetime
    disks: tuple[DiskRecord, ...]

    @property
    def disks_in_service(self) -> int:
        return sum(1 for d in self.disks if d.policy == "in_service" and d.state == "active")

    def to_json(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "policy": self.policy,
            "state": self.state,
            "time_created": self.time_created.isoformat(),
            "disks": [disk.to_json() for disk in self.disks],
        }


# --- id prefixes ---------------------------------------------------------------------------------


def _prefix(reference: str, what: str) -> tuple[UUID | None, str]:
    text = reference.strip().lower()
    try:
        return UUID(text), text
    except ValueError:
        pass
    if len(text) < MIN_PREFIX_CHARS or any(c not in "0123456789abcdef-" for c in text):
        raise InputError(
            f"not a {what} id or id prefix (at least {MIN_PREFIX_CHARS} hex digits): {reference!r}"
        )
    return None, text


def _starts_with(column: ColumnElement[UUID], text: str) -> ColumnElement[bool]:
    """``column``'s text form starts with ``text`` (portable: LIKE, not ``starts_with``)."""
    return cast(column, String).startswith(text, autoescape=True)


def resolve_sled_id(conn: Connection, reference: str) -> UUID:
    """A full sled id, or a unique prefix of one, to the stored id."""
    full, text = _prefix(reference, "sled")
    condition = SLED.c.id == full if full is not None else _starts_with(SLED.c.id, text)
    matches = list(conn.execute(select(SLED.c.id).where(condition).order_by(SLED.c.id).limit(10)))
    if not matches:
        raise SledNotFound(reference)
    if len(matches) > 1:
        raise AmbiguousId("sled", reference, [row.id for row in matches])
    found: UUID = matches[0].id
    return found


def resolve_disk_id(conn: Connection, reference: str) -> UUID:
    """A disk id or pool id, in full or as a unique prefix, to the disk's id."""
    full, text = _prefix(reference, "disk")
    if full is not None:
        condition = or_(DISK.c.id == full, DISK.c.pool_id == full)
    else:
        condition = or_(_starts_with(DISK.c.id, text), _starts_with(DISK.c.pool_id, text))
    matches = list(conn.execute(select(DISK.c.id).where(condition).order_by(DISK.c.id).limit(10)))
    if not matches:
        raise DiskNotFound(reference)
    if len(matches) > 1:
        raise AmbiguousId("disk", reference, [row.id for row in matches])
    found: UUID = matches[0].id
    return found


# --- sleds ---------------------------------------------------------------------------------------


def add_sled(
    conn: Connection,
    sled_id: UUID | None = None,
    disks: int | Sequence[NewDisk] = DEFAULT_DISKS_PER_SLED,
    *,
    new_id: IdFactory = uuid.uuid4,
) -> SledRecord:
    """Add an in-service, active sled with ``disks`` (a number, or explicit disks).

    Raises :class:`SledAlreadyExists` or :class:`DiskAlreadyExists` naming the id.
    """
    sled_id = sled_id or new_id()
    if conn.execute(select(SLED.c.id).where(SLED.c.id == sled_id)).first() is not None:
        raise SledAlreadyExists(sled_id)
    now = _now(conn)
    conn.execute(
        insert(SLED).values(
            id=sled_id,
            time_created=now,
            time_modified=now,
            policy=SledPolicy.IN_SERVICE,
            state=SledState.ACTIVE,
        )
    )
    if isinstance(disks, int):
        if disks < 0:
            raise InputError(f"a sled cannot have {disks} disks")
        disks = [NewDisk() for _ in range(disks)]
    added = _insert_disks(conn, sled_id, disks, now, new_id)
    _log.info("added sled", extra={"sled_id": str(sled_id), "disks": len(added)})
    return SledRecord(sled_id, SledPolicy.IN_SERVICE.value, SledState.ACTIVE.value, now, added)


def expunge_sled(conn: Connection, sled_id: UUID) -> bool:
    """Set the sled's policy to expunged; ``False`` if it already was.

    Its disks keep their own policy: the planner expunges everything on an expunged sled.
    """
    row = conn.execute(select(SLED.c.policy).where(SLED.c.id == sled_id)).first()
    if row is None:
        raise SledNotFound(sled_id)
    changed = conn.execute(
        update(SLED)
        .where(SLED.c.id == sled_id, SLED.c.policy != SledPolicy.EXPUNGED)
        .values(policy=SledPolicy.EXPUNGED, time_modified=func.now())
    ).rowcount
    if changed:
        _log.info("expunged sled", extra={"sled_id": str(sled_id)})
    return bool(changed)


def get_sled(conn: Connection, sled_id: UUID) -> SledRecord:
    """The sled with this id; raises :class:`SledNotFound`."""
    found = list_sleds(conn, sled_id=sled_id)
    if not found:
        raise SledNotFound(sled_id)
    return found[0]


def list_sleds(conn: Connection, *, sled_id: UUID | None = None) -> list[SledRecord]:
    """Every sled (or one) with its disks, ordered by id. Two queries."""
    disks: dict[UUID, list[DiskRecord]] = {}
    for disk in list_disks(conn, sled_id=sled_id):
        disks.setdefault(disk.sled_id, []).append(disk)
    query = select(SLED).order_by(SLED.c.id)
    if sled_id is not None:
        query = query.where(SLED.c.id == sled_id)
    return [
        SledRecord(
            id=row.id,
            policy=enum_text(row.policy),
            state=enum_text(row.state),
            time_created=row.time_created,
            disks=tuple(disks.get(row.id, ())),
        )
        for row in conn.execute(query)
    ]


# --- disks ---------------------------------------------------------------------------------------


def add_disk(
    conn: Connection,
    sled_id: UUID,
    disk_id: UUID | None = None,
    pool_id: UUID | None = None,
    *,
    new_id: IdFactory = uuid.uuid4,
) -> DiskRecord:
    """Add an in-service, active disk (and its pool) to an in-service sled."""
    sled = conn.execute(select(SLED.c.policy, SLED.c.state).where(SLED.c.id == sled_id)).first()
    if sled is None:
        raise SledNotFound(sled_id)
    policy, state = enum_text(sled.policy), enum_text(sled.state)
    if policy != "in_service" or state != "active":
        raise SledNotInService(sled_id, policy, state)
    (added,) = _insert_disks(conn, sled_id, [NewDisk(disk_id, pool_id)], _now(conn), new_id)
    _log.info(
        "added disk",
        extra={"sled_id": str(sled_id), "disk_id": str(added.id), "pool_id": str(added.pool_id)},
    )
    return added


def expunge_disk(conn: Connection, disk_or_pool_id: UUID) -> tuple[DiskRecord, bool]:
    """Set a disk's policy (found by disk id or pool id) to expunged.

    Returns the disk as it is now and whether it changed (``False``: already expunged).
    """
    found = conn.execute(
        select(DISK.c.id).where(
            or_(DISK.c.id == disk_or_pool_id, DISK.c.pool_id == disk_or_pool_id)
        )
    ).first()
    if found is None:
        raise DiskNotFound(disk_or_pool_id)
    changed = conn.execute(
        update(DISK)
        .where(DISK.c.id == found.id, DISK.c.policy != DiskPolicy.EXPUNGED)
        .values(policy=DiskPolicy.EXPUNGED, time_modified=func.now())
    ).rowcount
    (disk,) = list_disks(conn, disk_id=found.id)
    if changed:
        _log.info(
            "expunged disk",
            extra={
                "disk_id": str(disk.id),
                "pool_id": str(disk.pool_id),
                "sled_id": str(disk.sled_id),
            },
        )
    return disk, bool(changed)


def list_disks(
    conn: Connection, *, sled_id: UUID | None = None, disk_id: UUID | None = None
) -> list[DiskRecord]:
    """Disks ordered by sled id, then disk id; optionally of one sled, or one disk."""
    query = select(DISK).order_by(DISK.c.sled_id, DISK.c.id)
    if sled_id is not None:
        query = query.where(DISK.c.sled_id == sled_id)
    if disk_id is not None:
        query = query.where(DISK.c.id == disk_id)
    return [_disk(row) for row in conn.execute(query)]


def _insert_disks(
    conn: Connection,
    sled_id: UUID,
    disks: Sequence[NewDisk],
    now: datetime,
    new_id: IdFactory,
) -> tuple[DiskRecord, ...]:
    records = sorted(
        (
            DiskRecord(
                id=disk.id or new_id(),
                sled_id=sled_id,
                pool_id=disk.pool_id or new_id(),
                policy=DiskPolicy.IN_SERVICE.value,
                state=DiskState.ACTIVE.value,
                time_created=now,
            )
            for disk in disks
        ),
        key=lambda record: record.id,
    )
    if not records:
        return ()
    _check_new_disks(conn, records)
    conn.execute(
        insert(DISK),
        [
            {
                "id": record.id,
                "pool_id": record.pool_id,
                "sled_id": sled_id,
                "time_created": now,
                "time_modified": now,
                "policy": DiskPolicy.IN_SERVICE,
                "state": DiskState.ACTIVE,
            }
            for record in records
        ],
    )
    return tuple(records)


def _check_new_disks(conn: Connection, records: list[DiskRecord]) -> None:
    """Disk ids and pool ids must be new: among the records and in the table."""
    disk_owner: dict[UUID, UUID] = {}
    pool_owner: dict[UUID, UUID] = {}
    for record in records:
        if record.id in disk_owner:
            raise DiskAlreadyExists("disk id", record.id, record.id)
        if record.pool_id in pool_owner:
            raise DiskAlreadyExists("pool id", record.pool_id, pool_owner[record.pool_id])
        disk_owner[record.id] = record.id
        pool_owner[record.pool_id] = record.id
    clash = conn.execute(
        select(DISK.c.id, DISK.c.pool_id)
        .where(or_(DISK.c.id.in_(list(disk_owner)), DISK.c.pool_id.in_(list(pool_owner))))
        .order_by(DISK.c.id)
        .limit(1)
    ).first()
    if clash is not None:
        if clash.id in disk_owner:
            raise DiskAlreadyExists("disk id", clash.id, clash.id)
        raise DiskAlreadyExists("pool id", clash.pool_id, clash.id)


def _disk(row: object) -> DiskRecord:
    return DiskRecord(
        id=row.id,  # type: ignore[attr-defined]
        sled_id=row.sled_id,  # type: ignore[attr-defined]
        pool_id=row.pool_id,  # type: ignore[attr-defined]
        policy=enum_text(row.policy),  # type: ignore[attr-defined]
        state=enum_text(row.state),  # type: ignore[attr-defined]
        time_created=row.time_created,  # type: ignore[attr-defined]
    )


# --- helpers -------------------------------------------------------------------------------------


def _now(conn: Connection) -> datetime:
    """The transaction's timestamp, so every row written together has the same time."""
    now: datetime = conn.execute(select(func.now())).scalar_one()
    return now
