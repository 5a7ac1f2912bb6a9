"""The rows a blueprint's zones ask for, derived from the blueprint model alone.

The baseline and the floor build their statements from these records, independently of the
executor's own row-building code, so that code is measured rather than reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from uuid import UUID

from reconfigurator.blueprint.model import Blueprint, SnatExternalIp
from reconfigurator.fixed_data import (
    SERVICE_IP_POOL_ID,
    SERVICE_SUBNETS,
    SERVICES_VPC_ID,
    ServiceKind,
)

#: Appended to the description of rows recorded for zones whose rows were never created.
TOMBSTONE_NOTE = "(never created; recorded as deleted)"

EXTERNAL_IP_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "description",
    "time_created",
    "time_modified",
    "time_deleted",
    "ip_pool_id",
    "ip_pool_range_id",
    "is_service",
    "parent_id",
    "kind",
    "ip",
    "first_port",
    "last_port",
    "project_id",
    "state",
    "is_probe",
)
NIC_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "description",
    "time_created",
    "time_modified",
    "time_deleted",
    "service_id",
    "vpc_id",
    "subnet_id",
    "mac",
    "ipv4",
    "ipv6",
    "slot",
    "is_primary",
)


@dataclass(frozen=True, slots=True)
class ZoneRows:
    """One zone with external networking and the two rows it owns."""

    zone_id: UUID
    kind: ServiceKind
    expunged: bool
    ip_id: UUID
    ip: IPv4Address | IPv6Address
    first_port: int
    last_port: int
    ip_kind: str  # "floating" or "snat"
    nic_id: UUID
    nic_name: str
    nic_ip: IPv4Address
    mac: int
    slot: int
    primary: bool

    def external_ip_row(
        self, range_id: UUID, now: datetime, *, tombstone: bool = False
    ) -> dict[str, Any]:
        description = self.kind.value
        if tombstone:
            description = f"{description} {TOMBSTONE_NOTE}"
        return {
            "id": self.ip_id,
            "name": f"{self.ip_kind}-{self.zone_id}",
            "description": description,
            "time_created": now,
            "time_modified": now,
            "time_deleted": now if tombstone else None,
            "ip_pool_id": SERVICE_IP_POOL_ID,
            "ip_pool_range_id": range_id,
            "is_service": True,
            "parent_id": self.zone_id,
            "kind": self.ip_kind,
            "ip": str(self.ip),
            "first_port": self.first_port,
            "last_port": self.last_port,
            "project_id": None,
            "state": "attached",
            "is_probe": False,
        }

    def nic_row(self, now: datetime, *, tombstone: bool = False) -> dict[str, Any]:
        description = f"{self.kind.value} service vNIC"
        if tombstone:
            description = f"{description} {TOMBSTONE_NOTE}"
        return {
            "id": self.nic_id,
            "name": self.nic_name,
            "description": description,
            "time_created": now,
            "time_modified": now,
            "time_deleted": now if tombstone else None,
            "service_id": self.zone_id,
            "vpc_id": SERVICES_VPC_ID,
            "subnet_id": SERVICE_SUBNETS[self.kind].id,
            "mac": self.mac,
            "ipv4": str(self.nic_ip),
            "ipv6": None,
            "slot": self.slot,
            "is_primary": self.primary,
        }


def zone_rows(blueprint: Blueprint) -> list[ZoneRows]:
    """Every zone with external networking, in blueprint order (sled id, zone id)."""
    out: list[ZoneRows] = []
    for zone in blueprint.all_zones():
        networking = zone.networking
        if networking is None:
            continue
        external, nic = networking.external_ip, networking.nic
        out.append(
            ZoneRows(
                zone_id=zone.id,
                kind=ServiceKind(networking.kind),
                expunged=zone.is_expunged,
                ip_id=external.id,
                ip=external.ip,
                first_port=external.first_port,
                last_port=external.last_port,
                ip_kind="snat" if isinstance(external, SnatExternalIp) else "floating",
                nic_id=nic.id,
                nic_name=nic.name,
                nic_ip=nic.ip,
                mac=nic.mac_int,
                slot=nic.slot,
                primary=nic.primary,
            )
        )
    return out
