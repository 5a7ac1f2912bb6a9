from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from reconfigurator.fixed_data import (
    MAC_RANGE_FIRST,
    MAC_RANGE_LAST,
    SERVICE_SUBNETS,
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
