"""Blueprint lint: each rule on its own, on realistic seeded racks."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from reconfigurator.blueprint.lint import LintCode, LintFinding, lint
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.fixed_data import MAC_RANGE_FIRST, MAC_RANGE_LAST
from tests.blueprint_builder import RackBuilder, SledHandle


def _rack(seed: int = 11) -> tuple[RackBuilder, SledHandle, SledHandle, dict[str, uuid.UUID]]:
    rack = RackBuilder(seed=seed)
    first = rack.add_sled(disks=4)
    second = rack.add_sled(disks=3)
    zones = {
        "nexus": rack.add_zone(first, "nexus"),
        "dns": rack.add_zone(first, "external_dns", pool=first.pools[1]),
        "ntp": rack.add_zone(first, "boundary_ntp", pool=first.pools[2]),
        "nexus2": rack.add_zone(second, "nexus"),
        "ntp2": rack.add_zone(second, "boundary_ntp", pool=second.pools[1]),
        "crucible": rack.add_zone(second, "crucible", pool=second.pools[2]),
        "internal_ntp": rack.add_zone(second, "internal_ntp"),
    }
    return rack, first, second, zones


def _codes(findings: list[LintFinding]) -> list[LintCode]:
    return [finding.code for finding in findings]


def _only(findings: list[LintFinding], code: LintCode) -> LintFinding:
    assert _codes(findings) == [code], [f.message for f in findings]
    return findings[0]


def _assert_names(finding: LintFinding, *zone_ids: uuid.UUID) -> None:
    assert set(finding.zone_ids) == set(zone_ids)
    for zone_id in zone_ids:
        assert str(zone_id) in finding.message


def _nic(rack: RackBuilder, zone_id: uuid.UUID) -> dict[str, Any]:
    nic: dict[str, Any] = rack.zone_doc(zone_id)["zone_type"]["nic"]
    return nic


def _external(rack: RackBuilder, zone_id: uuid.UUID) -> dict[str, Any]:
    external: dict[str, Any] = rack.zone_doc(zone_id)["zone_type"]["external_ip"]
    return external


def test_realistic_rack_is_clean_and_lint_is_deterministic() -> None:
    rack, _first, _second, zones = _rack()
    rack.expunge_zone(zones["nexus"])
    blueprint = rack.build()
    assert lint(blueprint) == []
    assert lint(blueprint) == lint(Blueprint.from_json(blueprint.to_json()))


# --- uniqueness among in-service zones ---------------------------------------------------------


def test_duplicate_floating_external_ip() -> None:
    rack, _first, second, zones = _rack()
    ip = _external(rack, zones["nexus"])["ip"]
    other = rack.add_zone(second, "external_dns", ip=ip)
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_EXTERNAL_IP)
    _assert_names(finding, zones["nexus"], other)
    assert ip in finding.message


def test_snat_blocks_of_one_ip_may_share_it_but_not_overlap() -> None:
    rack, _first, second, zones = _rack()
    ip = _external(rack, zones["ntp"])["ip"]  # block 0
    rack.add_zone(second, "boundary_ntp", ip=ip, ports=(16384, 32767))
    assert lint(rack.build()) == []

    clash = rack.add_zone(second, "boundary_ntp", ip=ip, ports=(0, 16383))
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_EXTERNAL_IP)
    _assert_names(finding, zones["ntp"], clash)
    assert "0-16383" in finding.message


def test_floating_ip_overlaps_every_snat_block_of_the_same_ip() -> None:
    rack, _first, second, zones = _rack()
    ip = _external(rack, zones["ntp"])["ip"]
    nexus = rack.add_zone(second, "nexus", ip=ip)
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_EXTERNAL_IP)
    _assert_names(finding, zones["ntp"], nexus)
    assert "0-65535" in finding.message


def test_duplicate_nic_ip_and_mac() -> None:
    rack, _first, second, zones = _rack()
    nic = _nic(rack, zones["nexus"])
    twin = rack.add_zone(second, "nexus", nic_ip=nic["ip"])
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_NIC_IP)
    _assert_names(finding, zones["nexus"], twin)

    _nic(rack, twin)["ip"] = "172.30.2.200"
    _nic(rack, twin)["mac"] = nic["mac"]
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_NIC_MAC)
    _assert_names(finding, zones["nexus"], twin)
    assert nic["mac"] in finding.message


def test_mac_shared_by_three_zones_is_one_finding_naming_all() -> None:
    rack, _first, _second, zones = _rack()
    mac = _nic(rack, zones["nexus"])["mac"]
    _nic(rack, zones["dns"])["mac"] = mac
    _nic(rack, zones["ntp2"])["mac"] = mac
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_NIC_MAC)
    _assert_names(finding, zones["nexus"], zones["dns"], zones["ntp2"])


def test_expunged_zones_may_share_addresses_with_in_service_zones() -> None:
    rack, _first, second, zones = _rack()
    old = zones["nexus"]
    rack.expunge_zone(old)
    nic = _nic(rack, old)
    replacement = rack.add_zone(
        second,
        "nexus",
        ip=_external(rack, old)["ip"],
        nic_ip=nic["ip"],
        mac=int(nic["mac"].replace(":", ""), 16),
    )
    blueprint = rack.build()
    assert lint(blueprint) == []
    old_zone, new_zone = blueprint.zone(old), blueprint.zone(replacement)
    assert old_zone is not None
    assert new_zone is not None
    assert old_zone.external_ip is not None
    assert new_zone.external_ip is not None
    assert old_zone.external_ip.ip == new_zone.external_ip.ip


def test_two_expunged_zones_may_share_addresses() -> None:
    rack, _first, second, zones = _rack()
    twin = rack.add_zone(second, "nexus", ip=_external(rack, zones["nexus"])["ip"])
    rack.expunge_zone(zones["nexus"])
    rack.expunge_zone(twin)
    assert lint(rack.build()) == []


# --- ids ---------------------------------------------------------------------------------------


def test_duplicate_zone_id_across_sleds() -> None:
    rack, _first, second, zones = _rack()
    doc = rack.document()
    copied = copy.deepcopy(rack.zone_doc(zones["crucible"]))
    copied["filesystem_pool"] = doc["sleds"][0]["disks"][0]["pool_id"]
    doc["sleds"][0]["zones"].append(copied)
    finding = _only(lint(Blueprint.model_validate(doc)), LintCode.DUPLICATE_ZONE_ID)
    _assert_names(finding, zones["crucible"])
    assert "2 times" in finding.message
    assert str(second.id) in finding.message


def test_duplicate_zone_id_even_if_one_is_expunged() -> None:
    rack, first, _second, _zones = _rack()
    zone_id = rack.new_id()
    doc = rack.document()
    for kind in ("in_service", "expunged"):
        disposition: dict[str, Any] = {"kind": kind}
        if kind == "expunged":
            disposition.update(as_of_generation=2, ready_for_cleanup=False)
        doc["sleds"][0]["zones"].append(
            {
                "id": str(zone_id),
                "filesystem_pool": str(first.pools[0]),
                "disposition": disposition,
                "zone_type": {"kind": "oximeter"},
            }
        )
    finding = _only(lint(Blueprint.model_validate(doc)), LintCode.DUPLICATE_ZONE_ID)
    _assert_names(finding, zone_id)


@pytest.mark.parametrize("expunge_one", [False, True])
def test_external_ip_row_id_used_by_two_zones(expunge_one: bool) -> None:
    rack, _first, _second, zones = _rack()
    _external(rack, zones["dns"])["id"] = _external(rack, zones["nexus"])["id"]
    if expunge_one:
        rack.expunge_zone(zones["nexus"])
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_EXTERNAL_IP_ID)
    _assert_names(finding, zones["nexus"], zones["dns"])


def test_nic_row_id_used_by_two_zones() -> None:
    rack, _first, _second, zones = _rack()
    _nic(rack, zones["ntp2"])["id"] = _nic(rack, zones["nexus"])["id"]
    rack.expunge_zone(zones["ntp2"])
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_NIC_ID)
    _assert_names(finding, zones["nexus"], zones["ntp2"])


def test_duplicate_sled_disk_and_pool_ids() -> None:
    rack, first, _second, _zones = _rack()
    doc = rack.document()
    (spare,) = [d for d in doc["sleds"][0]["disks"] if d["pool_id"] == str(first.pools[3])]
    doc["sleds"][1]["disks"].append(copy.deepcopy(spare))
    extra = copy.deepcopy(doc["sleds"][1])
    extra["zones"] = []
    extra["disks"] = []
    doc["sleds"].append(extra)
    findings = lint(Blueprint.model_validate(doc))
    assert sorted(_codes(findings)) == sorted(
        [LintCode.DUPLICATE_SLED_ID, LintCode.DUPLICATE_DISK_ID, LintCode.DUPLICATE_POOL_ID]
    )
    assert doc["sleds"][1]["id"] in findings[0].message


# --- placement ---------------------------------------------------------------------------------


def test_pool_of_another_sled() -> None:
    rack, first, second, zones = _rack()
    rack.zone_doc(zones["crucible"])["filesystem_pool"] = str(first.pools[3])
    finding = _only(lint(rack.build()), LintCode.POOL_NOT_ON_SLED)
    _assert_names(finding, zones["crucible"])
    assert str(first.id) in finding.message
    assert str(second.id) in finding.message


def test_pool_of_no_disk_at_all_even_for_an_expunged_zone() -> None:
    rack, _first, _second, zones = _rack()
    rack.expunge_zone(zones["nexus"])
    missing = rack.new_id()
    rack.zone_doc(zones["nexus"])["filesystem_pool"] = str(missing)
    finding = _only(lint(rack.build()), LintCode.POOL_NOT_ON_SLED)
    _assert_names(finding, zones["nexus"])
    assert str(missing) in finding.message


def test_in_service_zone_on_an_expunged_disk() -> None:
    rack, first, _second, zones = _rack()
    rack.expunge_disk(first, first.pools[0])  # also expunges the Nexus zone on it
    assert lint(rack.build()) == []

    rack.zone_doc(zones["nexus"])["disposition"] = {"kind": "in_service"}
    finding = _only(lint(rack.build()), LintCode.ZONE_ON_EXPUNGED_DISK)
    _assert_names(finding, zones["nexus"])


def test_in_service_zone_on_a_decommissioned_sled() -> None:
    rack, _first, _second, zones = _rack()
    doc = rack.document()
    doc["sleds"][1]["state"] = "decommissioned"
    for zone in doc["sleds"][1]["zones"]:
        if zone["id"] != str(zones["crucible"]):
            zone["disposition"] = {"kind": "expunged", "as_of_generation": 3}
    finding = _only(lint(Blueprint.model_validate(doc)), LintCode.ZONE_ON_DECOMMISSIONED_SLED)
    _assert_names(finding, zones["crucible"])


# --- each zone's own networking ----------------------------------------------------------------


def test_nic_subnet_of_another_zone_kind() -> None:
    rack, _first, _second, zones = _rack()
    _nic(rack, zones["dns"])["subnet"] = "172.30.2.0/24"
    _nic(rack, zones["dns"])["ip"] = "172.30.2.100"
    findings = lint(rack.build())
    assert _codes(findings) == [LintCode.NIC_SUBNET_MISMATCH, LintCode.NIC_IP_NOT_ASSIGNABLE]
    for finding in findings:
        _assert_names(finding, zones["dns"])
    assert "172.30.1.0/24" in findings[0].message


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("172.30.2.0", False),
        ("172.30.2.1", False),
        ("172.30.2.4", False),
        ("172.30.2.5", True),
        ("172.30.2.254", True),
        ("172.30.2.255", False),
        ("172.30.9.9", False),
    ],
)
def test_nic_ip_must_be_assignable(address: str, ok: bool) -> None:
    rack, _first, _second, zones = _rack()
    _nic(rack, zones["nexus"])["ip"] = address
    findings = lint(rack.build())
    if ok:
        assert findings == []
    else:
        _assert_names(_only(findings, LintCode.NIC_IP_NOT_ASSIGNABLE), zones["nexus"])


@pytest.mark.parametrize(
    ("mac", "ok"),
    [
        (MAC_RANGE_FIRST - 1, False),
        (MAC_RANGE_FIRST, True),
        (MAC_RANGE_LAST, True),
        (MAC_RANGE_LAST + 1, False),
    ],
)
def test_nic_mac_must_be_in_the_system_range(mac: int, ok: bool) -> None:
    rack, _first, second, _zones = _rack()
    zone = rack.add_zone(second, "external_dns", mac=mac)
    findings = lint(rack.build())
    if ok:
        assert findings == []
    else:
        _assert_names(_only(findings, LintCode.NIC_MAC_OUT_OF_RANGE), zone)


def test_nic_vni_must_be_the_services_vni() -> None:
    rack, _first, _second, zones = _rack()
    _nic(rack, zones["ntp"])["vni"] = 101
    finding = _only(lint(rack.build()), LintCode.NIC_VNI_MISMATCH)
    _assert_names(finding, zones["ntp"])


@pytest.mark.parametrize(
    ("ports", "ok"),
    [
        ((0, 16383), True),
        ((49152, 65535), True),
        ((1, 16384), False),
        ((0, 16382), False),
        ((0, 32767), False),
        ((16384, 16384), False),
    ],
)
def test_snat_ports_are_aligned_blocks(ports: tuple[int, int], ok: bool) -> None:
    rack, _first, second, _zones = _rack()
    zone = rack.add_zone(second, "boundary_ntp", ports=ports)
    findings = lint(rack.build())
    if ok:
        assert findings == []
    else:
        finding = _only(findings, LintCode.SNAT_PORTS_UNALIGNED)
        _assert_names(finding, zone)
        assert f"{ports[0]}-{ports[1]}" in finding.message


def test_finding_json_form() -> None:
    rack, _first, _second, zones = _rack()
    _nic(rack, zones["ntp"])["vni"] = 7
    (finding,) = lint(rack.build())
    assert finding.to_json() == {
        "code": "nic_vni_mismatch",
        "message": finding.message,
        "zone_ids": [str(zones["ntp"])],
    }
    assert str(finding) == finding.message


# --- IPv6 NIC addresses ------------------------------------------------------------------------


def test_ipv6_only_and_dual_stack_nics_are_clean() -> None:
    rack, first, second, _zones = _rack()
    rack.add_zone(first, "nexus", pool=first.pools[3], ip="fd00::10", stack="v6")
    rack.add_zone(second, "external_dns", pool=second.pools[2], stack="dual")
    rack.add_zone(second, "boundary_ntp", pool=second.pools[0], stack="dual")
    blueprint = rack.build()
    assert lint(blueprint) == []
    with_ipv6 = [z for z in blueprint.in_service_zones() if z.nic and z.nic.ipv6 is not None]
    assert len(with_ipv6) == 3


def test_duplicate_ipv6_nic_address_among_in_service_zones() -> None:
    rack, first, second, _zones = _rack()
    one = rack.add_zone(first, "nexus", pool=first.pools[3], stack="dual")
    address = _nic(rack, one)["ipv6"]
    twin = rack.add_zone(second, "nexus", pool=second.pools[2], stack="v6", nic_ipv6=address)
    finding = _only(lint(rack.build()), LintCode.DUPLICATE_NIC_IP)
    _assert_names(finding, one, twin)
    assert address in finding.message


def test_an_expunged_zone_may_share_its_ipv6_address_with_its_replacement() -> None:
    rack, first, second, _zones = _rack()
    old = rack.add_zone(first, "nexus", pool=first.pools[3], stack="dual")
    rack.expunge_zone(old)
    nic = _nic(rack, old)
    rack.add_zone(
        second,
        "nexus",
        pool=second.pools[2],
        ip=_external(rack, old)["ip"],
        nic_ip=nic["ip"],
        nic_ipv6=nic["ipv6"],
        mac=int(nic["mac"].replace(":", ""), 16),
        stack="dual",
    )
    assert lint(rack.build()) == []


@pytest.mark.parametrize(
    ("address", "ok", "reason"),
    [
        ("fd77:e9d2:9cd9:2::", False, "reserved"),
        ("fd77:e9d2:9cd9:2::4", False, "reserved"),
        ("fd77:e9d2:9cd9:2::5", True, ""),
        ("fd77:e9d2:9cd9:2:ffff:ffff:ffff:ffff", True, ""),
        ("fd77:e9d2:9cd9:3::5", False, "outside"),
        ("fd00::5", False, "outside"),
    ],
)
def test_nic_ipv6_address_must_be_assignable(address: str, ok: bool, reason: str) -> None:
    rack, first, _second, _zones = _rack()
    zone = rack.add_zone(first, "nexus", pool=first.pools[3], stack="dual")
    _nic(rack, zone)["ipv6"] = address
    findings = lint(rack.build())
    if ok:
        assert findings == []
        return
    finding = _only(findings, LintCode.NIC_IP_NOT_ASSIGNABLE)
    _assert_names(finding, zone)
    assert f"NIC IPv6 IP {address}" in finding.message
    assert "fd77:e9d2:9cd9:2::/64" in finding.message
    assert reason in finding.message


@pytest.mark.parametrize("subnet", ["fd77:e9d2:9cd9:1::/64", "fd77:e9d2:9cd9::/48"])
def test_nic_ipv6_subnet_must_be_the_kinds(subnet: str) -> None:
    rack, first, _second, _zones = _rack()
    zone = rack.add_zone(first, "nexus", pool=first.pools[3], stack="v6", ip="fd00::10")
    _nic(rack, zone)["ipv6_subnet"] = subnet
    finding = _only(lint(rack.build()), LintCode.NIC_SUBNET_MISMATCH)
    _assert_names(finding, zone)
    assert f"NIC IPv6 subnet {subnet} is not the nexus subnet fd77:e9d2:9cd9:2::/64" in (
        finding.message
    )


def test_both_families_of_a_dual_stack_nic_are_checked() -> None:
    rack, first, _second, _zones = _rack()
    zone = rack.add_zone(first, "external_dns", pool=first.pools[3], stack="dual")
    _nic(rack, zone)["ip"] = "172.30.1.2"
    _nic(rack, zone)["ipv6"] = "fd77:e9d2:9cd9:1::3"
    findings = lint(rack.build())
    assert _codes(findings) == [LintCode.NIC_IP_NOT_ASSIGNABLE] * 2
    assert "NIC IP 172.30.1.2" in findings[0].message
    assert "NIC IPv6 IP fd77:e9d2:9cd9:1::3" in findings[1].message
