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

from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.networking.decide import MissingRowPolicy, RowResult, decide
from reconfigurator.db.networking.rows import BlueprintNetworking, Table
from reconfigurator.db.networking.state import load_live_rows_outside, load_state
from reconfigurator.db.targets import current_target
from reconfigurator.db.url import is_cockroachdb


class FindingKind(enum.StrEnum):
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


@dataclass(frozen=True, slots=True)
class Finding:
    zone_id: UUID | None
    kind: FindingKind
    table: str
    row_id: UUID
    detail: str
    blocking: bool
    owner: UUID | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "zone_id": str(self.zone_id) if self.zone_id is not None else None,
            "kind": self.kind.value,
            "table": self.table,
            "row_id": str(self.row_id),
            "detail": self.detail,
            "blocking": self.blocking,
            "owner": str(self.owner) if self.owner is not None else None,
        }


@dataclass(slots=True)
class AuditReport:
    blueprint_id: UUID
    missing_rows: MissingRowPolicy
    is_current_target: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return any(finding.blocking for finding in self.findings)

    def by_kind(self, kind: FindingKind) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind is kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "blueprint_id": str(self.blueprint_id),
            "findings": [finding.to_json() for finding in self.findings],
            "blocking": self.blocking,
            "missing_rows": self.missing_rows.value,
            "is_current_target": self.is_current_target,
        }


def _as_uuid(value: object) -> UUID | None:
    return value if isinstance(value, UUID) else None


def audit_connection(
    conn: Connection,
    blueprint: Blueprint,
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED,
) -> AuditReport:
    """Audit inside the caller's transaction (use one snapshot for a consistent answer)."""
    target = current_target(conn)
    report = AuditReport(
        blueprint.id,
        missing_rows,
        is_current_target=target is not None and target.blueprint_id == blueprint.id,
    )
    wanted = BlueprintNetworking.of(blueprint)
    plan = decide(wanted, load_state(conn, wanted))
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
            consequence = (
                "the executor will fail with Record not found"
                if blocking
                else "the executor will record it as deleted (a repair)"
            )
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
        kind = FindingKind.MISMATCH if conflict.code == "mismatch" else FindingKind.CONFLICT
        row_id = _as_uuid(conflict.row_id)
        zone_id = _as_uuid(conflict.zone_id)
        assert row_id is not None
        findings.append(
            Finding(
                zone_id,
                kind,
                conflict.table,
                row_id,
                f"{conflict.detail}: the executor will fail",
                True,
                _as_uuid(conflict.owner),
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
                f"service NIC {nic.ipv4} does not exist: the executor will create it",
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


def audit(
    engine: Engine,
    blueprint: Blueprint,
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED,
) -> AuditReport:
    """Audit in one transaction that sees one consistent snapshot (REPEATABLE READ on
    PostgreSQL; CockroachDB runs it SERIALIZABLE)."""
    level = "SERIALIZABLE" if is_cockroachdb(engine.url) else "REPEATABLE READ"
    with engine.connect() as conn:
        conn.execution_options(isolation_level=level)
        with conn.begin():
            return audit_connection(conn, blueprint, missing_rows)
