"""The decision: given what a blueprint asks for and what the tables hold, what to write and
what is in the way (docs/design.md#executor-semantics). Pure: no I/O.

Deallocation is decided first, and the rows it soft-deletes stop counting as holders of their
addresses, so an address can move from an expunged zone to a new zone in one blueprint.

* A row of an expunged zone is soft-deleted when live, counted when already soft-deleted, and
  when it does not exist it was never created: as good as deleted, and nothing is written for
  it (the caller records the repair). A row with that id whose parent is someone else is a
  conflict.
* An in-service zone's external IP is unchanged when the zone holds a live row equal to the
  blueprint's (id, address, kind, ports), else created from the service range holding its
  address. Its NIC is unchanged when the zone holds a live NIC equal on IPv4, IPv6, MAC, slot
  and primary flag, whatever its id or subnet (as upstream; a difference of id, subnet, name or
  transit IPs is a warning), else created. Anything else in the way is a conflict naming the
  zone, the row and the current owner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from reconfigurator.errors import Conflict, ConflictKind
from reconfigurator.networking.desired import (
    BlueprintNetworking,
    DesiredExternalIp,
    DesiredNic,
    ExpungedZoneRows,
)
from reconfigurator.networking.plan import (
    Deallocation,
    ExternalIpCreate,
    NetworkingPlan,
    NicWarning,
    RowResult,
)
from reconfigurator.networking.rows import (
    SERVICE_NIC_KIND,
    ExternalIpRow,
    IpAddress,
    NicRow,
    PoolRange,
    Table,
)
from reconfigurator.networking.state import NetworkingState


def decide(desired: BlueprintNetworking, state: NetworkingState) -> NetworkingPlan:
    """Decide deallocation, then allocation, against the same snapshot of the tables."""
    plan = NetworkingPlan()
    _deallocate(desired, state, plan)
    _allocate_external_ips(desired, state, plan, set(plan.soft_delete_ids(Table.EXTERNAL_IP)))
    _allocate_nics(desired, state, plan, set(plan.soft_delete_ids(Table.NIC)))
    _duplicate_creations(desired, plan)
    return plan


# --- deallocation ------------------------------------------------------------------------


def _deallocate(desired: BlueprintNetworking, state: NetworkingState, plan: NetworkingPlan) -> None:
    """Results for the rows of expunged zones, in executor order (zone, then table)."""
    ext_rows, nic_rows = state.expunged_external_ips, state.expunged_nics
    for index in sorted(ext_rows.keys() | nic_rows.keys()):
        zone = state.expunged_zones.get(index) or desired.expunged[index]
        if index in ext_rows:
            found = ext_rows[index]
            repaired = (Table.EXTERNAL_IP, index) in state.repaired
            plan.extend(_deallocate_row(zone, Table.EXTERNAL_IP, found, repaired))
        if index in nic_rows:
            nic = nic_rows[index]
            repaired = (Table.NIC, index) in state.repaired
            plan.extend(_deallocate_row(zone, Table.NIC, nic, repaired))
    expunged = desired.expunged_count
    for table, listed in ((Table.EXTERNAL_IP, ext_rows), (Table.NIC, nic_rows)):
        counted = state.repaired_counted.get(table, 0)
        plan.repaired_counted[table] = counted
        plan.already_soft_deleted[table] = expunged - len(listed) - counted


def _deallocate_row(
    zone: ExpungedZoneRows,
    table: Table,
    row: ExternalIpRow | NicRow | None,
    repair_recorded: bool,
) -> Deallocation | Conflict:
    row_id = zone.external_ip_id if table is Table.EXTERNAL_IP else zone.nic_id
    if row is None:
        return Deallocation(zone.zone_id, table, row_id, RowResult.NOT_FOUND, repair_recorded)
    # A NIC of another kind with this id is not the zone's, whoever its parent is.
    foreign_kind = isinstance(row, NicRow) and row.kind != SERVICE_NIC_KIND
    if row.parent_id != zone.zone_id or foreign_kind:
        return Conflict(
            ConflictKind.ROW_OWNED_BY_OTHER,
            zone.zone_id,
            table.value,
            row_id,
            "the blueprint records this row for the expunged zone, but the row"
            " belongs to another parent",
            owner=row.parent_id,
        )
    result = RowResult.APPLIED if row.live else RowResult.ALREADY_SOFT_DELETED
    return Deallocation(zone.zone_id, table, row_id, result)


# --- allocation: external IPs -------------------------------------------------------------


def _overlaps(a_first: int, a_last: int, b_first: int, b_last: int) -> bool:
    return a_first <= b_last and b_first <= a_last


def _find_range(ranges: Iterable[PoolRange], address: IpAddress) -> PoolRange | None:
    for candidate in ranges:
        if candidate.contains(address):
            return candidate
    return None


def _own_row_conflicts(
    zone: UUID, table: Table, row_id: UUID, row: ExternalIpRow | NicRow | None
) -> list[Conflict]:
    """The row with the blueprint's id, when it is not a live row of the zone."""
    if row is None:
        return []
    if row.parent_id != zone or (isinstance(row, NicRow) and row.kind != SERVICE_NIC_KIND):
        return [
            Conflict(
                ConflictKind.ROW_OWNED_BY_OTHER,
                zone,
                table.value,
                row_id,
                "this row id belongs to another parent",
                owner=row.parent_id,
            )
        ]
    if not row.live:
        return [
            Conflict(
                ConflictKind.ROW_SOFT_DELETED,
                zone,
                table.value,
                row_id,
                "the blueprint's row for this in-service zone is soft-deleted",
                owner=zone,
            )
        ]
    return []


@dataclass(slots=True)
class _ExternalIpHolders:
    by_parent: dict[UUID, list[ExternalIpRow]] = field(default_factory=lambda: defaultdict(list))
    by_ip: dict[IpAddress, list[ExternalIpRow]] = field(default_factory=lambda: defaultdict(list))
    claimed: dict[IpAddress, list[DesiredExternalIp]] = field(
        default_factory=lambda: defaultdict(list)
    )


def _external_ip_conflicts(
    desired: DesiredExternalIp, row: ExternalIpRow | None, held: _ExternalIpHolders
) -> list[Conflict]:
    zone, table = desired.zone_id, Table.EXTERNAL_IP.value
    conflicts = _own_row_conflicts(zone, Table.EXTERNAL_IP, desired.id, row)
    if row is not None and not conflicts:
        differences = desired.differences(row)
        if differences:
            conflicts.append(
                Conflict(
                    ConflictKind.ROW_MISMATCH,
                    zone,
                    table,
                    desired.id,
                    "the live row differs from the blueprint: " + ", ".join(differences),
                    owner=zone,
                )
            )
    conflicts.extend(
        Conflict(
            ConflictKind.ZONE_HOLDS_OTHER_ROW,
            zone,
            table,
            other.id,
            f"the zone already holds a different live external IP {other.ip}"
            f" (blueprint: row {desired.id}, {desired.ip})",
            owner=zone,
        )
        for other in held.by_parent.get(zone, ())
        if other.id != desired.id
    )
    conflicts.extend(
        Conflict(
            ConflictKind.EXTERNAL_IP_HELD,
            zone,
            table,
            desired.id,
            f"address {desired.ip} ports {desired.first_port}-{desired.last_port}"
            f" is held by live row {holder.id}",
            owner=holder.parent_id,
        )
        for holder in held.by_ip.get(desired.ip, ())
        if holder.id != desired.id
        and holder.parent_id != zone
        and _overlaps(holder.first_port, holder.last_port, desired.first_port, desired.last_port)
    )
    conflicts.extend(
        Conflict(
            ConflictKind.CLAIMED_IN_BLUEPRINT,
            zone,
            table,
            desired.id,
            f"address {desired.ip} is also wanted by zone {peer.zone_id} in this blueprint",
            owner=peer.zone_id,
        )
        for peer in held.claimed.get(desired.ip, ())
        if _overlaps(peer.first_port, peer.last_port, desired.first_port, desired.last_port)
    )
    return conflicts


def _allocate_external_ips(
    desired: BlueprintNetworking,
    state: NetworkingState,
    plan: NetworkingPlan,
    freed: set[UUID],
) -> None:
    held = _ExternalIpHolders()
    for existing in state.external_ips.values():
        if existing.live and existing.id not in freed:
            if existing.parent_id is not None:
                held.by_parent[existing.parent_id].append(existing)
            held.by_ip[existing.ip].append(existing)

    for wanted in desired.external_ips:
        row = state.external_ips.get(wanted.id)
        conflicts = _external_ip_conflicts(wanted, row, held)
        held.claimed[wanted.ip].append(wanted)
        # As upstream, the address must be in a live service range, held already or not.
        pool_range = _find_range(state.pool_ranges, wanted.ip)
        if pool_range is None:
            conflicts.append(
                Conflict(
                    ConflictKind.OUTSIDE_SERVICE_POOL,
                    wanted.zone_id,
                    Table.EXTERNAL_IP.value,
                    wanted.id,
                    f"IP {wanted.ip} is outside every live range of the IPv"
                    f"{wanted.ip.version} service IP pool",
                )
            )
        if conflicts:
            plan.conflicts.extend(conflicts)
        elif row is not None:
            plan.external_ip_unchanged.append(wanted)
        elif pool_range is not None:
            plan.external_ip_creates.append(ExternalIpCreate(wanted, pool_range))


# --- allocation: service NICs -------------------------------------------------------------


@dataclass(slots=True)
class _NicHolders:
    by_parent: dict[UUID, list[NicRow]] = field(default_factory=lambda: defaultdict(list))
    by_address: dict[tuple[UUID, IpAddress], list[NicRow]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_mac: dict[tuple[UUID, int], list[NicRow]] = field(default_factory=lambda: defaultdict(list))
    claimed_address: dict[tuple[UUID, IpAddress], DesiredNic] = field(default_factory=dict)
    claimed_mac: dict[int, DesiredNic] = field(default_factory=dict)

    #: Live NICs of another kind, by (parent, slot): their slot is taken for every kind.
    foreign_slots: dict[tuple[UUID, int], NicRow] = field(default_factory=dict)

    def hold(self, row: NicRow) -> None:
        if row.kind == SERVICE_NIC_KIND:
            self.by_parent[row.parent_id].append(row)
        else:
            # Upstream reads a zone's NICs through its service view: a NIC of another kind is
            # not the zone's, but it still holds its slot (the slot index covers every kind).
            self.foreign_slots[(row.parent_id, row.slot)] = row
        for address in (row.ipv4, row.ipv6):
            if address is not None:
                self.by_address[(row.subnet_id, address)].append(row)
        self.by_mac[(row.vpc_id, row.mac)].append(row)

    def claim(self, nic: DesiredNic) -> None:
        for address in (nic.ipv4, nic.ipv6):
            if address is not None:
                self.claimed_address[(nic.subnet_id, address)] = nic
        self.claimed_mac[nic.mac] = nic


def _zone_nic_conflicts(desired: DesiredNic, zone_rows: list[NicRow]) -> list[Conflict]:
    """The zone holds live NICs and none of them is the blueprint's."""
    conflicts = []
    for other in zone_rows:
        kind = (
            ConflictKind.ROW_MISMATCH
            if other.id == desired.id
            else ConflictKind.ZONE_HOLDS_OTHER_ROW
        )
        conflicts.append(
            Conflict(
                kind,
                desired.zone_id,
                Table.NIC.value,
                other.id,
                f"the zone holds live NIC {other.id} ({other.addresses}, slot {other.slot})"
                f" that differs from the blueprint's NIC {desired.id}: "
                + ", ".join(desired.differences(other)),
                owner=desired.zone_id,
            )
        )
    return conflicts


def _new_nic_conflicts(
    desired: DesiredNic, row: NicRow | None, held: _NicHolders
) -> list[Conflict]:
    """What is in the way of creating the NIC (the zone holds no live NIC)."""
    zone, table = desired.zone_id, Table.NIC.value
    conflicts = _own_row_conflicts(zone, Table.NIC, desired.id, row)
    in_slot = held.foreign_slots.get((zone, desired.slot))
    if in_slot is not None:
        conflicts.append(
            Conflict(
                ConflictKind.SLOT_HELD,
                zone,
                table,
                desired.id,
                f"slot {desired.slot} of the zone is held by live {in_slot.kind} NIC {in_slot.id}",
                owner=in_slot.parent_id,
            )
        )
    addresses = [a for a in (desired.ipv4, desired.ipv6) if a is not None]
    holders = [
        (ConflictKind.NIC_IP_HELD, holder, f"NIC IP {address}")
        for address in addresses
        for holder in held.by_address.get((desired.subnet_id, address), ())
    ] + [
        (ConflictKind.MAC_HELD, holder, f"MAC {desired.mac:#x}")
        for holder in held.by_mac.get((desired.vpc_id, desired.mac), ())
    ]
    conflicts.extend(
        Conflict(
            kind,
            zone,
            table,
            desired.id,
            f"{what} is held by live row {holder.id}",
            owner=holder.parent_id,
        )
        for kind, holder, what in holders
        if holder.id != desired.id
    )
    peers = [
        (held.claimed_address.get((desired.subnet_id, address)), f"NIC IP {address}")
        for address in addresses
    ] + [(held.claimed_mac.get(desired.mac), f"MAC {desired.mac:#x}")]
    conflicts.extend(
        Conflict(
            ConflictKind.CLAIMED_IN_BLUEPRINT,
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


def _nic_warnings(desired: DesiredNic, match: NicRow, zone_rows: list[NicRow]) -> list[NicWarning]:
    warnings = []
    incidental = desired.incidental_differences(match)
    if incidental:
        warnings.append(
            NicWarning(
                desired.zone_id,
                match.id,
                desired.id,
                "live NIC accepted as the zone's NIC (equal addresses, MAC, slot and primary)"
                " although it differs in " + ", ".join(incidental),
            )
        )
    warnings.extend(
        NicWarning(
            desired.zone_id,
            other.id,
            desired.id,
            f"the zone also holds live NIC {other.id} ({other.addresses}, slot {other.slot})",
        )
        for other in zone_rows
        if other is not match
    )
    return warnings


def _allocate_nics(
    desired: BlueprintNetworking,
    state: NetworkingState,
    plan: NetworkingPlan,
    freed: set[UUID],
) -> None:
    held = _NicHolders()
    for existing in state.nics.values():
        if existing.live and existing.id not in freed:
            held.hold(existing)

    for wanted in desired.nics:
        zone_rows = held.by_parent.get(wanted.zone_id, [])
        match = next((row for row in zone_rows if wanted.matches(row)), None)
        if match is not None:
            conflicts: list[Conflict] = []
        elif zone_rows:
            conflicts = _zone_nic_conflicts(wanted, zone_rows)
        else:
            conflicts = _new_nic_conflicts(wanted, state.nics.get(wanted.id), held)
        held.claim(wanted)
        if conflicts:
            plan.conflicts.extend(conflicts)
        elif match is not None:
            plan.nic_unchanged.append(wanted)
            plan.warnings.extend(_nic_warnings(wanted, match, zone_rows))
        else:
            plan.nic_creates.append(wanted)


# --- one row id, two zones ----------------------------------------------------------------


def _duplicate_creations(desired: BlueprintNetworking, plan: NetworkingPlan) -> None:
    """A row id the blueprint records for two zones can stand for one of them only: creating
    it for one is a conflict naming both, also when the other is an expunged zone whose row was
    never created (its row id must stay free, or every later run would find it taken). Lint
    refuses such blueprints; this keeps the decision safe without it."""
    creations = {
        Table.EXTERNAL_IP: [(c.desired.zone_id, c.desired.id) for c in plan.external_ip_creates],
        Table.NIC: [(n.zone_id, n.id) for n in plan.nic_creates],
    }
    for table, rows in creations.items():
        if not rows:
            continue
        first_zone = desired.expunged_claims(table)
        for zone_id, row_id in rows:
            if row_id not in first_zone:
                first_zone[row_id] = zone_id
                continue
            other = first_zone[row_id]
            plan.conflicts.append(
                Conflict(
                    ConflictKind.CLAIMED_IN_BLUEPRINT,
                    zone_id,
                    table.value,
                    row_id,
                    f"the blueprint records this row id for zone {other} too;"
                    " one row cannot be created for both",
                    owner=other,
                )
            )
