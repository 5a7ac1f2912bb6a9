"""``plan``: the child of a blueprint, given the planning input (as the upstream planner does).

One planning pass, in this order:

1. **Sleds and disks.** Sleds of the input that the parent does not know yet are added (state
   ``active``, their in-service disks in service); new in-service disks of known sleds are added.
2. **Expunge.** A disk whose policy is ``expunged`` (or whose state is ``decommissioned``) is
   expunged, and so is every in-service zone whose ``filesystem_pool`` is that disk's pool. A
   sled that is no longer in service has all its disks and zones expunged; a decommissioned
   sled becomes ``decommissioned`` in the blueprint. Expunged items get
   ``as_of_generation`` = one more than the highest generation the parent records.
3. **Replace.** For each kind with external networking (Nexus, external DNS, boundary NTP),
   zones are added until the in-service count reaches the :class:`ZonePolicy` count:

   - eligible sleds are in service, active, and have in-service pools; a sled takes a boundary
     NTP zone only if it has none, other kinds only while it has fewer zones of that kind than
     in-service pools;
   - the sled with the fewest zones of the kind wins, then the fewest in-service zones, then
     the lowest id; the pool is the first in-service pool (by pool id) without a zone of the kind;
   - the zone gets the lowest free external IP of the service pools' ranges, IPv4 before IPv6
     (boundary NTP: the lowest free IP and aligned 16384-port block), the lowest free NIC
     address of its subnet outside the reserved ones, and the lowest free MAC of the system
     range. The NIC's address is of the external IP's family, as upstream plans, or one of
     each family when the rack's NICs are dual-stack (:class:`NicIpStack`). Only in-service
     zones hold resources: what expunged zones held is free again.

Nothing changed → no blueprint. When a policy count cannot be reached, a note says why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from uuid import UUID

from reconfigurator.blueprint.model import (
    IN_SERVICE,
    Blueprint,
    BlueprintDisk,
    BlueprintSled,
    BlueprintZone,
    BoundaryNtpZone,
    ExpungedDisposition,
    ExternalDnsZone,
    ExternalIp,
    NexusZone,
    ServiceNic,
    SledState,
    SnatExternalIp,
)
from reconfigurator.blueprint.networking_generation import expected_generation
from reconfigurator.fixed_data import (
    FLOATING_FIRST_PORT,
    FLOATING_LAST_PORT,
    MAC_RANGE_FIRST,
    MAC_RANGE_LAST,
    RESERVED_LEADING_ADDRESSES,
    SERVICE_SUBNETS,
    SERVICES_VPC_VNI,
    SNAT_BLOCK_PORTS,
    IpVersion,
    ServiceKind,
    int_to_mac,
)
from reconfigurator.planner.ids import IdSource
from reconfigurator.planning_input import IpRange, NicIpStack, PlanningInput, SledInput

__all__ = ["PlanResult", "plan"]

_log = logging.getLogger(__name__)

IpAddress = IPv4Address | IPv6Address

#: The blueprint generation of a rack nothing has been expunged from yet.
BASE_GENERATION = 1

COMMENT_MAX_CHARS = 4096

_SNAT_BLOCKS = (FLOATING_LAST_PORT + 1) // SNAT_BLOCK_PORTS


@dataclass(frozen=True, slots=True)
class PlanResult:
    """What one planning pass produced.

    ``blueprint`` is the child, or ``None`` when nothing changed. ``changes`` lists what the
    child changes (also its comment); ``notes`` explains what the planner could not or would
    not do (an unreachable policy count, input it ignored).
    """

    blueprint: Blueprint | None
    changes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.blueprint is not None


def plan(
    parent: Blueprint | None,
    planning_input: PlanningInput,
    ids: IdSource,
    *,
    now: datetime | None = None,
    creator: str = "planner",
) -> PlanResult:
    """Plan the child of ``parent`` (``None``: the rack's initial blueprint).

    ``ids`` supplies every new id (blueprint, zones, external IPs, NICs), so a seeded source
    makes planning reproducible. ``now`` (timezone-aware) is the child's creation time.
    """
    fresh = _FreshIds(ids, _ids_in_use(parent, planning_input))
    draft = _Draft.of(parent, planning_input.nic_ip_stack or _rack_nic_ip_stack(parent))
    draft.apply_input(planning_input)
    draft.expunge_orphaned_zones()
    for kind, target in planning_input.zone_policy.items():
        draft.place(kind, target, planning_input, fresh)

    if not draft.changes:
        _log.info(
            "planning found nothing to change",
            extra={"parent_blueprint_id": str(parent.id) if parent else None},
        )
        return PlanResult(None, (), tuple(draft.notes))

    sleds = tuple(sled.build() for sled in draft.sleds.values())
    child = Blueprint(
        id=fresh.new_id(),
        parent_blueprint_id=parent.id if parent is not None else None,
        time_created=now if now is not None else datetime.now(UTC),
        creator=creator,
        comment=_comment(draft.changes),
        external_networking_generation=expected_generation(parent, sleds),
        sleds=sleds,
    )
    _log.info(
        "planned a new blueprint",
        extra={
            "blueprint_id": str(child.id),
            "parent_blueprint_id": str(parent.id) if parent else None,
            "changes": len(draft.changes),
            "notes": len(draft.notes),
        },
    )
    return PlanResult(child, tuple(draft.changes), tuple(draft.notes))


def _rack_nic_ip_stack(parent: Blueprint | None) -> NicIpStack:
    """Dual-stack when every in-service service NIC of the parent is (and there is one)."""
    nics = [zone.nic for zone in parent.in_service_zones()] if parent is not None else []
    present = [nic for nic in nics if nic is not None]
    if present and all(nic.ip is not None and nic.ipv6 is not None for nic in present):
        return NicIpStack.DUAL_STACK
    return NicIpStack.FOLLOW_EXTERNAL_IP


def _comment(changes: list[str]) -> str:
    text = "; ".join(changes)
    if len(text) <= COMMENT_MAX_CHARS:
        return text
    return text[: COMMENT_MAX_CHARS - 3] + "..."


class _FreshIds:
    """An id source that never repeats an id the parent or the input already uses.

    A seeded source reused across planning passes would otherwise hand out the parent's
    zone and row ids again.
    """

    def __init__(self, source: IdSource, in_use: set[UUID]) -> None:
        self._source = source
        self._in_use = in_use

    def new_id(self) -> UUID:
        while True:
            candidate = self._source.new_id()
            if candidate not in self._in_use:
                self._in_use.add(candidate)
                return candidate


def _ids_in_use(parent: Blueprint | None, planning_input: PlanningInput) -> set[UUID]:
    in_use: set[UUID] = set()
    for sled_input in planning_input.sleds:
        in_use.add(sled_input.id)
        in_use.update(d.id for d in sled_input.disks)
        in_use.update(d.pool_id for d in sled_input.disks)
    if parent is None:
        return in_use
    in_use.add(parent.id)
    if parent.parent_blueprint_id is not None:
        in_use.add(parent.parent_blueprint_id)
    for sled in parent.sleds:
        in_use.add(sled.id)
        in_use.update(d.id for d in sled.disks)
        in_use.update(d.pool_id for d in sled.disks)
        for zone in sled.zones:
            in_use.add(zone.id)
            if zone.external_ip is not None:
                in_use.add(zone.external_ip.id)
            if zone.nic is not None:
                in_use.add(zone.nic.id)
    return in_use


# --- the draft: a mutable copy of the parent -----------------------------------------------------


@dataclass
class _SledDraft:
    id: UUID
    state: SledState
    disks: dict[UUID, BlueprintDisk] = field(default_factory=dict)
    zones: dict[UUID, BlueprintZone] = field(default_factory=dict)

    @classmethod
    def of(cls, sled: BlueprintSled) -> _SledDraft:
        return cls(
            sled.id,
            sled.state,
            {disk.id: disk for disk in sled.disks},
            {zone.id: zone for zone in sled.zones},
        )

    def build(self) -> BlueprintSled:
        return BlueprintSled(
            id=self.id,
            state=self.state,
            disks=tuple(self.disks.values()),
            zones=tuple(self.zones.values()),
        )

    def in_service_zones(self) -> Iterator[BlueprintZone]:
        return (zone for zone in self.zones.values() if zone.is_in_service)

    def count(self, kind: ServiceKind) -> int:
        return sum(1 for zone in self.in_service_zones() if zone.kind.value == kind.value)


@dataclass
class _Draft:
    sleds: dict[UUID, _SledDraft]
    generation: int
    nic_ip_stack: NicIpStack
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, parent: Blueprint | None, nic_ip_stack: NicIpStack) -> _Draft:
        sleds = {sled.id: _SledDraft.of(sled) for sled in parent.sleds} if parent else {}
        return cls(sleds, _highest_generation(parent) + 1, nic_ip_stack)

    def _expunged(self) -> ExpungedDisposition:
        return ExpungedDisposition(
            kind="expunged", as_of_generation=self.generation, ready_for_cleanup=False
        )

    def in_service_zones(self) -> Iterator[BlueprintZone]:
        for sled in self.sleds.values():
            yield from sled.in_service_zones()

    # --- step 1 and 2: sleds and disks ---------------------------------------------------------

    def apply_input(self, planning_input: PlanningInput) -> None:
        known_disks = {d.id for s in self.sleds.values() for d in s.disks.values()}
        known_pools = {d.pool_id for s in self.sleds.values() for d in s.disks.values()}
        for sled_input in planning_input.sleds:
            sled = self.sleds.get(sled_input.id)
            if sled is None:
                self._add_sled(sled_input, known_disks, known_pools)
            elif sled_input.is_in_service:
                self._update_disks(sled, sled_input, known_disks, known_pools)
            else:
                self._expunge_sled(sled, sled_input)
        for sled_id in sorted(set(self.sleds) - {s.id for s in planning_input.sleds}):
            self.notes.append(
                f"sled {sled_id} is in the parent blueprint but not in the planning input:"
                " left as it is, and no new zones are placed on it"
            )

    def _add_sled(
        self, sled_input: SledInput, known_disks: set[UUID], known_pools: set[UUID]
    ) -> None:
        if not sled_input.is_in_service:
            self.notes.append(
                f"sled {sled_input.id} is not in service (policy {sled_input.policy},"
                f" state {sled_input.state}) and not in the parent blueprint: not added"
            )
            return
        sled = _SledDraft(sled_input.id, SledState.ACTIVE)
        self.sleds[sled.id] = sled
        added = self._add_disks(sled, sled_input, known_disks, known_pools)
        self._change(f"added sled {sled.id} with {added} disk{'s' if added != 1 else ''}")

    def _add_disks(
        self,
        sled: _SledDraft,
        sled_input: SledInput,
        known_disks: set[UUID],
        known_pools: set[UUID],
    ) -> int:
        added = 0
        for disk in sled_input.disks:
            if disk.id in sled.disks or not disk.is_in_service:
                continue
            if disk.id in known_disks or disk.pool_id in known_pools:
                self.notes.append(
                    f"disk {disk.id} (pool {disk.pool_id}) of sled {sled.id}: its disk or pool"
                    " id is already used elsewhere in the blueprint: not added"
                )
                continue
            sled.disks[disk.id] = BlueprintDisk(
                id=disk.id, pool_id=disk.pool_id, disposition=IN_SERVICE
            )
            known_disks.add(disk.id)
            known_pools.add(disk.pool_id)
            added += 1
        return added

    def _update_disks(
        self,
        sled: _SledDraft,
        sled_input: SledInput,
        known_disks: set[UUID],
        known_pools: set[UUID],
    ) -> None:
        for disk in sled_input.disks:
            current = sled.disks.get(disk.id)
            if current is None:
                continue
            if current.is_in_service and not disk.is_in_service:
                sled.disks[disk.id] = current.model_copy(update={"disposition": self._expunged()})
                self._change(
                    f"expunged disk {disk.id} (pool {disk.pool_id}) of sled {sled.id}:"
                    f" policy {disk.policy}, state {disk.state}"
                )
        for disk_id in sorted(sled.disks.keys() - {d.id for d in sled_input.disks}):
            if sled.disks[disk_id].is_in_service:
                self.notes.append(
                    f"disk {disk_id} of sled {sled.id} is in the parent blueprint but not in the"
                    " planning input: left as it is, and no new zones are placed on it"
                )
        before = len(sled.disks)
        added = self._add_disks(sled, sled_input, known_disks, known_pools)
        if added:
            self._change(
                f"added {added} disk{'s' if added != 1 else ''} to sled {sled.id}"
                f" (now {before + added})"
            )

    def _expunge_sled(self, sled: _SledDraft, sled_input: SledInput) -> None:
        reason = f"sled {sled.id} is {sled_input.policy} ({sled_input.state})"
        for disk in list(sled.disks.values()):
            if disk.is_in_service:
                sled.disks[disk.id] = disk.model_copy(update={"disposition": self._expunged()})
                self._change(f"expunged disk {disk.id} (pool {disk.pool_id}): {reason}")
        for zone in list(sled.zones.values()):
            if zone.is_in_service:
                self._expunge_zone(sled, zone, reason)
        if sled_input.state is SledState.DECOMMISSIONED and sled.state is SledState.ACTIVE:
            sled.state = SledState.DECOMMISSIONED
            self._change(f"sled {sled.id} is decommissioned")

    def expunge_orphaned_zones(self) -> None:
        """Expunge in-service zones whose pool is on an expunged disk."""
        for sled in self.sleds.values():
            expunged_pools = {
                disk.pool_id: disk.id for disk in sled.disks.values() if not disk.is_in_service
            }
            for zone in list(sled.zones.values()):
                if zone.is_in_service and zone.filesystem_pool in expunged_pools:
                    disk_id = expunged_pools[zone.filesystem_pool]
                    self._expunge_zone(
                        sled, zone, f"its pool {zone.filesystem_pool} is on expunged disk {disk_id}"
                    )

    def _expunge_zone(self, sled: _SledDraft, zone: BlueprintZone, reason: str) -> None:
        sled.zones[zone.id] = zone.model_copy(update={"disposition": self._expunged()})
        self._change(f"expunged {zone.kind} zone {zone.id} on sled {sled.id}: {reason}")

    def _change(self, message: str) -> None:
        self.changes.append(message)
        _log.debug("planner change", extra={"change": message})

    # --- step 3: replacements --------------------------------------------------------------------

    def place(
        self, kind: ServiceKind, target: int, planning_input: PlanningInput, ids: IdSource
    ) -> None:
        current = sum(1 for zone in self.in_service_zones() if zone.kind.value == kind.value)
        if current > target:
            self.notes.append(
                f"{current} {kind} zones are in service, more than the policy's {target}:"
                " none are removed"
            )
            return
        for placed in range(target - current):
            problem = self._place_one(kind, planning_input, ids)
            if problem is not None:
                missing = target - current - placed
                self.notes.append(
                    f"{kind}: {current + placed} of {target} zones in service;"
                    f" cannot place {missing} more: {problem}"
                )
                return

    def _place_one(
        self, kind: ServiceKind, planning_input: PlanningInput, ids: IdSource
    ) -> str | None:
        """Place one zone of ``kind``; returns why it cannot be placed, or ``None``."""
        choice = self._choose_sled_and_pool(kind, planning_input)
        if choice is None:
            limit = (
                "no boundary NTP zone yet"
                if kind is ServiceKind.BOUNDARY_NTP
                else f"fewer {kind} zones than in-service disks"
            )
            return f"no eligible sled (in service, active, with an in-service disk and {limit})"
        sled, pool = choice
        zones = list(self.in_service_zones())
        snat = kind is ServiceKind.BOUNDARY_NTP
        found = (_free_snat if snat else _free_floating_ip)(planning_input.ip_ranges, zones)
        if found is None:
            what = "IP and SNAT port block" if snat else "IP"
            return _pool_exhausted(planning_input.ip_ranges, what)
        external_ip, first_port, last_port = found
        versions = (
            (IpVersion.V4, IpVersion.V6)
            if self.nic_ip_stack is NicIpStack.DUAL_STACK
            else (IpVersion.of(external_ip),)
        )
        nic_ips: dict[IpVersion, IpAddress] = {}
        for version in versions:
            nic_ip = _free_nic_ip(kind, zones, version)
            if nic_ip is None:
                network = SERVICE_SUBNETS[kind].network(version)
                return f"no free address in the {kind} subnet {network}"
            nic_ips[version] = nic_ip
        mac = _free_mac(zones)
        if mac is None:
            return "no free MAC address in the system range"

        zone_id = ids.new_id()
        external_ip_id = ids.new_id()
        subnet = SERVICE_SUBNETS[kind]
        ipv4, ipv6 = nic_ips.get(IpVersion.V4), nic_ips.get(IpVersion.V6)
        nic = ServiceNic(
            id=ids.new_id(),
            name=kind.row_name(zone_id),
            ip=ipv4,
            mac=int_to_mac(mac),
            subnet=subnet.ipv4 if ipv4 is not None else None,
            vni=SERVICES_VPC_VNI,
            primary=True,
            slot=0,
            ipv6=ipv6,
            ipv6_subnet=subnet.ipv6 if ipv6 is not None else None,
        )
        zone_type: NexusZone | ExternalDnsZone | BoundaryNtpZone
        if snat:
            zone_type = BoundaryNtpZone(
                kind="boundary_ntp",
                external_ip=SnatExternalIp(
                    id=external_ip_id, ip=external_ip, first_port=first_port, last_port=last_port
                ),
                nic=nic,
            )
        elif kind is ServiceKind.NEXUS:
            zone_type = NexusZone(
                kind="nexus", external_ip=ExternalIp(id=external_ip_id, ip=external_ip), nic=nic
            )
        else:
            zone_type = ExternalDnsZone(
                kind="external_dns",
                external_ip=ExternalIp(id=external_ip_id, ip=external_ip),
                nic=nic,
            )
        zone = BlueprintZone(
            id=zone_id, filesystem_pool=pool, disposition=IN_SERVICE, zone_type=zone_type
        )
        sled.zones[zone.id] = zone
        ports = f" ports {first_port}-{last_port}" if snat else ""
        self._change(
            f"added {kind} zone {zone.id} on sled {sled.id} pool {pool}"
            f" (external IP {external_ip}{ports},"
            f" NIC {' '.join(str(a) for a in nic_ips.values())}, MAC {nic.mac})"
        )
        return None

    def _choose_sled_and_pool(
        self, kind: ServiceKind, planning_input: PlanningInput
    ) -> tuple[_SledDraft, UUID] | None:
        best: tuple[tuple[int, int, UUID], _SledDraft, UUID] | None = None
        for sled_input in planning_input.sleds:
            sled = self.sleds.get(sled_input.id)
            if sled is None or not sled_input.is_in_service or sled.state is not SledState.ACTIVE:
                continue
            pools = _in_service_pools(sled, sled_input)
            if not pools:
                continue
            count = sled.count(kind)
            limit = 1 if kind is ServiceKind.BOUNDARY_NTP else len(pools)
            if count >= limit:
                continue
            taken = {
                zone.filesystem_pool
                for zone in sled.in_service_zones()
                if zone.kind.value == kind.value
            }
            free = [pool for pool in pools if pool not in taken]
            if not free:
                continue
            key = (count, sum(1 for _ in sled.in_service_zones()), sled.id)
            if best is None or key < best[0]:
                best = (key, sled, free[0])
        return (best[1], best[2]) if best is not None else None


def _in_service_pools(sled: _SledDraft, sled_input: SledInput) -> list[UUID]:
    """Pools in service both in the blueprint and in the planning input, by pool id."""
    usable = {disk.id for disk in sled_input.disks if disk.is_in_service}
    return sorted(
        disk.pool_id for disk in sled.disks.values() if disk.is_in_service and disk.id in usable
    )


def _highest_generation(parent: Blueprint | None) -> int:
    highest = BASE_GENERATION
    if parent is None:
        return highest
    for sled in parent.sleds:
        dispositions = [disk.disposition for disk in sled.disks]
        dispositions += [zone.disposition for zone in sled.zones]
        for disposition in dispositions:
            if isinstance(disposition, ExpungedDisposition):
                highest = max(highest, disposition.as_of_generation)
    return highest


# --- allocators: the lowest free resource, given the in-service zones ----------------------------


def _addresses(ranges: Iterable[IpRange]) -> Iterator[IpAddress]:
    """Every address of ``ranges``, lowest first, lazily.

    Callers stop at the first free address, so a range is walked only past addresses that
    in-service zones hold: at most their number plus one, however large the range is.
    """
    for first, last in ranges:
        make = type(first)
        for value in range(int(first), int(last) + 1):
            yield make(value)


def _free_floating_ip(
    ranges: Iterable[IpRange], zones: list[BlueprintZone]
) -> tuple[IpAddress, int, int] | None:
    """The lowest ``(ip, 0, 65535)`` that no in-service zone holds any port of."""
    used = {ip.ip for ip in _external_ips(zones)}
    for address in _addresses(ranges):
        if address not in used:
            return address, FLOATING_FIRST_PORT, FLOATING_LAST_PORT
    return None


def _free_snat(
    ranges: Iterable[IpRange], zones: list[BlueprintZone]
) -> tuple[IpAddress, int, int] | None:
    """The lowest free ``(ip, first_port, last_port)`` SNAT block."""
    held: dict[IpAddress, list[tuple[int, int]]] = {}
    for ip in _external_ips(zones):
        held.setdefault(ip.ip, []).append((ip.first_port, ip.last_port))
    for address in _addresses(ranges):
        taken = held.get(address, [])
        for block in range(_SNAT_BLOCKS):
            first = block * SNAT_BLOCK_PORTS
            last = first + SNAT_BLOCK_PORTS - 1
            if all(last < lo or first > hi for lo, hi in taken):
                return address, first, last
    return None


def _external_ips(zones: list[BlueprintZone]) -> Iterator[ExternalIp | SnatExternalIp]:
    for zone in zones:
        external_ip = zone.external_ip
        if external_ip is not None:
            yield external_ip


def _free_nic_ip(
    kind: ServiceKind, zones: list[BlueprintZone], version: IpVersion
) -> IpAddress | None:
    """The lowest assignable address of the kind's subnet of ``version`` no zone holds."""
    subnet = SERVICE_SUBNETS[kind]
    network = subnet.network(version)
    used: set[IpAddress] = set()
    for zone in zones:
        nic = zone.nic
        if nic is not None:
            used.update(a for a in (nic.ip, nic.ipv6) if a is not None)
    make: type[IPv4Address] | type[IPv6Address] = (
        IPv4Address if version is IpVersion.V4 else IPv6Address
    )
    base = int(network.network_address)
    # Every zone holds at most one address of the family, so the first free one is near.
    for offset in range(RESERVED_LEADING_ADDRESSES, RESERVED_LEADING_ADDRESSES + len(used) + 1):
        address = make(base + offset)
        if subnet.is_assignable(address) and address not in used:
            return address
    return None


def _free_mac(zones: list[BlueprintZone]) -> int | None:
    used = {nic.mac_int for zone in zones if (nic := zone.nic) is not None}
    for value in range(MAC_RANGE_FIRST, MAC_RANGE_LAST + 1):
        if value not in used:
            return value
    return None


def _pool_exhausted(ranges: tuple[IpRange, ...], what: str) -> str:
    if not ranges:
        return "the service IP pool has no ranges"
    total = sum(r.size for r in ranges)
    return (
        f"no free {what} in the service IP pool"
        f" ({len(ranges)} range{'s' if len(ranges) != 1 else ''}, {total} addresses)"
    )
