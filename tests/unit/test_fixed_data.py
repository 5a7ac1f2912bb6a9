from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from uuid import UUID

import pytest

from reconfigurator.fixed_data import (
    MAC_RANGE_FIRST,
    MAC_RANGE_LAST,
    SERVICE_IP_POOL_NAMES,
    SERVICE_SUBNETS,
    SERVICES_VPC_IPV6_PREFIX,
    IpVersion,
    ServiceKind,
    int_to_mac,
    mac_to_int,
)


def test_mac_round_trip() -> None:
    assert mac_to_int("a8:40:25:ff:80:01") == 0xA84025FF8001
    assert int_to_mac(0xA84025FF8001) == "a8:40:25:ff:80:01"
    assert int_to_mac(MAC_RANGE_FIRST) == "a8:40:25:ff:00:00"
    assert int_to_mac(MAC_RANGE_LAST) == "a8:40:25:ff:ff:ff"


@pytest.mark.parametrize("bad", ["a8:40:25:ff:80", "a8:40:25:ff:80:zz", "a84025ff8001", ""])
def test_bad_macs(bad: str) -> None:
    with pytest.raises(ValueError, match=r"MAC|invalid literal"):
        mac_to_int(bad)


def test_int_to_mac_range() -> None:
    with pytest.raises(ValueError, match="48-bit"):
        int_to_mac(1 << 48)


def test_reserved_addresses() -> None:
    nexus = SERVICE_SUBNETS[ServiceKind.NEXUS]
    assert str(nexus.ipv4) == "172.30.2.0/24"
    assert not nexus.is_assignable(IPv4Address("172.30.2.4"))
    assert nexus.is_assignable(IPv4Address("172.30.2.5"))
    assert nexus.is_assignable(IPv4Address("172.30.2.254"))
    assert not nexus.is_assignable(IPv4Address("172.30.2.255"))
    assert not nexus.is_assignable(IPv4Address("172.30.1.10"))


@pytest.mark.parametrize(
    ("kind", "ipv4", "ipv6", "prefix"),
    [
        (ServiceKind.EXTERNAL_DNS, "172.30.1.0/24", "fd77:e9d2:9cd9:1::/64", "external-dns"),
        (ServiceKind.NEXUS, "172.30.2.0/24", "fd77:e9d2:9cd9:2::/64", "nexus"),
        (ServiceKind.BOUNDARY_NTP, "172.30.3.0/24", "fd77:e9d2:9cd9:3::/64", "ntp"),
    ],
)
def test_service_subnets_and_row_names(
    kind: ServiceKind, ipv4: str, ipv6: str, prefix: str
) -> None:
    subnet = SERVICE_SUBNETS[kind]
    assert subnet.kind is kind
    assert (str(subnet.ipv4), str(subnet.ipv6)) == (ipv4, ipv6)
    assert subnet.ipv6.subnet_of(SERVICES_VPC_IPV6_PREFIX)
    assert subnet.network(IpVersion.V4) == subnet.ipv4
    assert subnet.network(IpVersion.V6) == subnet.ipv6
    zone_id = UUID("8d723104-f773-43c1-b458-a748e9bb17bc")
    assert kind.row_name(zone_id) == f"{prefix}-8d723104-f773-43c1-b458-a748e9bb17bc"
    assert kind.name_prefix == prefix


def test_reserved_ipv6_addresses() -> None:
    nexus = SERVICE_SUBNETS[ServiceKind.NEXUS]
    assert not nexus.is_assignable(IPv6Address("fd77:e9d2:9cd9:2::"))
    assert not nexus.is_assignable(IPv6Address("fd77:e9d2:9cd9:2::4"))
    assert nexus.is_assignable(IPv6Address("fd77:e9d2:9cd9:2::5"))
    # IPv6 has no broadcast address: the last one is assignable.
    assert nexus.is_assignable(IPv6Address("fd77:e9d2:9cd9:2:ffff:ffff:ffff:ffff"))
    assert not nexus.is_assignable(IPv6Address("fd77:e9d2:9cd9:3::5"))
    assert not nexus.is_assignable(IPv6Address("fd00::5"))


def test_ip_versions_and_pool_names() -> None:
    assert IpVersion.of(IPv4Address("192.0.2.1")) is IpVersion.V4
    assert IpVersion.of(IPv6Address("fd00::1")) is IpVersion.V6
    assert SERVICE_IP_POOL_NAMES == {
        IpVersion.V4: "oxide-service-pool",
        IpVersion.V6: "oxide-service-pool-v6",
    }
