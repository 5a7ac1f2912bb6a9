"""The result of the decision: everything one run of the step would write, everything it
would only count, and everything that blocks it."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from reconfigurator.errors import Conflict, ExternalNetworkingConflict, RecordNotFound
from reconfigurator.networking.desired import DesiredExternalIp, DesiredNic
from reconfigurator.networking.policy import MissingRowPolicy
from reconfigurator.networking.rows import PoolRange, Table


class RowResult(enum.StrEnum):
    """What deallocation finds for one row of an expunged zone."""

    APPLIED = "applied"
    ALREADY_SOFT_DELETED = "already_soft_deleted"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Deallocation:
    """The result for one row of an expunged zone. For ``not_found``, ``repair_recorded``
    says whether an earlier run already recorded the repair."""

    zone_id: UUID
    table: Table
    row_id: UUID
    result: RowResult
    repair_recorded: bool = False


@dataclass(frozen=True, slots=True)
class ExternalIpCreate:
    """An external IP row to create, from the service range that holds its address."""

    desired: DesiredExternalIp
    pool_range: PoolRange


@dataclass(frozen=True, slots=True)
class NicWarning:
    """A live NIC accepted as a zone's NIC although it differs from the blueprint in ways
    that do not block (its id, subnet, name or transit IPs), or a further live NIC the zone
    holds. Reported, never blocking."""

    zone_id: UUID
    row_id: UUID
    blueprint_row_id: UUID
    detail: str
    table: Table = Table.NIC

    def to_json(self) -> dict[str, Any]:
        """The warning as the run report and the audit show it."""
        return {
            "zone_id": str(self.zone_id),
            "table": self.table.value,
            "row_id": str(self.row_id),
            "blueprint_row_id": str(self.blueprint_row_id),
            "detail": self.detail,
        }

    def __str__(self) -> str:
        return f"zone {self.zone_id}: {self.table.value} row {self.row_id}: {self.detail}"


@dataclass(slots=True)
class NetworkingPlan:
    """Everything one run of the step would do, and everything that blocks it."""

    deallocations: list[Deallocation] = field(default_factory=list)
    #: Rows of expunged zones already soft-deleted (counted, not listed: there may be many).
    already_soft_deleted: dict[Table, int] = field(default_factory=dict)
    #: Never-created rows whose repair was recorded before (counted, not listed).
    repaired_counted: dict[Table, int] = field(default_factory=dict)
    external_ip_creates: list[ExternalIpCreate] = field(default_factory=list)
    nic_creates: list[DesiredNic] = field(default_factory=list)
    external_ip_unchanged: list[DesiredExternalIp] = field(default_factory=list)
    nic_unchanged: list[DesiredNic] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    warnings: list[NicWarning] = field(default_factory=list)

    def extend(self, outcome: Deallocation | Conflict) -> None:
        """Add a deallocation result, or a conflict that stops it."""
        if isinstance(outcome, Conflict):
            self.conflicts.append(outcome)
        else:
            self.deallocations.append(outcome)

    def soft_delete_ids(self, table: Table) -> list[UUID]:
        """Ids of the live rows of expunged zones to soft-delete."""
        return [
            d.row_id
            for d in self.deallocations
            if d.table is table and d.result is RowResult.APPLIED
        ]

    def not_found(self) -> list[Deallocation]:
        """The listed rows of expunged zones that do not exist, in executor order."""
        return [d for d in self.deallocations if d.result is RowResult.NOT_FOUND]

    def new_repairs(self) -> list[Deallocation]:
        """Never-created rows met for the first time: reported and recorded by this run."""
        return [d for d in self.not_found() if not d.repair_recorded]

    def range_allocations(self) -> Counter[UUID]:
        """How many external IPs each service range gives out (its ``rcgen`` bump)."""
        return Counter(create.pool_range.id for create in self.external_ip_creates)

    def counts(self, table: Table) -> dict[str, int]:
        """The report's counts for one table."""
        results = [d.result for d in self.deallocations if d.table is table]
        if table is Table.EXTERNAL_IP:
            created, unchanged = len(self.external_ip_creates), len(self.external_ip_unchanged)
        else:
            created, unchanged = len(self.nic_creates), len(self.nic_unchanged)
        return {
            "soft_deleted": results.count(RowResult.APPLIED),
            "already_soft_deleted": self.already_soft_deleted.get(table, 0),
            "not_found": results.count(RowResult.NOT_FOUND) + self.repaired_counted.get(table, 0),
            "created": created,
            "unchanged": unchanged,
        }

    @property
    def writes_anything(self) -> bool:
        """Whether applying the plan changes any row (of any table)."""
        return bool(
            self.external_ip_creates
            or self.nic_creates
            or self.new_repairs()
            or self.soft_delete_ids(Table.EXTERNAL_IP)
            or self.soft_delete_ids(Table.NIC)
        )

    def blocking_error(self, policy: MissingRowPolicy) -> Exception | None:
        """The error that stops the step under ``policy``, or ``None`` if it may write.

        Under ``fail`` the first missing row (in executor order) is reported the way the old
        executor did; otherwise every conflict is reported together.
        """
        if policy is MissingRowPolicy.FAIL:
            missing = self.not_found()
            if missing:
                first = missing[0]
                return RecordNotFound(first.zone_id, first.table.value, first.row_id)
        if self.conflicts:
            return ExternalNetworkingConflict(list(self.conflicts))
        return None
