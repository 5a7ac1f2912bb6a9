"""What the planner plans from, besides the parent blueprint: the rack as operators describe it.

Sleds and disks carry a *policy* (what the operator wants: ``in_service`` or ``expunged``) and a
*state* (what the system has done: ``active`` or ``decommissioned``), as upstream. The service IP
pool's ranges bound the external IPs new zones may get; :class:`ZonePolicy` says how many zones
of each kind with external networking the rack should run.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple
from uuid import UUID

from reconfigurator.blueprint.model import SledState
from reconfigurator.errors import PlanningInputInvalid
from reconfigurator.fixed_data import ServiceKind

__all__ = [
    "DiskInput",
    "DiskPolicy",
    "DiskState",
    "IpRange",
    "NicIpStack",
    "PlanningInput",
    "SledInput",
    "SledPolicy",
    "SledState",
    "ZonePolicy",
]

IpAddress = IPv4Address | IPv6Address


class SledPolicy(enum.StrEnum):
    """What an operator wants of a sled: in service, or expunged."""

    IN_SERVICE = "in_service"
    EXPUNGED = "expunged"


class DiskPolicy(enum.StrEnum):
    """What an operator wants of a disk: in service, or expunged."""

    IN_SERVICE = "in_service"
    EXPUNGED = "expunged"


class DiskState(enum.StrEnum):
    """What the system has done with a disk: active, or decommissioned."""

    ACTIVE = "active"
    DECOMMISSIONED = "decommissioned"


@dataclass(frozen=True, slots=True)
class DiskInput:
    """One physical disk and the zpool on it."""

    id: UUID
    pool_id: UUID
    policy: DiskPolicy = DiskPolicy.IN_SERVICE
    state: DiskState = DiskState.ACTIVE

    @property
    def is_in_service(self) -> bool:
        """Whether zones may live on this disk: in service by policy and still active."""
        return self.policy is DiskPolicy.IN_SERVICE and self.state is DiskState.ACTIVE


@dataclass(frozen=True, slots=True)
class SledInput:
    """One sled and its disks (kept sorted by disk id)."""

    id: UUID
    policy: SledPolicy = SledPolicy.IN_SERVICE
    state: SledState = SledState.ACTIVE
    disks: tuple[DiskInput, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "disks", tuple(sorted(self.disks, key=lambda d: d.id)))

    @property
    def is_in_service(self) -> bool:
        """Whether zones may live on this sled: in service by policy and still active."""
        return self.policy is SledPolicy.IN_SERVICE and self.state is SledState.ACTIVE


class NicIpStack(enum.StrEnum):
    """Which private addresses the service NICs of new zones get."""

    #: One address, of the family of the zone's external IP (as upstream plans).
    FOLLOW_EXTERNAL_IP = "follow-external-ip"
    #: An IPv4 and an IPv6 address, whatever the external IP's family.
    DUAL_STACK = "dual-stack"


class IpRange(NamedTuple):
    """An inclusive range of the service IP pool: ``(first, last)``, one address family."""

    first: IpAddress
    last: IpAddress

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1


@dataclass(frozen=True, slots=True)
class ZonePolicy:
    """How many in-service zones of each kind with external networking the rack should run."""

    nexus: int = 3
    external_dns: int = 3
    boundary_ntp: int = 2

    def __post_init__(self) -> None:
        for kind in ServiceKind:
            if self.target(kind) < 0:
                raise PlanningInputInvalid(f"zone policy: {kind} count must not be negative")

    def target(self, kind: ServiceKind) -> int:
        count: int = getattr(self, kind.value)
        return count

    def items(self) -> Iterator[tuple[ServiceKind, int]]:
        """``(kind, count)`` in planning order: Nexus, external DNS, boundary NTP."""
        for kind in (ServiceKind.NEXUS, ServiceKind.EXTERNAL_DNS, ServiceKind.BOUNDARY_NTP):
            yield kind, self.target(kind)


@dataclass(frozen=True, slots=True)
class PlanningInput:
    """The rack the planner plans for. Sleds are kept sorted by id, ranges by address.

    Raises :class:`~reconfigurator.errors.PlanningInputInvalid` (naming the ids) when a sled,
    disk or pool id appears twice or a range is malformed.
    """

    sleds: tuple[SledInput, ...] = ()
    ip_ranges: tuple[IpRange, ...] = ()
    zone_policy: ZonePolicy = field(default_factory=ZonePolicy)
    #: ``None``: what the rack already does (dual-stack when every in-service service NIC of
    #: the parent blueprint is), else :attr:`NicIpStack.FOLLOW_EXTERNAL_IP`.
    nic_ip_stack: NicIpStack | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sleds", tuple(sorted(self.sleds, key=lambda s: s.id)))
        ranges = tuple(IpRange(first, last) for first, last in self.ip_ranges)
        for first, last in ranges:
            if first.version != last.version:
                raise PlanningInputInvalid(f"IP range {first} - {last} mixes address families")
            if int(first) > int(last):
                raise PlanningInputInvalid(f"IP range {first} - {last} ends before it starts")
        ordered = sorted(ranges, key=lambda r: (r.first.version, int(r.first)))
        object.__setattr__(self, "ip_ranges", tuple(ordered))
        self._check_unique()

    def _check_unique(self) -> None:
        seen_sleds: set[UUID] = set()
        seen_disks: dict[UUID, UUID] = {}
        seen_pools: dict[UUID, UUID] = {}
        for sled in self.sleds:
            if sled.id in seen_sleds:
                raise PlanningInputInvalid(f"sled {sled.id} appears more than once")
            seen_sleds.add(sled.id)
            for disk in sled.disks:
                if disk.id in seen_disks:
                    raise PlanningInputInvalid(
                        f"disk {disk.id} appears on sleds {seen_disks[disk.id]} and {sled.id}"
                    )
                if disk.pool_id in seen_pools:
                    raise PlanningInputInvalid(
                        f"pool {disk.pool_id} is on disks {seen_pools[disk.pool_id]} and {disk.id}"
                    )
                seen_disks[disk.id] = sled.id
                seen_pools[disk.pool_id] = disk.id

    def sled(self, sled_id: UUID) -> SledInput | None:
        for sled in self.sleds:
            if sled.id == sled_id:
                return sled
        return None
