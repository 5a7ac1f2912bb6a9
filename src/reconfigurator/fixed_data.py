"""Fixed data of the rack's service networking (DESIGN §2), shared by every layer."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Final
from uuid import UUID

SERVICE_IP_POOL_ID: Final = UUID("001de000-0001-4000-8000-000000000001")
SERVICE_IP_POOL_NAME: Final = "oxide-service-pool"
SERVICE_IP_POOL_ASSIGNMENT: Final = "system_services"

SERVICES_VPC_ID: Final = UUID("001de000-074c-4000-8000-000000000000")
SERVICES_VPC_VNI: Final = 100

#: Addresses at the start of every service subnet that are never handed out.
RESERVED_LEADING_ADDRESSES: Final = 5

MAC_RANGE_FIRST: Final = 0xA8_40_25_FF_00_00
MAC_RANGE_LAST: Final = 0xA8_40_25_FF_FF_FF

FLOATING_FIRST_PORT: Final = 0
FLOATING_LAST_PORT: Final = 65535
SNAT_BLOCK_PORTS: Final = 16384


class ServiceKind(enum.StrEnum):
    """Zone kinds that carry external networking (an external IP and a service NIC)."""

    EXTERNAL_DNS = "external_dns"
    NEXUS = "nexus"
    BOUNDARY_NTP = "boundary_ntp"


@dataclass(frozen=True, slots=True)
class ServiceSubnet:
    """The VPC subnet that service NICs of one zone kind live in."""

    kind: ServiceKind
    id: UUID
    ipv4: IPv4Network

    def is_assignable(self, address: IPv4Address) -> bool:
        """Whether a NIC may use ``address``: inside the subnet and not reserved."""
        if address not in self.ipv4:
            return False
        offset = int(address) - int(self.ipv4.network_address)
        return RESERVED_LEADING_ADDRESSES <= offset < self.ipv4.num_addresses - 1


SERVICE_SUBNETS: Final[dict[ServiceKind, ServiceSubnet]] = {
    ServiceKind.EXTERNAL_DNS: ServiceSubnet(
        ServiceKind.EXTERNAL_DNS,
        UUID("001de000-c470-4000-8000-000000000001"),
        IPv4Network("172.30.1.0/24"),
    ),
    ServiceKind.NEXUS: ServiceSubnet(
        ServiceKind.NEXUS,
        UUID("001de000-c470-4000-8000-000000000002"),
        IPv4Network("172.30.2.0/24"),
    ),
    ServiceKind.BOUNDARY_NTP: ServiceSubnet(
        ServiceKind.BOUNDARY_NTP,
        UUID("001de000-c470-4000-8000-000000000003"),
        IPv4Network("172.30.3.0/24"),
    ),
}


def mac_to_int(mac: str) -> int:
    """``"a8:40:25:ff:80:01"`` → its 48-bit integer (how MACs are stored, as INT8)."""
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {mac!r}")
    return int("".join(parts), 16)


def int_to_mac(value: int) -> str:
    """The inverse of :func:`mac_to_int`, lower-case and colon-separated."""
    if not 0 <= value < 1 << 48:
        raise ValueError(f"not a 48-bit MAC value: {value}")
    raw = f"{value:012x}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))
