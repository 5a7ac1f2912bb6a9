"""The rows a blueprint's zones ask for, derived from the blueprint model alone.

The baseline and the floor build their statements from these records, independently of the
executor's own row-building code, so that code is measured rather than reused. Rows carry the
values upstream writes: ``<prefix>-<zone id>`` names, the zone kind as the external IP's
description, ``<kind> service vNIC`` as the NIC's, and service NICs are rows of
``network_interface`` with ``kind = 'service'`` and the zone as their parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any
from uuid import UUID

from reconfigurator.blueprint.model import Blueprint, SnatExternalIp
from reconfigurator.fixed_data import SERVICE_SUBNETS, SERVICES_VPC_ID, ServiceKind
from reconfigurator.networking import Table

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
    "kind",
    "parent_id",
    "vpc_id",
    "subnet_id",
    "mac",
    "ip",
    "ipv6",
    "slot",
    "is_primary",
    "transit_ips",
    "transit_ips_v6",
)
REPAIR_COLUMNS: tuple[str, ...] = (
    "table_name",
    "row_id",
    "zone_id",
    "blueprint_id",
    "execution_id",
    "time_recorded",
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
    nic_ipv4: IPv4Address | None
    nic_ipv6: IPv6Address | None
    mac: int
    slot: int
    primary: bool
    transit_ips: tuple[IPv4Network | IPv6Network, ...]

    def external_ip_row(self, pool_id: UUID, range_id: UUID, now: datetime) -> dict[str, Any]:
        """The zone's live external IP row, from the pool range that holds its address."""
        return {
            "id": self.ip_id,
            "name": self.kind.row_name(self.zone_id),
            "description": self.kind.value,
            "time_created": now,
            "time_modified": now,
            "time_deleted": None,
            "ip_pool_id": pool_id,
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

    def nic_row(self, now: datetime) -> dict[str, Any]:
        """The zone's live service NIC row (a ``network_interface`` row of kind service)."""
        return {
            "id": self.nic_id,
            "name": self.nic_name,
            "description": f"{self.kind.value} service vNIC",
            "time_created": now,
            "time_modified": now,
            "time_deleted": None,
            "kind": "service",
            "parent_id": self.zone_id,
            "vpc_id": SERVICES_VPC_ID,
            "subnet_id": SERVICE_SUBNETS[self.kind].id,
            "mac": self.mac,
            "ip": None if self.nic_ipv4 is None else str(self.nic_ipv4),
            "ipv6": None if self.nic_ipv6 is None else str(self.nic_ipv6),
            "slot": self.slot,
            "is_primary": self.primary,
            "transit_ips": [str(n) for n in self.transit_ips if n.version == 4],
            "transit_ips_v6": [str(n) for n in self.transit_ips if n.version == 6],
        }

    def repair_rows(self, blueprint_id: UUID, now: datetime) -> list[dict[str, Any]]:
        """What the executor records, in its own table, for the zone's two never-created rows
        (its ``execution_id`` is the run's; here there is no run)."""
        return [
            {
                "table_name": table.value,
                "row_id": row_id,
                "zone_id": self.zone_id,
                "blueprint_id": blueprint_id,
                "execution_id": None,
                "time_recorded": now,
            }
            for table, row_id in ((Table.EXTERNAL_IP, self.ip_id), (Table.NIC, self.nic_id))
        ]


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
                nic_ipv4=nic.ip,
                nic_ipv6=nic.ipv6,
                mac=nic.mac_int,
                slot=nic.slot,
                primary=nic.primary,
                transit_ips=tuple(nic.transit_ips),
            )
        )
    return out
