"""Plain records of ``external_ip`` and ``service_network_interface`` rows.

``Desired*`` records are what a blueprint asks for (pure, built from the model); ``*Row``
records are what the database holds. Both are small frozen dataclasses with slots so tens of
thousands of them stay cheap.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from uuid import UUID

from reconfigurator.blueprint.model import Blueprint, BlueprintZone, SnatExternalIp
from reconfigurator.fixed_data import SERVICE_SUBNETS, SERVICES_VPC_ID, ServiceKind

IpAddress = IPv4Address | IPv6Address


class Table(enum.StrEnum):
    EXTERNAL_IP = "external_ip"
    NIC = "service_network_interface"


@dataclass(frozen=True, slots=True)
class ExternalIpRow:
    id: UUID
    parent_id: UUID | None
    ip: IpAddress
    first_port: int
    last_port: int
    kind: str
    is_service: bool
    time_deleted: datetime | None

    @property
    def live(self) -> bool:
        return self.time_deleted is None


@dataclass(frozen=True, slots=True)
class NicRow:
    id: UUID
    service_id: UUID
    name: str
    vpc_id: UUID
    subnet_id: UUID
    mac: int
    ipv4: IPv4Address
    slot: int
    is_primary: bool
    time_deleted: datetime | None

    @property
    def live(self) -> bool:
        return self.time_deleted is None


@dataclass(frozen=True, slots=True)
class DesiredExternalIp:
    zone_id: UUID
    zone_kind: ServiceKind
    id: UUID
    ip: IpAddress
    first_port: int
    last_port: int
    kind: str  # "floating" or "snat"

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.zone_id}"

    def matches(self, row: ExternalIpRow) -> list[str]:
        """The fields where a live row differs from this (empty when equal)."""
        differences = []
        if row.ip != self.ip:
            differences.append(f"ip {row.ip} (blueprint: {self.ip})")
        if (row.first_port, row.last_port) != (self.first_port, self.last_port):
            differences.append(
                f"ports {row.first_port}-{row.last_port}"
                f" (blueprint: {self.first_port}-{self.last_port})"
            )
        if row.kind != self.kind:
            differences.append(f"kind {row.kind} (blueprint: {self.kind})")
        if not row.is_service:
            differences.append("not a service IP")
        return differences


@dataclass(frozen=True, slots=True)
class DesiredNic:
    zone_id: UUID
    zone_kind: ServiceKind
    id: UUID
    name: str
    subnet_id: UUID
    mac: int
    ipv4: IPv4Address
    slot: int
    is_primary: bool

    @property
    def vpc_id(self) -> UUID:
        return SERVICES_VPC_ID

    def matches(self, row: NicRow) -> list[str]:
        differences = []
        if row.ipv4 != self.ipv4:
            differences.append(f"ip {row.ipv4} (blueprint: {self.ipv4})")
        if row.mac != self.mac:
            differences.append(f"mac {row.mac:#x} (blueprint: {self.mac:#x})")
        if row.subnet_id != self.subnet_id or row.vpc_id != self.vpc_id:
            differences.append(f"subnet {row.subnet_id} (blueprint: {self.subnet_id})")
        if row.slot != self.slot:
            differences.append(f"slot {row.slot} (blueprint: {self.slot})")
        if row.is_primary != self.is_primary:
            differences.append(f"primary {row.is_primary} (blueprint: {self.is_primary})")
        if row.name != self.name:
            differences.append(f"name {row.name!r} (blueprint: {self.name!r})")
        return differences


@dataclass(frozen=True, slots=True)
class ExpungedZoneRows:
    """The row ids an expunged zone's blueprint entry records (and the zone, from which the
    full rows are derived only when they are needed)."""

    zone_id: UUID
    external_ip_id: UUID
    nic_id: UUID
    zone: BlueprintZone


def desired_external_ip(zone: BlueprintZone) -> DesiredExternalIp | None:
    networking = zone.networking
    if networking is None:
        return None
    external = networking.external_ip
    snat = isinstance(external, SnatExternalIp)
    return DesiredExternalIp(
        zone_id=zone.id,
        zone_kind=ServiceKind(networking.kind),
        id=external.id,
        ip=external.ip,
        first_port=external.first_port,
        last_port=external.last_port,
        kind="snat" if snat else "floating",
    )


def desired_nic(zone: BlueprintZone) -> DesiredNic | None:
    networking = zone.networking
    if networking is None:
        return None
    nic = networking.nic
    kind = ServiceKind(networking.kind)
    return DesiredNic(
        zone_id=zone.id,
        zone_kind=kind,
        id=nic.id,
        name=nic.name,
        subnet_id=SERVICE_SUBNETS[kind].id,
        mac=nic.mac_int,
        ipv4=nic.ip,
        slot=nic.slot,
        is_primary=nic.primary,
    )


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class BlueprintNetworking:
    """What one blueprint asks of the two tables, in executor order (sled id, zone id).

    Compared and hashed by identity (what is derived from it is cached by identity, and
    hashing tens of thousands of records would cost more than the cache saves).
    """

    expunged: tuple[ExpungedZoneRows, ...]
    external_ips: tuple[DesiredExternalIp, ...]
    nics: tuple[DesiredNic, ...]

    @classmethod
    def of(cls, blueprint: Blueprint) -> BlueprintNetworking:
        expunged: list[ExpungedZoneRows] = []
        external_ips: list[DesiredExternalIp] = []
        nics: list[DesiredNic] = []
        for zone in blueprint.all_zones():
            networking = zone.networking
            if networking is None:
                continue
            if zone.is_expunged:
                expunged.append(
                    ExpungedZoneRows(zone.id, networking.external_ip.id, networking.nic.id, zone)
                )
            else:
                external = desired_external_ip(zone)
                nic = desired_nic(zone)
                if external is not None and nic is not None:
                    external_ips.append(external)
                    nics.append(nic)
        return cls(tuple(expunged), tuple(external_ips), tuple(nics))

    def in_service_zone_ids(self) -> Iterator[UUID]:
        return (desired.zone_id for desired in self.external_ips)
