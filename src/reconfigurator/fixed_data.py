"""Fixed data of the rack's service networking, shared by every layer
(docs/design.md#fixed-data)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final
from uuid import UUID

#: What ``ip_pool.assignment`` says of the pools external IPs of services come from.
SERVICE_IP_POOL_ASSIGNMENT: Final = "system_services"


class IpVersion(enum.StrEnum):
    """An address family, as ``ip_pool.ip_version`` stores it."""

    V4 = "v4"
    V6 = "v6"

    @classmethod
    def of(cls, address: IPv4Address | IPv6Address) -> IpVersion:
        """The version of ``address``."""
        return cls.V4 if address.version == 4 else cls.V6


#: The names a service pool gets when the first range of its IP version is added.
SERVICE_IP_POOL_NAMES: Final[dict[IpVersion, str]] = {
    IpVersion.V4: "oxide-service-pool",
    IpVersion.V6: "oxide-service-pool-v6",
}

SERVICES_VPC_ID: Final = UUID("001de000-074c-4000-8000-000000000000")
SERVICES_VPC_VNI: Final = 100
SERVICES_VPC_IPV6_PREFIX: Final = IPv6Network("fd77:e9d2:9cd9::/48")

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

    @property
    def name_prefix(self) -> str:
        """How the names of this kind's rows begin: ``<prefix>-<zone id>`` (as upstream)."""
        return _NAME_PREFIXES[self]

    def row_name(self, zone_id: UUID) -> str:
        """The name upstream gives a zone's external IP and service NIC rows."""
        return f"{self.name_prefix}-{zone_id}"


_NAME_PREFIXES: Final = {
    ServiceKind.EXTERNAL_DNS: "external-dns",
    ServiceKind.NEXUS: "nexus",
    ServiceKind.BOUNDARY_NTP: "ntp",
}


@dataclass(frozen=True, slots=True)
class ServiceSubnet:
    """The VPC subnet that service NICs of one zone kind live in (both address families)."""

    kind: ServiceKind
    id: UUID
    ipv4: IPv4Network
    ipv6: IPv6Network

    def is_assignable(self, address: IPv4Address | IPv6Address) -> bool:
        """Whether a NIC may use ``address``: inside the subnet of its family and not reserved
        (the first 5 addresses of either family, and the IPv4 broadcast address)."""
        network: IPv4Network | IPv6Network = self.ipv4 if address.version == 4 else self.ipv6
        if address not in network:
            return False
        offset = int(address) - int(network.network_address)
        end = network.num_addresses - 1 if address.version == 4 else network.num_addresses
        return RESERVED_LEADING_ADDRESSES <= offset < end

    def network(self, version: IpVersion) -> IPv4Network | IPv6Network:
        """The subnet's network of one address family."""
        return self.ipv4 if version is IpVersion.V4 else self.ipv6


SERVICE_SUBNETS: Final[dict[ServiceKind, ServiceSubnet]] = {
    ServiceKind.EXTERNAL_DNS: ServiceSubnet(
        ServiceKind.EXTERNAL_DNS,
        UUID("001de000-c470-4000-8000-000000000001"),
        IPv4Network("172.30.1.0/24"),
        IPv6Network("fd77:e9d2:9cd9:1::/64"),
    ),
    ServiceKind.NEXUS: ServiceSubnet(
        ServiceKind.NEXUS,
        UUID("001de000-c470-4000-8000-000000000002"),
        IPv4Network("172.30.2.0/24"),
        IPv6Network("fd77:e9d2:9cd9:2::/64"),
    ),
    ServiceKind.BOUNDARY_NTP: ServiceSubnet(
        ServiceKind.BOUNDARY_NTP,
        UUID("001de000-c470-4000-8000-000000000003"),
        IPv4Network("172.30.3.0/24"),
        IPv6Network("fd77:e9d2:9cd9:3::/64"),
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
