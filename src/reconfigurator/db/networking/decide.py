"""The decision: given what a blueprint asks for and what the tables hold, what to write and
what is in the way. Pure: no I/O. The executor applies the result; the audit reports it.

Deallocation is decided first and the rows it will soft-delete stop counting as holders of
their addresses, so an address can move from an expunged zone to a new zone in one blueprint.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Final
from uuid import UUID

from reconfigurator.db.networking.rows import (
    BlueprintNetworking,
    DesiredExternalIp,
    DesiredNic,
    ExpungedZoneRows,
    ExternalIpRow,
    IpAddress,
    NicRow,
    Table,
    desired_external_ip,
    desired_nic,
)
from reconfigurator.errors import Conflict, ExternalNetworkingConflict, RecordNotFound


class MissingRowPolicy(enum.StrEnum):
    """What a missing row of an expunged zone means."""

    #: The row was never created (its blueprint was never executed): as good as deleted.
    TREAT_AS_DELETED = "treat-as-deleted"
    #: The old behaviour: fail with ``RecordNotFound`` (kept to reproduce and diagnose).
    FAIL = "fail"


class RowResult(enum.StrEnum):
    APPLIED = "applied"
    ALREADY_SOFT_DELETED = "already_soft_deleted"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Deallocation:
    zone_id: UUID
    table: Table
    row_id: UUID
    result: RowResult


@dataclass(frozen=True, slots=True)
class PoolRange:
    id: UUID
    first: IpAddress
    last: IpAddress

    def contains(self, address: IpAddress) -> bool:
        return (
            address.version == self.first.version and self.first <= address <= self.last  # type: ignore[operator]
        )


@dataclass(slots=True)
class NetworkingState:
    """The rows the decision needs.

    ``external_ips`` and ``nics`` hold the rows with the ids of in-service zones, the live rows
    of those zones and the live rows holding addresses they want. ``expunged_*`` hold, by the
    position of the zone in ``BlueprintNetworking.expunged``, the row recorded for each expunged
    zone that needs more than counting: ``None`` when no row has that id, else a live row or a
    row of another zone. Every expunged zone not listed there has its row, soft-deleted.
    """

    external_ips: dict[UUID, ExternalIpRow]
    nics: dict[UUID, NicRow]
    pool_ranges: list[PoolRange]
    expunged_external_ips: dict[int, ExternalIpRow | None]
    expunged_nics: dict[int, NicRow | None]


@dataclass(frozen=True, slots=True)
class ExternalIpCreate:
    desired: DesiredExternalIp
    pool_range_id: UUID


@dataclass(slots=True)
class NetworkingPlan:
    """Everything one run of the step would do, and everything that blocks it.

    ``*_tombstones`` are the repairs of the default missing-row policy: rows an expunged zone
    should have had but that were never created are recorded as created-and-soft-deleted, so
    the repair is reported once and later runs see ``already_soft_deleted``.
    """

    deallocations: list[Deallocation] = field(default_factory=list)
    #: Rows of expunged zones already soft-deleted (counted, not listed: there may be many).
    already_soft_deleted: dict[Table, int] = field(default_factory=dict)
    external_ip_creates: list[ExternalIpCreate] = field(default_factory=list)
    nic_creates: list[DesiredNic] = field(default_factory=list)
    external_ip_tombstones: list[ExternalIpCreate] = field(default_factory=list)
    nic_tombstones: list[DesiredNic] = field(default_factory=list)
    external_ip_unchanged: list[DesiredExternalIp] = field(default_factory=list)
    nic_unchanged: list[DesiredNic] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    def soft_delete_ids(self, table: Table) -> list[UUID]:
        return [
            d.row_id
            for d in self.deallocations
            if d.table is table and d.result is RowResult.APPLIED
        ]

    def not_found(self) -> list[Deallocation]:
        return [d for d in self.deallocations if d.result is RowResult.NOT_FOUND]

    def counts(self, table: Table) -> dict[str, int]:
        results = [d.result for d in self.deallocations if d.table is table]
        if table is Table.EXTERNAL_IP:
            created, unchanged = len(self.external_ip_creates), len(self.external_ip_unchanged)
        else:
            created, unchanged = len(self.nic_creates), len(self.nic_unchanged)
        return {
            "soft_deleted": results.count(RowResult.APPLIED),
            RowResult.ALREADY_SOFT_DELETED.value: self.already_soft_deleted.get(table, 0),
            "not_found": results.count(RowResult.NOT_FOUND),
            "created": created,
            "unchanged": unchanged,
        }

    @property
    def writes_anything(self) -> bool:
        return bool(
            self.external_ip_creates
            or self.nic_creates
            or self.external_ip_tombstones
            or self.nic_tombstones
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


def _overlaps(a_first: int, a_last: int, b_first: int, b_last: int) -> bool:
    return a_first <= b_last and b_first <= a_last


def _deallocate(wanted: BlueprintNetworking, state: NetworkingState, plan: NetworkingPlan) -> None:
    """Results for the rows of expunged zones, in executor order (zone, then table)."""
    ext_rows, nic_rows = state.expunged_external_ips, state.expunged_nics
    for index in sorted(ext_rows.keys() | nic_rows.keys()):
        zone = wanted.expunged[index]
        if index in ext_rows:
            _deallocate_row(zone, Table.EXTERNAL_IP, ext_rows[index], state, plan)
        if index in nic_rows:
            _deallocate_row(zone, Table.NIC, nic_rows[index], state, plan)
    expunged = len(wanted.expunged)
    plan.already_soft_deleted[Table.EXTERNAL_IP] = expunged - len(ext_rows)
    plan.already_soft_deleted[Table.NIC] = expunged - len(nic_rows)


def _deallocate_row(
    zone: ExpungedZoneRows,
    table: Table,
    row: ExternalIpRow | NicRow | None,
    state: NetworkingState,
    plan: NetworkingPlan,
) -> None:
    row_id = zone.external_ip_id if table is Table.EXTERNAL_IP else zone.nic_id
    parent = row.service_id if isinstance(row, NicRow) else row.parent_id if row else None
    if row is None:
        result = RowResult.NOT_FOUND
        _tombstone(zone, table, state, plan)
    elif parent != zone.zone_id:
        plan.conflicts.append(
            Conflict(
                zone.zone_id,
                table.value,
                row_id,
                "the blueprint records this row for the expunged zone, but the row"
                " belongs to another zone",
                owner=parent,
            )
        )
        return
    elif row.time_deleted is None:
        result = RowResult.APPLIED
    else:
        result = RowResult.ALREADY_SOFT_DELETED
    plan.deallocations.append(Deallocation(zone.zone_id, table, row_id, result))


#: The range id recorded on a tombstone whose address is in no service range any more.
NO_RANGE: Final = UUID(int=0)


def _tombstone(
    zone: ExpungedZoneRows, table: Table, state: NetworkingState, plan: NetworkingPlan
) -> None:
    if table is Table.EXTERNAL_IP:
        desired = desired_external_ip(zone.zone)
        if desired is not None:
            found = _find_range(state.pool_ranges, desired.ip)
            plan.external_ip_tombstones.append(
                ExternalIpCreate(desired, found.id if found is not None else NO_RANGE)
            )
    else:
        nic = desired_nic(zone.zone)
        if nic is not None:
            plan.nic_tombstones.append(nic)


def _find_range(ranges: Iterable[PoolRange], address: IpAddress) -> PoolRange | None:
    for candidate in ranges:
        if candidate.contains(address):
            return candidate
    return None


def _own_row_conflict(
    zone: UUID,
    table: Table,
    row_id: UUID,
    found: tuple[UUID | None, bool, list[str]] | None,
) -> Conflict | None:
    """Check the row with the blueprint's id, given as (parent, live, differences)."""
    if found is None:
        return None
    parent, live, differences = found
    if parent != zone:
        return Conflict(zone, table.value, row_id, "this row id belongs to another zone", parent)
    if not live:
        return Conflict(
            zone,
            table.value,
            row_id,
            "the blueprint's row for this in-service zone is soft-deleted",
        )
    if differences:
        return Conflict(
            zone,
            table.value,
            row_id,
            "the live row differs from the blueprint: " + ", ".join(differences),
            code="mismatch",
        )
    return None


def _external_ip_conflicts(
    desired: DesiredExternalIp,
    row: ExternalIpRow | None,
    by_parent: dict[UUID, list[ExternalIpRow]],
    by_ip: dict[IpAddress, list[ExternalIpRow]],
    claimed: dict[IpAddress, list[DesiredExternalIp]],
) -> list[Conflict]:
    zone, table = desired.zone_id, Table.EXTERNAL_IP.value
    found = None if row is None else (row.parent_id, row.live, desired.matches(row))
    own = _own_row_conflict(zone, Table.EXTERNAL_IP, desired.id, found)
    conflicts = [own] if own is not None else []
    conflicts.extend(
        Conflict(
            zone,
            table,
            other.id,
            f"the zone already holds a different live external IP {other.ip}"
            f" (blueprint: row {desired.id}, {desired.ip})",
        )
        for other in by_parent.get(zone, ())
        if other.id != desired.id
    )
    conflicts.extend(
        Conflict(
            zone,
            table,
            desired.id,
            f"address {desired.ip} ports {desired.first_port}-{desired.last_port}"
            f" is held by live row {holder.id}",
            owner=holder.parent_id,
        )
        for holder in by_ip.get(desired.ip, ())
        if holder.id != desired.id
        and _overlaps(holder.first_port, holder.last_port, desired.first_port, desired.last_port)
    )
    conflicts.extend(
        Conflict(
            zone,
            table,
            desired.id,
            f"address {desired.ip} is also wanted by zone {peer.zone_id} in this blueprint",
            owner=peer.zone_id,
        )
        for peer in claimed.get(desired.ip, ())
        if _overlaps(peer.first_port, peer.last_port, desired.first_port, desired.last_port)
    )
    return conflicts


def _allocate_external_ips(
    wanted: BlueprintNetworking,
    state: NetworkingState,
    plan: NetworkingPlan,
    freed: set[UUID],
) -> None:
    by_parent: dict[UUID, list[ExternalIpRow]] = defaultdict(list)
    by_ip: dict[IpAddress, list[ExternalIpRow]] = defaultdict(list)
    for existing in state.external_ips.values():
        if existing.live and existing.id not in freed:
            if existing.parent_id is not None:
                by_parent[existing.parent_id].append(existing)
            by_ip[existing.ip].append(existing)
    claimed: dict[IpAddress, list[DesiredExternalIp]] = defaultdict(list)

    for desired in wanted.external_ips:
        row = state.external_ips.get(desired.id)
        conflicts = _external_ip_conflicts(desired, row, by_parent, by_ip, claimed)
        claimed[desired.ip].append(desired)
        if conflicts:
            plan.conflicts.extend(conflicts)
        elif row is not None:
            plan.external_ip_unchanged.append(desired)
        else:
            pool_range = _find_range(state.pool_ranges, desired.ip)
            if pool_range is None:
                plan.conflicts.append(
                    Conflict(
                        desired.zone_id,
                        Table.EXTERNAL_IP.value,
                        desired.id,
                        f"IP {desired.ip} is outside every service IP pool range",
                    )
                )
            else:
                plan.external_ip_creates.append(ExternalIpCreate(desired, pool_range.id))


@dataclass(slots=True)
class _NicHolders:
    by_service: dict[UUID, list[NicRow]] = field(default_factory=lambda: defaultdict(list))
    by_address: dict[tuple[UUID, IPv4Address], list[NicRow]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_mac: dict[tuple[UUID, int], list[NicRow]] = field(default_factory=lambda: defaultdict(list))
    claimed_address: dict[tuple[UUID, IPv4Address], DesiredNic] = field(default_factory=dict)
    claimed_mac: dict[int, DesiredNic] = field(default_factory=dict)


def _nic_conflicts(desired: DesiredNic, row: NicRow | None, held: _NicHolders) -> list[Conflict]:
    zone, table = desired.zone_id, Table.NIC.value
    found = None if row is None else (row.service_id, row.live, desired.matches(row))
    own = _own_row_conflict(zone, Table.NIC, desired.id, found)
    conflicts = [own] if own is not None else []
    conflicts.extend(
        Conflict(
            zone,
            table,
            other.id,
            f"the zone already has a different live "
            f"{'slot' if other.slot == desired.slot else 'NIC'} ({other.ipv4}, slot {other.slot};"
            f" blueprint: row {desired.id})",
        )
        for other in held.by_service.get(zone, ())
        if other.id != desired.id
    )
    holders = [
        (holder, f"NIC IP {desired.ipv4}")
        for holder in held.by_address.get((desired.subnet_id, desired.ipv4), ())
    ] + [
        (holder, f"MAC {desired.mac:#x}")
        for holder in held.by_mac.get((desired.vpc_id, desired.mac), ())
    ]
    conflicts.extend(
        Conflict(
            zone,
            table,
            desired.id,
            f"{what} is held by live row {holder.id}",
            owner=holder.service_id,
        )
        for holder, what in holders
        if holder.id != desired.id
    )
    peers = [
        (held.claimed_address.get((desired.subnet_id, desired.ipv4)), f"NIC IP {desired.ipv4}"),
        (held.claimed_mac.get(desired.mac), f"MAC {desired.mac:#x}"),
    ]
    conflicts.extend(
        Conflict(
            zone,
            table,
            desired.id,
            f"{what} is also wanted by zone {peer.zone_id} in this blueprint",
            owner=peer.zone_id,
        )
        for peer, what in peers
        if peer is not None
    )
    return conflicts


def _allocate_nics(
    wanted: BlueprintNetworking,
    state: NetworkingState,
    plan: NetworkingPlan,
    freed: set[UUID],
) -> None:
    held = _NicHolders()
    for existing in state.nics.values():
        if existing.live and existing.id not in freed:
            held.by_service[existing.service_id].append(existing)
            held.by_address[(existing.subnet_id, existing.ipv4)].append(existing)
            held.by_mac[(existing.vpc_id, existing.mac)].append(existing)

    for desired in wanted.nics:
        row = state.nics.get(desired.id)
        conflicts = _nic_conflicts(desired, row, held)
        held.claimed_address[(desired.subnet_id, desired.ipv4)] = desired
        held.claimed_mac[desired.mac] = desired
        if conflicts:
            plan.conflicts.extend(conflicts)
        elif row is not None:
            plan.nic_unchanged.append(desired)
        else:
            plan.nic_creates.append(desired)


def _duplicate_creations(plan: NetworkingPlan) -> None:
    """A row id the blueprint records for two zones (an in-service zone and an expunged one
    whose row was never created, say) can be created only once: a conflict naming both."""
    creations = {
        Table.EXTERNAL_IP: [
            (c.desired.zone_id, c.desired.id)
            for c in plan.external_ip_creates + plan.external_ip_tombstones
        ],
        Table.NIC: [(n.zone_id, n.id) for n in plan.nic_creates + plan.nic_tombstones],
    }
    for table, rows in creations.items():
        first_zone: dict[UUID, UUID] = {}
        for zone_id, row_id in rows:
            if row_id not in first_zone:
                first_zone[row_id] = zone_id
                continue
            other = first_zone[row_id]
            plan.conflicts.append(
                Conflict(
                    zone_id,
                    table.value,
                    row_id,
                    f"the blueprint records this row id for zone {other} too;"
                    " one row cannot be created for both",
                    owner=other,
                )
            )


def decide(wanted: BlueprintNetworking, state: NetworkingState) -> NetworkingPlan:
    """Decide deallocation, then allocation, against the same snapshot of the tables."""
    plan = NetworkingPlan()
    _deallocate(wanted, state, plan)
    _allocate_external_ips(wanted, state, plan, set(plan.soft_delete_ids(Table.EXTERNAL_IP)))
    _allocate_nics(wanted, state, plan, set(plan.soft_delete_ids(Table.NIC)))
    _duplicate_creations(plan)
    return plan
