"""The audit: the executor's own decision, reported instead of applied.

It reads the same rows with the same statements and runs the same :func:`decide` the
executor runs, so its prediction of what will fail cannot disagree with the executor on the
same state. It adds one thing the executor does not need: live service rows that no
in-service zone of the blueprint owns (orphans).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import blueprint_exists
from reconfigurator.db.catalog import present_columns, require_columns
from reconfigurator.db.networking.read import RepairLookup, load_live_rows_outside, load_state
from reconfigurator.db.networking.stored_blueprint import load_blueprint_networking
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.schema import (
    bp_omicron_zone_nic_transit_ip_table,
    external_networking_repair_table,
)
from reconfigurator.db.targets import current_target
from reconfigurator.errors import BlueprintNotFound, ConflictKind, NoTarget
from reconfigurator.networking import (
    BlueprintNetworking,
    MissingRowPolicy,
    RowResult,
    Table,
    decide,
)

REPAIR_TABLE = external_networking_repair_table.name
TRANSIT_TABLE = bp_omicron_zone_nic_transit_ip_table.name


class FindingKind(enum.StrEnum):
    """What a finding says about a zone's row; see the comment of each member."""

    #: An in-service zone's row does not exist; the executor will create it.
    MISSING_ROW = "missing_row"
    #: An expunged zone's row is live; the executor will soft-delete it.
    LIVE_ROW_FOR_EXPUNGED_ZONE = "live_row_for_expunged_zone"
    #: An expunged zone's row was never created: benign by default, blocking under ``fail``.
    NEVER_CREATED = "never_created"
    #: Something is in the way; the executor will fail (zone, row, current owner).
    CONFLICT = "conflict"
    #: A zone's own live row differs from the blueprint; the executor will fail.
    MISMATCH = "mismatch"
    #: A live service row whose parent is not an in-service zone of the blueprint.
    ORPHAN_ROW = "orphan_row"
    #: A zone's live NIC is accepted as the blueprint's although its id, subnet, name or
    #: transit IPs differ (as upstream accepts it), or the zone holds a further live NIC.
    NIC_DIFFERS = "nic_differs"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the audit found about one row: the zone, the table and row id, the kind,
    a sentence for people, whether it would fail a run, and the row's current owner when that
    is another zone.
    """

    zone_id: UUID | None
    kind: FindingKind
    table: str
    row_id: UUID
    detail: str
    blocking: bool
    owner: UUID | None = None
    #: For ``conflict`` and ``mismatch``: what exactly is in the way.
    conflict_kind: ConflictKind | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding as ``recon audit --json`` prints it."""
        return {
            "zone_id": str(self.zone_id) if self.zone_id is not None else None,
            "kind": self.kind.value,
            "table": self.table,
            "row_id": str(self.row_id),
            "detail": self.detail,
            "blocking": self.blocking,
            "owner": str(self.owner) if self.owner is not None else None,
            "conflict_kind": self.conflict_kind.value if self.conflict_kind else None,
        }


@dataclass(slots=True)
class AuditReport:
    """Everything the audit found about one blueprint, and whether any of it would fail a run
    of the executor under the given missing-row policy.
    """

    blueprint_id: UUID
    missing_rows: MissingRowPolicy
    is_current_target: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """Whether any finding would make the executor's run fail."""
        return any(finding.blocking for finding in self.findings)

    def by_kind(self, kind: FindingKind) -> list[Finding]:
        """The findings of one kind, in report order."""
        return [finding for finding in self.findings if finding.kind is kind]

    def to_json(self) -> dict[str, Any]:
        """The report as ``recon audit --json`` prints it."""
        return {
            "blueprint_id": str(self.blueprint_id),
            "findings": [finding.to_json() for finding in self.findings],
            "blocking": self.blocking,
            "missing_rows": self.missing_rows.value,
            "is_current_target": self.is_current_target,
        }


def audit_connection(
    conn: Connection,
    blueprint: Blueprint,
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED,
) -> AuditReport:
    """Audit inside the caller's transaction (use one snapshot for a consistent answer)."""
    return _audit(conn, BlueprintNetworking.of(blueprint), RepairLookup.LIST, missing_rows)


def audit_stored_connection(
    conn: Connection,
    blueprint_id: UUID,
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED,
    *,
    repair_record: bool = True,
    transit_ips: bool = True,
) -> AuditReport:
    """Audit a stored blueprint inside the caller's transaction, reading from its rows only
    what the executor reads (the expunged zones stay in the database). Without
    ``repair_record`` (a database made by upstream's DDL) no recorded repair is looked up;
    without ``transit_ips`` the blueprint's NICs are read as having none."""
    wanted = load_blueprint_networking(conn, blueprint_id, transit_ips=transit_ips)
    lookup = RepairLookup.LIST if repair_record else RepairLookup.NONE
    return _audit(conn, wanted, lookup, missing_rows)


def _audit(
    conn: Connection,
    wanted: BlueprintNetworking,
    lookup: RepairLookup,
    missing_rows: MissingRowPolicy,
) -> AuditReport:
    target = current_target(conn)
    report = AuditReport(
        wanted.blueprint_id,
        missing_rows,
        is_current_target=target is not None and target.blueprint_id == wanted.blueprint_id,
    )
    plan = decide(wanted, load_state(conn, wanted, lookup))
    findings = report.findings
    for dealloc in plan.deallocations:
        if dealloc.result is RowResult.APPLIED:
            findings.append(
                Finding(
                    dealloc.zone_id,
                    FindingKind.LIVE_ROW_FOR_EXPUNGED_ZONE,
                    dealloc.table.value,
                    dealloc.row_id,
                    "expunged zone's row is live: the executor will soft-delete it",
                    False,
                )
            )
        elif dealloc.result is RowResult.NOT_FOUND:
            blocking = missing_rows is MissingRowPolicy.FAIL
            if blocking:
                consequence = "the executor will fail with Record not found"
            elif dealloc.repair_recorded:
                consequence = "the repair is recorded; the executor writes nothing for it"
            else:
                consequence = "the executor will write nothing for it and record the repair"
            findings.append(
                Finding(
                    dealloc.zone_id,
                    FindingKind.NEVER_CREATED,
                    dealloc.table.value,
                    dealloc.row_id,
                    f"expunged zone's row was never created: {consequence}",
                    blocking,
                )
            )
    for conflict in plan.conflicts:
        kind = FindingKind.MISMATCH if conflict.kind.is_mismatch else FindingKind.CONFLICT
        findings.append(
            Finding(
                conflict.zone_id,
                kind,
                conflict.table,
                conflict.row_id,
                f"{conflict.detail}: the executor will fail",
                True,
                conflict.owner,
                conflict.kind,
            )
        )
    for warning in plan.warnings:
        findings.append(
            Finding(
                warning.zone_id,
                FindingKind.NIC_DIFFERS,
                warning.table.value,
                warning.row_id,
                warning.detail,
                False,
            )
        )
    for create in plan.external_ip_creates:
        desired = create.desired
        findings.append(
            Finding(
                desired.zone_id,
                FindingKind.MISSING_ROW,
                Table.EXTERNAL_IP.value,
                desired.id,
                f"external IP {desired.ip} does not exist: the executor will create it",
                False,
            )
        )
    for nic in plan.nic_creates:
        findings.append(
            Finding(
                nic.zone_id,
                FindingKind.MISSING_ROW,
                Table.NIC.value,
                nic.id,
                f"service NIC {nic.addresses} does not exist: the executor will create it",
                False,
            )
        )
    being_deleted = {d.row_id for d in plan.deallocations if d.result is RowResult.APPLIED}
    in_service = list(wanted.in_service_zone_ids())
    for row in load_live_rows_outside(conn, in_service):
        if row.id in being_deleted:
            continue
        findings.append(
            Finding(
                row.parent_id,
                FindingKind.ORPHAN_ROW,
                row.table.value,
                row.id,
                f"live row ({row.address}) whose parent {row.parent_id} is not an in-service"
                " zone of the blueprint",
                False,
            )
        )
    findings.sort(key=lambda f: (str(f.zone_id), f.table, f.kind.value, str(f.row_id)))
    return report


def _read_only(conn: Connection) -> None:
    """Make the transaction read-only (PostgreSQL and CockroachDB alike): the server refuses
    any write in it."""
    conn.execute(text("SET TRANSACTION READ ONLY"))


def audit(
    engine: Engine,
    blueprint: Blueprint,
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED,
) -> AuditReport:
    """Audit ``blueprint`` in one read-only SERIALIZABLE transaction (one consistent
    snapshot), retried on serialization failures."""

    def body(conn: Connection) -> AuditReport:
        _read_only(conn)
        return audit_connection(conn, blueprint, missing_rows)

    return run_transaction(engine, body)


def audit_read_only(
    engine: Engine,
    blueprint_id: UUID | None = None,
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED,
) -> AuditReport:
    """Audit a stored blueprint (default: the current target) on any database that has
    upstream's tables, this project's or one made by upstream's own DDL, writing nothing.

    One read-only SERIALIZABLE transaction, retried on serialization failures. It needs no
    migration history of this project; it reads only columns upstream's tables have, and the
    project's own tables (the repair record, transit IPs of blueprint NICs) only where they
    exist: without the repair record every missing row of an expunged zone is reported as
    never created, without a note of an earlier repair.

    Raises :class:`~reconfigurator.errors.TablesMissing` or
    :class:`~reconfigurator.errors.ColumnsMissing` naming what the database lacks,
    :class:`~reconfigurator.errors.NoTarget` when no blueprint is given and there is no
    target, :class:`~reconfigurator.errors.BlueprintNotFound` for an unknown blueprint.
    """

    def body(conn: Connection) -> AuditReport:
        _read_only(conn)
        present = present_columns(conn)
        require_columns(present)
        chosen = blueprint_id
        if chosen is None:
            target = current_target(conn)
            if target is None:
                raise NoTarget()
            chosen = target.blueprint_id
        elif not blueprint_exists(conn, chosen):
            raise BlueprintNotFound(chosen)
        return audit_stored_connection(
            conn,
            chosen,
            missing_rows,
            repair_record=REPAIR_TABLE in present,
            transit_ips=TRANSIT_TABLE in present,
        )

    return run_transaction(engine, body)
