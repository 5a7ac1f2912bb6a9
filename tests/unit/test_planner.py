"""The planner, example by example: placement, expungement, address reuse, determinism."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address

import pytest

from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import (
    Blueprint,
    BlueprintZone,
    ExpungedDisposition,
    SledState,
    SnatExternalIp,
    ZoneKind,
)
from reconfigurator.errors import PlanningInputInvalid
from reconfigurator.fixed_data import (
    MAC_RANGE_FIRST,
    MAC_RANGE_LAST,
    SERVICE_SUBNETS,
    SERVICES_VPC_VNI,
    ServiceKind,
    int_to_mac,
)
from reconfigurator.planner import (
    DiskInput,
    DiskPolicy,
    DiskState,
    IpRange,
    NicIpStack,
    PlanningInput,
    PlanResult,
    RandomIds,
    SeededIds,
    SledInput,
    SledPolicy,
    ZonePolicy,
    plan,
)
from tests.blueprint_builder import EXTERNAL_RANGE, RackBuilder

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RANGE = IpRange(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.100"))
V6_RANGE = IpRange(IPv6Address("fd00::10"), IPv6Address("fd00::ffff:ffff:ffff"))
EXTERNAL_KINDS = (ServiceKind.NEXUS, ServiceKind.EXTERNAL_DNS, ServiceKind.BOUNDARY_NTP)


# --- helpers -------------------------------------------------------------------------------------


def make_rack(
    seed: int = 1,
    sleds: int = 3,
    disks: int = 3,
    *,
    ranges: tuple[IpRange, ...] = (RANGE,),
    policy: ZonePolicy | None = None,
    nic_ip_stack: NicIpStack | None = None,
) -> PlanningInput:
    ids = SeededIds(seed)
    return PlanningInput(
        sleds=tuple(
            SledInput(
                id=ids.new_id(),
                disks=tuple(DiskInput(ids.new_id(), ids.new_id()) for _ in range(disks)),
            )
            for _ in range(sleds)
        ),
        ip_ranges=ranges,
        zone_policy=policy or ZonePolicy(),
        nic_ip_stack=nic_ip_stack,
    )


def input_of(blueprint: Blueprint, ranges: tuple[IpRange, ...] = (RANGE,)) -> PlanningInput:
    """The planning input that matches ``blueprint`` (every sled and disk in service)."""
    return PlanningInput(
        sleds=tuple(
            SledInput(id=sled.id, disks=tuple(DiskInput(d.id, d.pool_id) for d in sled.disks))
            for sled in blueprint.sleds
        ),
        ip_ranges=ranges,
    )


def expunge_disk(planning_input: PlanningInput, pool_id: uuid.UUID) -> PlanningInput:
    sleds = []
    for sled in planning_input.sleds:
        disks = tuple(
            dataclasses.replace(d, policy=DiskPolicy.EXPUNGED) if d.pool_id == pool_id else d
            for d in sled.disks
        )
        sleds.append(dataclasses.replace(sled, disks=disks))
    return dataclasses.replace(planning_input, sleds=tuple(sleds))


def change_sled(
    planning_input: PlanningInput, sled_id: uuid.UUID, **changes: object
) -> PlanningInput:
    sleds = tuple(
        dataclasses.replace(s, **changes) if s.id == sled_id else s  # type: ignore[arg-type]
        for s in planning_input.sleds
    )
    return dataclasses.replace(planning_input, sleds=sleds)


def run(parent: Blueprint | None, planning_input: PlanningInput, seed: int = 7) -> PlanResult:
    result = plan(parent, planning_input, SeededIds(seed), now=NOW)
    if result.blueprint is not None:
        assert lint(result.blueprint) == []
        check_invariants(result.blueprint, planning_input)
    return result


def child_of(parent: Blueprint | None, planning_input: PlanningInput, seed: int = 7) -> Blueprint:
    result = run(parent, planning_input, seed)
    assert result.blueprint is not None, result.notes
    return result.blueprint


def check_invariants(blueprint: Blueprint, planning_input: PlanningInput) -> None:
    """What lint checks, written out independently, plus the planning input's policies."""
    disks = {d.pool_id: d for s in planning_input.sleds for d in s.disks}
    sleds = {s.id: s for s in planning_input.sleds}
    external: list[tuple[object, int, int]] = []
    nic_ips: list[IPv4Address | IPv6Address] = []
    macs: list[str] = []
    for sled, zone in blueprint.zones():
        bp_disk = sled.disk_for_pool(zone.filesystem_pool)
        assert bp_disk is not None, f"zone {zone.id} is on a pool its sled does not have"
        if not zone.is_in_service:
            continue
        assert bp_disk.is_in_service
        if sled.id in sleds:
            assert sleds[sled.id].is_in_service, f"zone {zone.id} on sled {sled.id}"
        if zone.filesystem_pool in disks:
            assert disks[zone.filesystem_pool].is_in_service, f"zone {zone.id}"
        ip, nic = zone.external_ip, zone.nic
        if ip is not None and nic is not None:
            for other_ip, first, last in external:
                assert not (other_ip == ip.ip and first <= ip.last_port and ip.first_port <= last)
            external.append((ip.ip, ip.first_port, ip.last_port))
            nic_ips.extend(a for a in (nic.ip, nic.ipv6) if a is not None)
            macs.append(nic.mac)
    assert len(set(nic_ips)) == len(nic_ips)
    assert len(set(macs)) == len(macs)


def in_service(blueprint: Blueprint, kind: ServiceKind | ZoneKind) -> list[BlueprintZone]:
    return [z for z in blueprint.in_service_zones() if z.kind.value == kind.value]


def counts(blueprint: Blueprint) -> dict[str, int]:
    return dict(Counter(z.kind.value for z in blueprint.in_service_zones()))


def placements(blueprint: Blueprint) -> list[tuple[str, ...]]:
    """Where zones are and what they hold, without their ids."""
    return sorted(
        (
            str(sled.id),
            str(zone.filesystem_pool),
            zone.kind.value,
            str(zone.external_ip.ip) if zone.external_ip else "",
            str(zone.nic.ip) if zone.nic else "",
            str(zone.nic.ipv6) if zone.nic else "",
            zone.nic.mac if zone.nic else "",
        )
        for sled, zone in blueprint.zones()
    )


def sled_of(blueprint: Blueprint, zone: BlueprintZone) -> uuid.UUID:
    sled = blueprint.sled_of_zone(zone.id)
    assert sled is not None
    return sled.id


# --- the initial blueprint -----------------------------------------------------------------------


def test_initial_plan_builds_the_rack_and_reaches_the_policy() -> None:
    rack = make_rack()
    result = run(None, rack)
    child = result.blueprint
    assert child is not None
    assert child.parent_blueprint_id is None
    assert child.time_created == NOW
    assert child.creator == "planner"
    assert [s.id for s in child.sleds] == [s.id for s in rack.sleds]
    assert all(s.state is SledState.ACTIVE for s in child.sleds)
    assert all(d.is_in_service for s in child.sleds for d in s.disks)
    assert sum(len(s.disks) for s in child.sleds) == 9
    assert counts(child) == {"nexus": 3, "external_dns": 3, "boundary_ntp": 2}
    assert result.notes == ()
    assert "added sled" in child.comment
    assert child.comment == "; ".join(result.changes)


def test_each_kind_is_spread_one_per_sled_first() -> None:
    child = child_of(None, make_rack())
    for kind in (ServiceKind.NEXUS, ServiceKind.EXTERNAL_DNS):
        assert len({sled_of(child, z) for z in in_service(child, kind)}) == 3


def test_new_zone_networking_follows_the_fixed_data() -> None:
    child = child_of(None, make_rack())
    prefixes = {
        ServiceKind.NEXUS: "nexus",
        ServiceKind.EXTERNAL_DNS: "external-dns",
        ServiceKind.BOUNDARY_NTP: "ntp",
    }
    for kind in EXTERNAL_KINDS:
        subnet = SERVICE_SUBNETS[kind]
        zones = in_service(child, kind)
        assert zones
        for zone in zones:
            nic = zone.nic
            assert nic is not None
            assert nic.name == f"{prefixes[kind]}-{zone.id}" == kind.row_name(zone.id)
            assert nic.subnet == subnet.ipv4
            assert nic.ip is not None
            assert subnet.is_assignable(nic.ip)
            # An IPv4 external IP gets an IPv4-only NIC, as upstream plans it.
            assert nic.ipv6 is None
            assert nic.ipv6_subnet is None
            assert nic.vni == SERVICES_VPC_VNI == 100
            assert nic.slot == 0
            assert nic.primary
            assert MAC_RANGE_FIRST <= nic.mac_int <= MAC_RANGE_LAST
            assert "ipv6" not in zone.model_dump(mode="json")["zone_type"]["nic"]


def test_lowest_free_addresses_are_handed_out_in_order() -> None:
    child = child_of(None, make_rack())
    nexus = sorted(
        in_service(child, ServiceKind.NEXUS), key=lambda z: str(z.nic.ip if z.nic else "")
    )
    assert [str(z.nic.ip) for z in nexus if z.nic] == ["172.30.2.5", "172.30.2.6", "172.30.2.7"]
    external = sorted(
        int(z.external_ip.ip) for z in child.in_service_zones() if z.external_ip is not None
    )
    # Six floating IPs (Nexus, DNS), then one IP shared by both boundary NTP SNAT blocks.
    first = int(RANGE.first)
    assert external == [first + i for i in range(6)] + [first + 6, first + 6]
    macs = sorted(z.nic.mac_int for z in child.in_service_zones() if z.nic is not None)
    assert macs == [MAC_RANGE_FIRST + i for i in range(8)]


def test_boundary_ntp_uses_aligned_snat_blocks_on_one_ip() -> None:
    rack = make_rack(sleds=4, policy=ZonePolicy(nexus=0, external_dns=0, boundary_ntp=4))
    child = child_of(None, rack)
    snat = [z.external_ip for z in in_service(child, ServiceKind.BOUNDARY_NTP)]
    assert all(isinstance(ip, SnatExternalIp) for ip in snat)
    blocks = sorted((str(ip.ip), ip.first_port, ip.last_port) for ip in snat if ip)
    assert blocks == [
        ("192.0.2.1", 0, 16383),
        ("192.0.2.1", 16384, 32767),
        ("192.0.2.1", 32768, 49151),
        ("192.0.2.1", 49152, 65535),
    ]


def test_snat_never_shares_an_ip_with_a_floating_ip() -> None:
    ranges = (IpRange(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")),)
    rack = make_rack(ranges=ranges, policy=ZonePolicy(nexus=1, external_dns=0, boundary_ntp=2))
    child = child_of(None, rack)
    (nexus,) = in_service(child, ServiceKind.NEXUS)
    assert nexus.external_ip is not None
    assert str(nexus.external_ip.ip) == "192.0.2.1"
    assert {
        str(z.external_ip.ip) for z in in_service(child, ServiceKind.BOUNDARY_NTP) if z.external_ip
    } == {"192.0.2.2"}


def test_ipv6_ranges_are_used_too() -> None:
    rack = make_rack(ranges=(V6_RANGE,), policy=ZonePolicy(nexus=2, external_dns=0, boundary_ntp=0))
    child = child_of(None, rack)
    ips = sorted(str(z.external_ip.ip) for z in child.in_service_zones() if z.external_ip)
    assert ips == ["fd00::10", "fd00::11"]


def test_an_ipv6_external_ip_gets_an_ipv6_only_nic_from_the_kinds_ipv6_subnet() -> None:
    policy = ZonePolicy(nexus=2, external_dns=1, boundary_ntp=1)
    child = child_of(None, make_rack(ranges=(V6_RANGE,), policy=policy))
    for kind in EXTERNAL_KINDS:
        subnet = SERVICE_SUBNETS[kind]
        zones = in_service(child, kind)
        assert zones
        for zone in zones:
            nic = zone.nic
            assert nic is not None
            assert nic.ip is None
            assert nic.subnet is None
            assert nic.ipv6 is not None
            assert nic.ipv6_subnet == subnet.ipv6
            assert subnet.is_assignable(nic.ipv6)
            assert nic.name == kind.row_name(zone.id)
    # The lowest free addresses, past the 5 reserved ones.
    nexus_v6 = sorted(str(z.nic.ipv6) for z in in_service(child, ServiceKind.NEXUS) if z.nic)
    assert nexus_v6 == ["fd77:e9d2:9cd9:2::5", "fd77:e9d2:9cd9:2::6"]
    (dns,) = in_service(child, ServiceKind.EXTERNAL_DNS)
    assert dns.nic is not None
    assert str(dns.nic.ipv6) == "fd77:e9d2:9cd9:1::5"
    (ntp,) = in_service(child, ServiceKind.BOUNDARY_NTP)
    assert ntp.nic is not None
    assert str(ntp.nic.ipv6) == "fd77:e9d2:9cd9:3::5"


def test_the_nic_follows_the_family_of_each_zones_external_ip() -> None:
    # One IPv4 address, then IPv6 ones: the second Nexus gets an IPv6 external IP.
    ranges = (IpRange(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.1")), V6_RANGE)
    policy = ZonePolicy(nexus=2, external_dns=0, boundary_ntp=0)
    child = child_of(None, make_rack(ranges=ranges, policy=policy))
    by_family = {
        z.external_ip.ip.version: z.nic
        for z in in_service(child, ServiceKind.NEXUS)
        if z.external_ip
    }
    v4, v6 = by_family[4], by_family[6]
    assert v4 is not None and v6 is not None
    assert (str(v4.ip), v4.ipv6) == ("172.30.2.5", None)
    assert (v6.ip, str(v6.ipv6)) == (None, "fd77:e9d2:9cd9:2::5")
    assert v4.mac != v6.mac


@pytest.mark.parametrize("ranges", [(RANGE,), (V6_RANGE,)], ids=["ipv4", "ipv6"])
def test_dual_stack_planning_gives_every_new_nic_both_families(
    ranges: tuple[IpRange, ...],
) -> None:
    rack = make_rack(ranges=ranges, nic_ip_stack=NicIpStack.DUAL_STACK)
    child = child_of(None, rack)
    zones = [z for z in child.in_service_zones() if z.nic is not None]
    assert len(zones) == 8
    for zone in zones:
        nic = zone.nic
        assert nic is not None
        service = zone.kind.service_kind
        assert service is not None
        subnet = SERVICE_SUBNETS[service]
        assert nic.ip is not None and nic.ipv6 is not None
        assert (nic.subnet, nic.ipv6_subnet) == (subnet.ipv4, subnet.ipv6)
        assert subnet.is_assignable(nic.ip)
        assert subnet.is_assignable(nic.ipv6)
    nexus = sorted(
        (str(z.nic.ip), str(z.nic.ipv6)) for z in in_service(child, ServiceKind.NEXUS) if z.nic
    )
    assert nexus == [
        ("172.30.2.5", "fd77:e9d2:9cd9:2::5"),
        ("172.30.2.6", "fd77:e9d2:9cd9:2::6"),
        ("172.30.2.7", "fd77:e9d2:9cd9:2::7"),
    ]


def _dual_stack_parent(*, one_ipv4_only: bool = False) -> Blueprint:
    builder = RackBuilder(seed=12)
    sleds = [builder.add_sled(disks=3) for _ in range(3)]
    for index, sled in enumerate(sleds):
        stack = "v4" if one_ipv4_only and index == 0 else "dual"
        builder.add_zone(sled, "nexus", stack=stack)
        builder.add_zone(sled, "internal_ntp")
    return builder.build()


def _new_nics(parent: Blueprint, child: Blueprint) -> list[BlueprintZone]:
    return [z for z in child.in_service_zones() if parent.zone(z.id) is None and z.nic]


def test_a_parent_whose_nics_are_all_dual_stack_makes_dual_stack_children() -> None:
    parent = _dual_stack_parent()
    ranges = (IpRange(IPv4Address(EXTERNAL_RANGE[0]), IPv4Address(EXTERNAL_RANGE[1])),)
    planning_input = input_of(parent, ranges)
    assert planning_input.nic_ip_stack is None
    child = child_of(parent, planning_input)
    fresh = _new_nics(parent, child)
    assert len(fresh) == 5  # three external DNS, two boundary NTP
    for zone in fresh:
        assert zone.nic is not None
        assert zone.nic.ip is not None
        assert zone.nic.ipv6 is not None


def test_a_parent_with_one_single_stack_nic_plans_as_upstream_does() -> None:
    parent = _dual_stack_parent(one_ipv4_only=True)
    ranges = (IpRange(IPv4Address(EXTERNAL_RANGE[0]), IPv4Address(EXTERNAL_RANGE[1])),)
    child = child_of(parent, input_of(parent, ranges))
    fresh = _new_nics(parent, child)
    assert fresh
    assert all(z.nic is not None and z.nic.ipv6 is None for z in fresh)


def test_the_setting_overrides_what_the_parent_does() -> None:
    parent = _dual_stack_parent()
    ranges = (IpRange(IPv4Address(EXTERNAL_RANGE[0]), IPv4Address(EXTERNAL_RANGE[1])),)
    following = dataclasses.replace(
        input_of(parent, ranges), nic_ip_stack=NicIpStack.FOLLOW_EXTERNAL_IP
    )
    fresh = _new_nics(parent, child_of(parent, following))
    assert fresh
    assert all(z.nic is not None and z.nic.ipv6 is None for z in fresh)


def test_dual_stack_addresses_skip_what_in_service_zones_hold() -> None:
    parent = _dual_stack_parent()
    held = {a for z in parent.in_service_zones() if z.nic for a in (z.nic.ip, z.nic.ipv6) if a}
    ranges = (IpRange(IPv4Address(EXTERNAL_RANGE[0]), IPv4Address(EXTERNAL_RANGE[1])),)
    policy = ZonePolicy(nexus=4, external_dns=0, boundary_ntp=0)
    planning_input = dataclasses.replace(input_of(parent, ranges), zone_policy=policy)
    (fourth,) = _new_nics(parent, child_of(parent, planning_input))
    assert fourth.nic is not None
    assert fourth.nic.ip not in held
    assert fourth.nic.ipv6 not in held
    assert str(fourth.nic.ipv6) == "fd77:e9d2:9cd9:2::8"


# --- placement rules -----------------------------------------------------------------------------


def test_ties_go_to_the_lowest_sled_id_then_the_first_free_pool() -> None:
    rack = make_rack(sleds=2, disks=3, policy=ZonePolicy(nexus=3, external_dns=0, boundary_ntp=0))
    child = child_of(None, rack)
    low, high = rack.sleds
    by_sled = Counter(sled_of(child, z) for z in in_service(child, ServiceKind.NEXUS))
    assert by_sled == {low.id: 2, high.id: 1}
    low_pools = sorted(d.pool_id for d in low.disks)
    assert (
        sorted(
            z.filesystem_pool
            for z in in_service(child, ServiceKind.NEXUS)
            if sled_of(child, z) == low.id
        )
        == low_pools[:2]
    )


def test_the_sled_with_fewer_zones_wins_a_tie() -> None:
    builder = RackBuilder(seed=3)
    first, second = sorted(
        (builder.add_sled(disks=2), builder.add_sled(disks=2)), key=lambda s: s.id
    )
    builder.add_zone(first, "crucible")
    parent = builder.build()
    planning_input = dataclasses.replace(
        input_of(parent), zone_policy=ZonePolicy(nexus=1, external_dns=0, boundary_ntp=0)
    )
    child = child_of(parent, planning_input)
    (nexus,) = in_service(child, ServiceKind.NEXUS)
    assert sled_of(child, nexus) == second.id
    assert nexus.filesystem_pool == second.pools[0]


def test_a_kind_fills_at_most_one_zone_per_pool() -> None:
    rack = make_rack(sleds=1, disks=2, policy=ZonePolicy(nexus=3, external_dns=0, boundary_ntp=0))
    result = run(None, rack)
    assert result.blueprint is not None
    nexus = in_service(result.blueprint, ServiceKind.NEXUS)
    assert len(nexus) == 2
    assert len({z.filesystem_pool for z in nexus}) == 2
    (note,) = result.notes
    assert note.startswith("nexus: 2 of 3 zones in service; cannot place 1 more: no eligible sled")


def test_boundary_ntp_is_at_most_one_per_sled() -> None:
    rack = make_rack(sleds=1, disks=5, policy=ZonePolicy(nexus=0, external_dns=0, boundary_ntp=2))
    result = run(None, rack)
    assert result.blueprint is not None
    assert len(in_service(result.blueprint, ServiceKind.BOUNDARY_NTP)) == 1
    assert any(
        "boundary_ntp: 1 of 2" in note and "no boundary NTP" in note for note in result.notes
    )


def test_exhausted_ip_pool_is_explained() -> None:
    ranges = (IpRange(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")),)
    result = run(None, make_rack(ranges=ranges))
    assert result.blueprint is not None
    assert counts(result.blueprint) == {"nexus": 2}
    assert result.notes[0] == (
        "nexus: 2 of 3 zones in service; cannot place 1 more: no free IP in the service IP pool"
        " (1 range, 2 addresses)"
    )
    assert result.notes[1].startswith("external_dns: 0 of 3")
    assert result.notes[2].startswith("boundary_ntp: 0 of 2")


def test_no_ranges_places_nothing_and_says_why() -> None:
    result = run(None, make_rack(ranges=()))
    assert result.blueprint is not None  # the sleds are still added
    assert counts(result.blueprint) == {}
    assert all("the service IP pool has no ranges" in note for note in result.notes)
    assert len(result.notes) == 3


def test_more_zones_than_the_policy_are_kept_and_noted() -> None:
    parent = child_of(None, make_rack())
    fewer = dataclasses.replace(make_rack(), zone_policy=ZonePolicy(nexus=1))
    result = run(parent, fewer)
    assert result.blueprint is None
    assert result.notes == (
        "3 nexus zones are in service, more than the policy's 1: none are removed",
    )


def test_zero_policy_and_empty_input_change_nothing() -> None:
    assert run(None, PlanningInput()).blueprint is None
    empty = make_rack(policy=ZonePolicy(nexus=0, external_dns=0, boundary_ntp=0))
    child = child_of(None, empty)
    assert counts(child) == {}
    assert run(child, empty).blueprint is None


# --- expunging -----------------------------------------------------------------------------------


def test_nothing_changed_gives_no_blueprint() -> None:
    rack = make_rack()
    parent = child_of(None, rack)
    result = run(parent, rack, seed=99)
    assert result == PlanResult(None, (), ())
    assert not result.changed


def test_expunged_disk_expunges_its_zones_and_they_are_replaced() -> None:
    rack = make_rack()
    parent = child_of(None, rack)
    victim = in_service(parent, ServiceKind.NEXUS)[0]
    pool = victim.filesystem_pool
    on_pool = [z.id for z in parent.in_service_zones() if z.filesystem_pool == pool]
    child = child_of(parent, expunge_disk(rack, pool))

    assert child.parent_blueprint_id == parent.id
    sled = child.sled(sled_of(parent, victim))
    assert sled is not None
    disk = next(d for d in sled.disks if d.pool_id == pool)
    assert disk.disposition == ExpungedDisposition(
        kind="expunged", as_of_generation=2, ready_for_cleanup=False
    )
    for zone_id in on_pool:
        zone = child.zone(zone_id)
        assert zone is not None
        assert zone.disposition == disk.disposition
    assert counts(child) == counts(parent)
    new_zones = [z for z in child.in_service_zones() if parent.zone(z.id) is None]
    assert len(new_zones) == len(on_pool)
    assert all(z.filesystem_pool != pool for z in new_zones)
    assert f"expunged disk {disk.id}" in child.comment


def test_replacement_reuses_the_expunged_zones_addresses() -> None:
    rack = make_rack(policy=ZonePolicy(nexus=3, external_dns=0, boundary_ntp=0))
    parent = child_of(None, rack)
    victim = in_service(parent, ServiceKind.NEXUS)[1]
    child = child_of(parent, expunge_disk(rack, victim.filesystem_pool))
    (replacement,) = [z for z in in_service(child, ServiceKind.NEXUS) if parent.zone(z.id) is None]
    assert replacement.external_ip is not None
    assert victim.external_ip is not None
    assert replacement.nic is not None
    assert victim.nic is not None
    assert replacement.external_ip.ip == victim.external_ip.ip
    assert replacement.nic.ip == victim.nic.ip
    assert replacement.nic.mac == victim.nic.mac
    # New row ids all the same: the executor must create new rows, not reuse the old ones.
    assert replacement.external_ip.id != victim.external_ip.id
    assert replacement.nic.id != victim.nic.id
    assert replacement.id != victim.id


def test_a_dual_stack_replacement_reuses_both_addresses_of_the_expunged_zone() -> None:
    rack = make_rack(
        policy=ZonePolicy(nexus=3, external_dns=0, boundary_ntp=0),
        nic_ip_stack=NicIpStack.DUAL_STACK,
    )
    parent = child_of(None, rack)
    victim = in_service(parent, ServiceKind.NEXUS)[2]
    # No setting this time: the parent's NICs are all dual-stack.
    following = dataclasses.replace(rack, nic_ip_stack=None)
    child = child_of(parent, expunge_disk(following, victim.filesystem_pool))
    (replacement,) = [z for z in in_service(child, ServiceKind.NEXUS) if parent.zone(z.id) is None]
    assert replacement.nic is not None
    assert victim.nic is not None
    assert (replacement.nic.ip, replacement.nic.ipv6, replacement.nic.mac) == (
        victim.nic.ip,
        victim.nic.ipv6,
        victim.nic.mac,
    )
    assert replacement.nic.id != victim.nic.id


def test_expunged_snat_block_is_free_again() -> None:
    rack = make_rack(policy=ZonePolicy(nexus=0, external_dns=0, boundary_ntp=2))
    parent = child_of(None, rack)
    victim = in_service(parent, ServiceKind.BOUNDARY_NTP)[0]
    child = child_of(parent, expunge_disk(rack, victim.filesystem_pool))
    (replacement,) = [
        z for z in in_service(child, ServiceKind.BOUNDARY_NTP) if parent.zone(z.id) is None
    ]
    new, old = replacement.external_ip, victim.external_ip
    assert isinstance(new, SnatExternalIp)
    assert isinstance(old, SnatExternalIp)
    assert (new.ip, new.first_port, new.last_port) == (old.ip, old.first_port, old.last_port)
    assert new.id != old.id


def test_expunged_sled_expunges_everything_on_it() -> None:
    rack = make_rack(sleds=4)
    parent = child_of(None, rack)
    target = sled_of(parent, in_service(parent, ServiceKind.NEXUS)[0])
    child = child_of(parent, change_sled(rack, target, policy=SledPolicy.EXPUNGED))
    sled = child.sled(target)
    assert sled is not None
    assert sled.state is SledState.ACTIVE
    assert all(not d.is_in_service for d in sled.disks)
    assert all(z.is_expunged for z in sled.zones)
    assert counts(child) == counts(parent)
    assert "expunged" in child.comment
    # Planning again changes nothing.
    assert run(child, change_sled(rack, target, policy=SledPolicy.EXPUNGED)).blueprint is None


def test_decommissioned_sled_is_marked_decommissioned() -> None:
    rack = make_rack(sleds=4)
    parent = child_of(None, rack)
    target = rack.sleds[0].id
    gone = change_sled(rack, target, policy=SledPolicy.EXPUNGED, state=SledState.DECOMMISSIONED)
    child = child_of(parent, gone)
    sled = child.sled(target)
    assert sled is not None
    assert sled.state is SledState.DECOMMISSIONED
    assert all(z.is_expunged for z in sled.zones)
    assert f"sled {target} is decommissioned" in child.comment


def test_decommissioned_disk_counts_as_out_of_service() -> None:
    rack = make_rack()
    parent = child_of(None, rack)
    victim = in_service(parent, ServiceKind.EXTERNAL_DNS)[0]
    sleds = tuple(
        dataclasses.replace(
            s,
            disks=tuple(
                dataclasses.replace(d, state=DiskState.DECOMMISSIONED)
                if d.pool_id == victim.filesystem_pool
                else d
                for d in s.disks
            ),
        )
        for s in rack.sleds
    )
    child = child_of(parent, dataclasses.replace(rack, sleds=sleds))
    zone = child.zone(victim.id)
    assert zone is not None
    assert zone.is_expunged


def test_generation_is_one_more_than_the_parents_highest() -> None:
    builder = RackBuilder(seed=5)
    sled = builder.add_sled(disks=3)
    zones = [builder.add_zone(sled, "crucible", pool=pool) for pool in sled.pools]
    builder.expunge_zone(zones[0])
    builder.expunge_zone(zones[1])
    builder.expunge_zone(zones[2])  # generations 2, 3, 4
    builder.add_zone(sled, "nexus", pool=sled.pools[1])
    parent = builder.build()
    planning_input = dataclasses.replace(
        expunge_disk(input_of(parent), sled.pools[1]),
        zone_policy=ZonePolicy(nexus=0, external_dns=0, boundary_ntp=0),
    )
    child = child_of(parent, planning_input)
    (expunged,) = [z for z in child.expunged_zones() if z.kind is ZoneKind.NEXUS]
    assert expunged.disposition == ExpungedDisposition(
        kind="expunged", as_of_generation=5, ready_for_cleanup=False
    )


def test_internal_zones_are_carried_over_and_expunged_with_their_disk() -> None:
    builder = RackBuilder(seed=11)
    sled = builder.add_sled(disks=2)
    keep = builder.add_zone(sled, "cockroach_db", pool=sled.pools[0])
    lose = builder.add_zone(sled, "crucible", pool=sled.pools[1])
    parent = builder.build()
    planning_input = dataclasses.replace(
        expunge_disk(input_of(parent), sled.pools[1]),
        zone_policy=ZonePolicy(nexus=0, external_dns=0, boundary_ntp=0),
    )
    child = child_of(parent, planning_input)
    assert child.zone(keep) == parent.zone(keep)
    zone = child.zone(lose)
    assert zone is not None
    assert zone.is_expunged
    assert child.zone(lose) != parent.zone(lose)


def test_the_expungement_race_from_the_incident() -> None:
    """Disk 9 hosts a Nexus; its replacement lands on disk 10, which is expunged next.

    Planning twice with no executor run in between leaves the short-lived Nexus expunged in
    every later blueprint: exactly the zone whose rows were never created.
    """
    rack = make_rack(sleds=2, disks=10, policy=ZonePolicy(nexus=2, external_dns=0, boundary_ntp=0))
    bp0 = child_of(None, rack)
    doomed_sled = rack.sleds[0]
    pools = sorted(d.pool_id for d in doomed_sled.disks)
    planning_input = rack
    parent = bp0
    short_lived: list[uuid.UUID] = []
    for pool in pools:
        planning_input = expunge_disk(planning_input, pool)
        result = run(parent, planning_input)
        assert result.blueprint is not None
        new = [
            z.id
            for z in in_service(result.blueprint, ServiceKind.NEXUS)
            if parent.zone(z.id) is None
        ]
        short_lived.extend(new)
        parent = result.blueprint
    # Each replacement stayed on the doomed sled (fewest Nexus zones, lowest id) until it had no
    # disks left, so all but the last replacement were expunged before any executor could run.
    assert len(short_lived) == len(pools)
    for zone_id in short_lived[:-1]:
        zone = parent.zone(zone_id)
        assert zone is not None
        assert zone.is_expunged
    last = parent.zone(short_lived[-1])
    assert last is not None
    assert last.is_in_service
    assert sled_of(parent, last) == rack.sleds[1].id
    assert len(in_service(parent, ServiceKind.NEXUS)) == 2


# --- sleds and disks the parent does not know ----------------------------------------------------


def test_new_sled_is_added_without_moving_zones() -> None:
    rack = make_rack()
    parent = child_of(None, rack)
    extra = SledInput(
        id=uuid.UUID(int=1, version=4),
        disks=(DiskInput(uuid.UUID(int=2, version=4), uuid.UUID(int=3, version=4)),),
    )
    bigger = dataclasses.replace(rack, sleds=(*rack.sleds, extra))
    result = run(parent, bigger)
    child = result.blueprint
    assert child is not None
    assert result.changes == (f"added sled {extra.id} with 1 disk",)
    sled = child.sled(extra.id)
    assert sled is not None
    assert sled.zones == ()
    assert [d.pool_id for d in sled.disks] == [extra.disks[0].pool_id]
    assert list(child.all_zones()) == list(parent.all_zones())


def test_new_disk_on_a_known_sled_is_added() -> None:
    rack = make_rack()
    parent = child_of(None, rack)
    disk = DiskInput(uuid.UUID(int=10, version=4), uuid.UUID(int=11, version=4))
    sled = rack.sleds[1]
    grown = change_sled(rack, sled.id, disks=(*sled.disks, disk))
    child = child_of(parent, grown)
    bp_sled = child.sled(sled.id)
    assert bp_sled is not None
    assert bp_sled.disk_for_pool(disk.pool_id) is not None
    assert child.comment == f"added 1 disk to sled {sled.id} (now 4)"


def test_expunged_sled_not_in_the_parent_is_not_added() -> None:
    rack = make_rack(sleds=2)
    gone = change_sled(rack, rack.sleds[0].id, policy=SledPolicy.EXPUNGED)
    result = run(None, gone)
    assert result.blueprint is not None
    assert [s.id for s in result.blueprint.sleds] == [rack.sleds[1].id]
    assert any(f"sled {rack.sleds[0].id} is not in service" in note for note in result.notes)


def test_sled_missing_from_the_input_is_left_alone() -> None:
    rack = make_rack(sleds=3)
    parent = child_of(None, rack)
    missing = rack.sleds[2]
    smaller = dataclasses.replace(rack, sleds=rack.sleds[:2])
    result = run(parent, smaller)
    assert result.blueprint is None
    assert any(f"sled {missing.id} is in the parent blueprint but not" in n for n in result.notes)


def test_sled_missing_from_the_input_gets_no_new_zones() -> None:
    rack = make_rack(sleds=2, policy=ZonePolicy(nexus=2, external_dns=0, boundary_ntp=0))
    parent = child_of(None, rack)
    # Forget the second sled and expunge the first one's Nexus disk.
    first = rack.sleds[0]
    (nexus,) = [z for z in in_service(parent, ServiceKind.NEXUS) if sled_of(parent, z) == first.id]
    smaller = expunge_disk(dataclasses.replace(rack, sleds=(first,)), nexus.filesystem_pool)
    child = child_of(parent, smaller)
    new = [z for z in in_service(child, ServiceKind.NEXUS) if parent.zone(z.id) is None]
    assert [sled_of(child, z) for z in new] == [first.id]


# --- determinism and inputs ----------------------------------------------------------------------


def test_the_same_seed_gives_the_same_blueprint() -> None:
    rack = make_rack(seed=4)
    first = child_of(None, rack, seed=123)
    second = child_of(None, rack, seed=123)
    assert first == second
    assert first.to_json() == second.to_json()
    other = child_of(None, rack, seed=124)
    assert other.id != first.id
    # Only the new ids depend on the id source; placement and addresses do not.
    assert placements(first) == placements(other)


def test_a_reused_seed_never_repeats_the_parents_ids() -> None:
    rack = make_rack()
    parent = plan(None, rack, SeededIds(5), now=NOW).blueprint
    assert parent is not None
    victim = in_service(parent, ServiceKind.NEXUS)[0]
    child = plan(parent, expunge_disk(rack, victim.filesystem_pool), SeededIds(5), now=NOW)
    assert child.blueprint is not None
    assert child.blueprint.id != parent.id
    assert lint(child.blueprint) == []
    new = [z for z in child.blueprint.all_zones() if parent.zone(z.id) is None]
    assert new
    old_rows = {z.nic.id for z in parent.all_zones() if z.nic} | {
        z.external_ip.id for z in parent.all_zones() if z.external_ip
    }
    assert all(z.nic is not None and z.nic.id not in old_rows for z in new)


def test_time_defaults_to_now_and_creator_is_recorded() -> None:
    before = datetime.now(UTC)
    result = plan(None, make_rack(), RandomIds(), creator="operator")
    assert result.blueprint is not None
    assert result.blueprint.creator == "operator"
    assert result.blueprint.time_created >= before


def test_seeded_ids_are_deterministic_uuid4s() -> None:
    a, b = SeededIds(9), SeededIds(9)
    first = [a.new_id() for _ in range(5)]
    assert first == [b.new_id() for _ in range(5)]
    assert all(i.version == 4 for i in first)
    assert len(set(first)) == 5
    assert SeededIds(10).new_id() != first[0]
    random_ids = RandomIds()
    assert random_ids.new_id() != random_ids.new_id()
    assert repr(a) == "SeededIds(9)"


def test_planning_input_rejects_duplicates_and_bad_ranges() -> None:
    sled = SledInput(id=uuid.UUID(int=1), disks=(DiskInput(uuid.UUID(int=2), uuid.UUID(int=3)),))
    with pytest.raises(PlanningInputInvalid, match=f"sled {sled.id} appears more than once"):
        PlanningInput(sleds=(sled, sled))
    twin = SledInput(id=uuid.UUID(int=4), disks=(DiskInput(uuid.UUID(int=5), uuid.UUID(int=3)),))
    with pytest.raises(PlanningInputInvalid, match=f"pool {uuid.UUID(int=3)} is on disks"):
        PlanningInput(sleds=(sled, twin))
    with pytest.raises(PlanningInputInvalid, match="mixes address families"):
        PlanningInput(ip_ranges=(IpRange(IPv4Address("10.0.0.1"), IPv6Address("::1")),))
    with pytest.raises(PlanningInputInvalid, match="ends before it starts"):
        PlanningInput(ip_ranges=(IpRange(IPv4Address("10.0.0.2"), IPv4Address("10.0.0.1")),))
    with pytest.raises(PlanningInputInvalid, match="must not be negative"):
        ZonePolicy(nexus=-1)


def test_planning_input_sorts_sleds_disks_and_ranges() -> None:
    ids = [uuid.UUID(int=i) for i in range(1, 7)]
    sled = SledInput(id=ids[0], disks=(DiskInput(ids[3], ids[4]), DiskInput(ids[1], ids[2])))
    other = SledInput(id=ids[5])
    ranges = (
        IpRange(IPv4Address("10.0.0.9"), IPv4Address("10.0.0.9")),
        IpRange(IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2")),
    )
    planning_input = PlanningInput(sleds=(other, sled), ip_ranges=ranges)
    assert [s.id for s in planning_input.sleds] == [ids[0], ids[5]]
    assert [d.id for d in planning_input.sleds[0].disks] == [ids[1], ids[3]]
    assert [r.first for r in planning_input.ip_ranges] == [
        IPv4Address("10.0.0.1"),
        IPv4Address("10.0.0.9"),
    ]
    assert planning_input.ip_ranges[0].size == 2
    assert planning_input.sled(ids[5]) is other
    assert planning_input.sled(ids[2]) is None


def test_builder_blueprints_are_valid_parents() -> None:
    builder = RackBuilder(seed=2)
    sleds = [builder.add_sled(disks=3) for _ in range(3)]
    for sled in sleds:
        builder.add_zone(sled, "nexus")
        builder.add_zone(sled, "internal_ntp")
    parent = builder.build()
    ranges = (IpRange(IPv4Address(EXTERNAL_RANGE[0]), IPv4Address(EXTERNAL_RANGE[1])),)
    child = child_of(parent, input_of(parent, ranges))
    assert counts(child)["nexus"] == 3
    assert counts(child)["external_dns"] == 3
    assert counts(child)["boundary_ntp"] == 2
    used = {z.external_ip.ip for z in parent.in_service_zones() if z.external_ip}
    fresh = [z for z in child.in_service_zones() if parent.zone(z.id) is None]
    assert all(
        z.external_ip is not None and z.external_ip.ip not in used
        for z in fresh
        if z.kind is not ZoneKind.BOUNDARY_NTP
    )
    assert int_to_mac(MAC_RANGE_FIRST) in {z.nic.mac for z in fresh if z.nic}
