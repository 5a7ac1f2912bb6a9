"""Storing blueprints as rows (:mod:`reconfigurator.db.blueprint_rows`): insert (idempotent),
get, list, delete, and id prefixes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import String, cast, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.blueprint.parse import blueprint_from_document, json_path
from reconfigurator.db import schema
from reconfigurator.db.blueprint_rows import blueprint_document, write_blueprint_rows
from reconfigurator.db.targets import current_target
from reconfigurator.errors import (
    AmbiguousBlueprintId,
    BlueprintContentConflict,
    BlueprintInTargetHistory,
    BlueprintIsTarget,
    BlueprintNotFound,
    BlueprintRowsInconsistent,
    InputError,
)

BLUEPRINT = schema.blueprint_table
BP_TARGET = schema.bp_target_table
#: The tables holding a blueprint's parts, deleted with it (children first).
PART_TABLES = (
    schema.bp_omicron_zone_nic_transit_ip_table,
    schema.bp_omicron_zone_nic_table,
    schema.bp_omicron_zone_table,
    schema.bp_omicron_physical_disk_table,
    schema.bp_sled_metadata_table,
)


@dataclass(frozen=True, slots=True)
class BlueprintSummary:
    """A stored blueprint's metadata, as ``recon blueprint list`` shows it."""

    id: UUID
    parent_blueprint_id: UUID | None
    time_created: datetime
    creator: str
    comment: str
    is_target: bool


def insert_blueprint(conn: Connection, blueprint: Blueprint) -> bool:
    """Store ``blueprint`` as rows, in the caller's transaction: one INSERT and one COPY per
    table. Returns ``False`` when the same content was already stored.

    Raises :class:`BlueprintContentConflict` when the id exists with different content, and
    :class:`~reconfigurator.errors.BlueprintNotStorable` when two zones record one NIC id
    with different NICs.
    """
    inserted = conn.execute(
        insert(BLUEPRINT)
        .values(
            id=blueprint.id,
            parent_blueprint_id=blueprint.parent_blueprint_id,
            time_created=blueprint.time_created,
            creator=blueprint.creator,
            comment=blueprint.comment,
            external_networking_generation=blueprint.external_networking_generation,
        )
        .on_conflict_do_nothing(index_elements=[BLUEPRINT.c.id])
        .returning(BLUEPRINT.c.id)
    ).first()
    if inserted is not None:
        write_blueprint_rows(conn, blueprint)
        return True
    if get_blueprint(conn, blueprint.id) != blueprint:
        raise BlueprintContentConflict(blueprint.id)
    return False


def get_blueprint(conn: Connection, blueprint_id: UUID) -> Blueprint:
    """The stored blueprint, rebuilt from its rows (a fixed number of SELECTs)."""
    document = blueprint_document(conn, blueprint_id)
    if document is None:
        raise BlueprintNotFound(blueprint_id)
    try:
        return blueprint_from_document(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = f"{json_path(first['loc'])}: {first['msg']}"
        raise BlueprintRowsInconsistent(blueprint_id, reason) from exc


def get_blueprint_and_target_history(
    conn: Connection, blueprint_id: UUID
) -> tuple[Blueprint, bool]:
    """The blueprint and whether it is or ever was the target."""
    blueprint = get_blueprint(conn, blueprint_id)
    return blueprint, was_target(conn, blueprint_id)


def was_target(conn: Connection, blueprint_id: UUID) -> bool:
    """Whether the blueprint is or ever was the target (then it can no longer change)."""
    found = conn.execute(
        select(BP_TARGET.c.version).where(BP_TARGET.c.blueprint_id == blueprint_id).limit(1)
    ).first()
    return found is not None


def blueprint_exists(conn: Connection, blueprint_id: UUID) -> bool:
    """Whether a blueprint with this id is stored."""
    found = conn.execute(select(BLUEPRINT.c.id).where(BLUEPRINT.c.id == blueprint_id)).first()
    return found is not None


def resolve_blueprint_id(conn: Connection, reference: str) -> UUID:
    """A full id, or a unique prefix of one (at least 4 hex digits), to the stored id."""
    text = reference.strip().lower()
    try:
        full = UUID(text)
    except ValueError:
        full = None
    if full is not None:
        if not blueprint_exists(conn, full):
            raise BlueprintNotFound(full)
        return full
    if len(text) < 4 or any(c not in "0123456789abcdef-" for c in text):
        raise InputError(f"not a blueprint id or id prefix: {reference!r}")
    matches = list(
        conn.execute(
            select(BLUEPRINT.c.id)
            # LIKE works on PostgreSQL and CockroachDB alike; ``text`` holds no wildcards.
            .where(cast(BLUEPRINT.c.id, String).like(f"{text}%"))
            .order_by(BLUEPRINT.c.id)
            .limit(10)
        ).scalars()
    )
    if not matches:
        raise BlueprintNotFound(reference)
    if len(matches) > 1:
        raise AmbiguousBlueprintId(reference, list(matches))
    return UUID(str(matches[0]))


def list_blueprints(conn: Connection) -> list[BlueprintSummary]:
    """Every stored blueprint, newest first, with the current target marked."""
    target = current_target(conn)
    target_id = target.blueprint_id if target is not None else None
    rows = conn.execute(
        select(
            BLUEPRINT.c.id,
            BLUEPRINT.c.parent_blueprint_id,
            BLUEPRINT.c.time_created,
            BLUEPRINT.c.creator,
            BLUEPRINT.c.comment,
        ).order_by(BLUEPRINT.c.time_created.desc(), BLUEPRINT.c.id)
    )
    return [
        BlueprintSummary(
            id=row.id,
            parent_blueprint_id=row.parent_blueprint_id,
            time_created=row.time_created,
            creator=row.creator,
            comment=row.comment,
            is_target=row.id == target_id,
        )
        for row in rows
    ]


def delete_blueprint(conn: Connection, blueprint_id: UUID) -> None:
    """Delete a stored blueprint; the current target and past targets cannot be deleted."""
    target = current_target(conn)
    if target is not None and target.blueprint_id == blueprint_id:
        raise BlueprintIsTarget(blueprint_id)
    versions = list(
        conn.execute(
            select(BP_TARGET.c.version)
            .where(BP_TARGET.c.blueprint_id == blueprint_id)
            .order_by(BP_TARGET.c.version)
        ).scalars()
    )
    if versions:
        raise BlueprintInTargetHistory(blueprint_id, versions)
    deleted = conn.execute(delete(BLUEPRINT).where(BLUEPRINT.c.id == blueprint_id))
    if deleted.rowcount == 0:
        raise BlueprintNotFound(blueprint_id)
    for table in PART_TABLES:
        conn.execute(delete(table).where(table.c.blueprint_id == blueprint_id))
