"""The target blueprint history (``bp_target``).

Rules: the first target has no parent; every later target's parent is the current target.
A new version row is written for every change, including enabling or disabling the current
target, so the history is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from reconfigurator.db import schema
from reconfigurator.errors import BlueprintNotFound, NoTarget, TargetParentMismatch

BP_TARGET = schema.bp_target_table
BLUEPRINT = schema.blueprint_table


@dataclass(frozen=True, slots=True)
class Target:
    """One version of the target: which blueprint, whether execution is enabled, since when."""

    version: int
    blueprint_id: UUID
    enabled: bool
    time_made_target: datetime


def _target(row: object) -> Target:
    return Target(
        version=row.version,  # type: ignore[attr-defined]
        blueprint_id=row.blueprint_id,  # type: ignore[attr-defined]
        enabled=row.enabled,  # type: ignore[attr-defined]
        time_made_target=row.time_made_target,  # type: ignore[attr-defined]
    )


def current_target(conn: Connection) -> Target | None:
    """The newest target, or ``None`` when none has been set."""
    row = conn.execute(select(BP_TARGET).order_by(BP_TARGET.c.version.desc()).limit(1)).first()
    return _target(row) if row is not None else None


def target_history(conn: Connection, limit: int = 50) -> list[Target]:
    """The ``limit`` newest targets, newest first."""
    rows = conn.execute(select(BP_TARGET).order_by(BP_TARGET.c.version.desc()).limit(limit))
    return [_target(row) for row in rows]


def _insert_version(conn: Connection, version: int, blueprint_id: UUID, enabled: bool) -> Target:
    """Write target ``version``; a concurrent writer of the same version makes this fail."""
    row = conn.execute(
        insert(BP_TARGET)
        .values(
            version=version,
            blueprint_id=blueprint_id,
            enabled=enabled,
            time_made_target=func.now(),
        )
        .on_conflict_do_nothing(index_elements=[BP_TARGET.c.version])
        .returning(BP_TARGET)
    ).first()
    if row is None:
        # Someone else wrote this version after we read the previous one.
        winner = current_target(conn)
        parent = _parent_of(conn, blueprint_id)
        raise TargetParentMismatch(
            blueprint_id, parent, winner.blueprint_id if winner is not None else None
        )
    return _target(row)


def _parent_of(conn: Connection, blueprint_id: UUID) -> UUID | None:
    row = conn.execute(
        select(BLUEPRINT.c.parent_blueprint_id).where(BLUEPRINT.c.id == blueprint_id)
    ).first()
    if row is None:
        raise BlueprintNotFound(blueprint_id)
    parent: UUID | None = row.parent_blueprint_id
    return parent


def set_target(conn: Connection, blueprint_id: UUID, *, enabled: bool | None = None) -> Target:
    """Make ``blueprint_id`` the target. ``enabled=None`` keeps the current setting
    (enabled when there is no target yet). Setting the current target again only changes
    ``enabled`` (and writes nothing if that is unchanged)."""
    parent = _parent_of(conn, blueprint_id)
    current = current_target(conn)
    if current is None:
        if parent is not None:
            raise TargetParentMismatch(blueprint_id, parent, None)
        return _insert_version(conn, 1, blueprint_id, True if enabled is None else enabled)
    wanted = current.enabled if enabled is None else enabled
    if current.blueprint_id == blueprint_id:
        if wanted == current.enabled:
            return current
        return _insert_version(conn, current.version + 1, blueprint_id, wanted)
    if parent != current.blueprint_id:
        raise TargetParentMismatch(blueprint_id, parent, current.blueprint_id)
    return _insert_version(conn, current.version + 1, blueprint_id, wanted)


def set_target_enabled(conn: Connection, enabled: bool) -> Target:
    """Enable or disable execution of the current target."""
    current = current_target(conn)
    if current is None:
        raise NoTarget()
    if current.enabled == enabled:
        return current
    return _insert_version(conn, current.version + 1, current.blueprint_id, enabled)
