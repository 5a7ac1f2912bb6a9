"""Properties of the planner over random racks and random sequences of expungements.

Each example builds a rack (1-8 sleds of 1-10 disks, IPv4 and IPv6 service IP ranges of
various sizes, a zone policy, a NIC addressing setting), plans the initial blueprint, then
applies a random sequence of operator actions (mostly disk and sled expungements, a few added
sleds and disks), planning after each one, as a planner running ahead of the executor would.
After every pass the blueprint in effect must be sound, and the policy counts must be reached
unless the rack has no room left, in which case the notes must say so; and every new service
NIC must have the address families asked for.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import Blueprint, BlueprintZone, SledState
from reconfigurator.fixed_data import SERVICE_SUBNETS, SNAT_BLOCK_PORTS, ServiceKind
from reconfigurator.planner import (
    DiskInput,
    DiskPolicy,
    IpRange,
    NicIpStack,
    PlanningInput,
    PlanResult,
    SeededIds,
    SledInput,
    SledPolicy,
    ZonePolicy,
    plan,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
EXTERNAL_KINDS = (ServiceKind.NEXUS, ServiceKind.EXTERNAL_DNS, ServiceKind.BOUNDARY_NTP)
PROPERTY_SETTINGS = settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- strategies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    rack: PlanningInput
    #: ``(action, sled index, disk index)``: expunge a disk (``disk``) or a sled (``sled``),
    #: expunge and decommission a sled (``decommission``), add a sled with ``disk index + 1``
    #: disks (``add_sled``) or add a disk (``add_disk``). Indexes are taken modulo the sizes.
    steps: tuple[tuple[str, int, int], ...]
    seed: int
    #: The NIC addressing setting after the initial blueprint (the rack's holds for it).
    later_stack: NicIpStack | None = None


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    seed = draw(st.integers(0, 2**32 - 1))
    ids = SeededIds(seed)
    disk_counts = draw(st.lists(st.integers(1, 10), min_size=1, max_size=8))
    sleds = tuple(
        SledInput(
            id=ids.new_id(),
            disks=tuple(DiskInput(ids.new_id(), ids.new_id()) for _ in range(count)),
        )
        for count in disk_counts
    )
    sizes = draw(st.lists(st.tuples(st.integers(1, 24), st.booleans()), min_size=0, max_size=3))
    firsts = [
        IPv6Address(f"2001:db8:{index}::10") if ipv6 else IPv4Address(f"198.51.{index}.10")
        for index, (_size, ipv6) in enumerate(sizes)
    ]
    ranges = tuple(
        IpRange(first, first + size - 1) for first, (size, _ipv6) in zip(firsts, sizes, strict=True)
    )
    policy = draw(
        st.one_of(
            st.just(ZonePolicy()),
            st.builds(
                ZonePolicy,
                nexus=st.integers(0, 6),
                external_dns=st.integers(0, 6),
                boundary_ntp=st.integers(0, 5),
            ),
        )
    )
    step = st.tuples(
        st.sampled_from(["disk", "disk", "disk", "sled", "decommission", "add_sled", "add_disk"]),
        st.integers(0, 7),
        st.integers(0, 9),
    )
    steps = tuple(draw(st.lists(step, min_size=1, max_size=10)))
    stacks = st.sampled_from([None, NicIpStack.FOLLOW_EXTERNAL_IP, NicIpStack.DUAL_STACK])
    rack = PlanningInput(
        sleds=sleds, ip_ranges=ranges, zone_policy=policy, nic_ip_stack=draw(stacks)
    )
    return Scenario(rack, steps, seed, draw(stacks))


def apply_step(
    planning_input: PlanningInput, step: tuple[str, int, int], ids: SeededIds
) -> PlanningInput:
    """One operator action; new sleds and disks take their ids from ``ids``."""
    action, sled_index, disk_index = step
    if action == "add_sled":
        sled = SledInput(
            id=ids.new_id(),
            disks=tuple(DiskInput(ids.new_id(), ids.new_id()) for _ in range(disk_index + 1)),
        )
        return dataclasses.replace(planning_input, sleds=(*planning_input.sleds, sled))
    target = planning_input.sleds[sled_index % len(planning_input.sleds)]
    if action == "add_disk":
        added = DiskInput(ids.new_id(), ids.new_id())
        changed = dataclasses.replace(target, disks=(*target.disks, added))
    elif action == "disk":
        victim = target.disks[disk_index % len(target.disks)]
        disks = tuple(
            dataclasses.replace(d, policy=DiskPolicy.EXPUNGED) if d.id == victim.id else d
            for d in target.disks
        )
        changed = dataclasses.replace(target, disks=disks)
    elif action == "sled":
        changed = dataclasses.replace(target, policy=SledPolicy.EXPUNGED)
    else:
        changed = dataclasses.replace(
            target, policy=SledPolicy.EXPUNGED, state=SledState.DECOMMISSIONED
        )
    sleds = tuple(changed if s.id == target.id else s for s in planning_input.sleds)
    return dataclasses.replace(planning_input, sleds=sleds)


@dataclass(frozen=True)
class Pass:
    planning_input: PlanningInput
    parent: Blueprint | None
    result: PlanResult

    @property
    def in_effect(self) -> Blueprint | None:
        return self.result.blueprint if self.result.blueprint is not None else self.parent


def run_scenario(scenario: Scenario) -> Iterator[Pass]:
    """Plan the initial blueprint, then once after every step (ids from the scenario's seed)."""
    ids = SeededIds(scenario.seed + 1)
    rack_ids = SeededIds(scenario.seed + 2)
    planning_input = scenario.rack
    parent: Blueprint | None = None
    for step in (None, *scenario.steps):
        if step is not None:
            planning_input = apply_step(planning_input, step, rack_ids)
            planning_input = dataclasses.replace(planning_input, nic_ip_stack=scenario.later_stack)
        result = plan(parent, planning_input, ids, now=NOW)
        yield Pass(planning_input, parent, result)
        if result.blueprint is not None:
            parent = result.blueprint


# --- independent checks --------------------------------------------------------------------------


def in_service_of(blueprint: Blueprint, kind: ServiceKind) -> list[BlueprintZone]:
    return [z for z in blueprint.in_service_zones() if z.kind.value == kind.value]


def free_external(blueprint: Blueprint, ranges: tuple[IpRange, ...], kind: ServiceKind) -> bool:
    """Whether some address (SNAT: some aligned port block) of the ranges is unused."""
    held: dict[object, list[tuple[int, int]]] = {}
    for zone in blueprint.in_service_zones():
        ip = zone.external_ip
        if ip is not None:
            held.setdefault(ip.ip, []).append((ip.first_port, ip.last_port))
    for first, last in ranges:
        for value in range(int(first), int(last) + 1):
            taken = held.get(type(first)(value), [])
            if kind is not ServiceKind.BOUNDARY_NTP:
                if not taken:
                    return True
                continue
            for block in range(4):
                lo, hi = block * SNAT_BLOCK_PORTS, (block + 1) * SNAT_BLOCK_PORTS - 1
                if all(hi < a or lo > b for a, b in taken):
                    return True
    return False


def has_room(blueprint: Blueprint, planning_input: PlanningInput, kind: ServiceKind) -> bool:
    """Whether a sled could take one more zone of ``kind`` (placement rules only)."""
    for sled_input in planning_input.sleds:
        sled = blueprint.sled(sled_input.id)
        if sled is None or not sled_input.is_in_service or sled.state is not SledState.ACTIVE:
            continue
        usable = {d.id for d in sled_input.disks if d.is_in_service}
        pools = {d.pool_id for d in sled.disks if d.is_in_service and d.id in usable}
        mine = [z for z in sled.zones if z.is_in_service and z.kind.value == kind.value]
        limit = 1 if kind is ServiceKind.BOUNDARY_NTP else len(pools)
        if len(mine) < limit and pools - {z.filesystem_pool for z in mine}:
            return True
    return False


def assert_sound(blueprint: Blueprint, planning_input: PlanningInput) -> None:
    disks = {d.pool_id: d for s in planning_input.sleds for d in s.disks}
    sleds = {s.id: s for s in planning_input.sleds}
    external: list[tuple[object, int, int, uuid.UUID]] = []
    nic_ips: dict[IPv4Address | IPv6Address, uuid.UUID] = {}
    macs: dict[str, uuid.UUID] = {}
    for sled, zone in blueprint.zones():
        if not zone.is_in_service:
            continue
        assert sleds[sled.id].is_in_service, f"in-service zone {zone.id} on sled {sled.id}"
        assert disks[zone.filesystem_pool].is_in_service, (
            f"in-service zone {zone.id} on a gone disk"
        )
        bp_disk = sled.disk_for_pool(zone.filesystem_pool)
        assert bp_disk is not None
        assert bp_disk.is_in_service
        ip, nic = zone.external_ip, zone.nic
        if ip is None or nic is None:
            continue
        for other_ip, first, last, owner in external:
            overlap = other_ip == ip.ip and first <= ip.last_port and ip.first_port <= last
            assert not overlap, f"zones {owner} and {zone.id} share external IP {ip.ip}"
        external.append((ip.ip, ip.first_port, ip.last_port, zone.id))
        for address in (nic.ip, nic.ipv6):
            if address is None:
                continue
            holder = nic_ips.get(address)
            assert holder is None, f"zones {holder} and {zone.id} share NIC IP {address}"
            nic_ips[address] = zone.id
        assert nic.mac not in macs, f"zones {macs.get(nic.mac)} and {zone.id} share a MAC"
        macs[nic.mac] = zone.id


def assert_carried_over(parent: Blueprint, child: Blueprint) -> None:
    """Nothing is lost or revived: parent zones are kept, or (only in-service ones) expunged."""
    for zone in parent.all_zones():
        now = child.zone(zone.id)
        assert now is not None, f"zone {zone.id} disappeared"
        if zone.is_expunged or now.is_in_service:
            assert now == zone
        else:
            assert now.zone_type == zone.zone_type
            assert now.filesystem_pool == zone.filesystem_pool
    for sled in parent.sleds:
        child_sled = child.sled(sled.id)
        assert child_sled is not None
        for disk in sled.disks:
            if not disk.is_in_service:
                assert child_sled.disks.count(disk) == 1


# --- properties ----------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_blueprint_is_sound(scenario: Scenario) -> None:
    for step in run_scenario(scenario):
        child = step.result.blueprint
        if child is None:
            continue
        assert lint(child) == []
        assert_sound(child, step.planning_input)
        assert child.parent_blueprint_id == (step.parent.id if step.parent else None)
        if step.parent is not None:
            assert_carried_over(step.parent, child)


@PROPERTY_SETTINGS
@given(scenarios())
def test_policy_counts_are_reached_when_there_is_room(scenario: Scenario) -> None:
    for step in run_scenario(scenario):
        blueprint = step.in_effect
        if blueprint is None:  # nothing at all to plan: no sled was ever in service
            continue
        policy = step.planning_input.zone_policy
        for kind in EXTERNAL_KINDS:
            count = len(in_service_of(blueprint, kind))
            target = policy.target(kind)
            before = len(in_service_of(step.parent, kind)) if step.parent else 0
            assert count <= max(target, before), f"{kind}: placed more than the policy asks"
            if count >= target:
                continue
            notes = [n for n in step.result.notes if n.startswith(f"{kind.value}: ")]
            assert len(notes) == 1, (kind, step.result.notes)
            assert f"{count} of {target} zones in service" in notes[0]
            room = has_room(blueprint, step.planning_input, kind)
            address = free_external(blueprint, step.planning_input.ip_ranges, kind)
            assert not (room and address), f"{kind}: room and addresses left, yet {notes[0]}"
            if not room:
                assert "no eligible sled" in notes[0]
            else:
                assert "service IP pool" in notes[0]


@PROPERTY_SETTINGS
@given(scenarios())
def test_the_same_seed_gives_the_same_blueprints(scenario: Scenario) -> None:
    first = [(p.result.blueprint, p.result.notes) for p in run_scenario(scenario)]
    second = [(p.result.blueprint, p.result.notes) for p in run_scenario(scenario)]
    assert first == second
    assert [bp.to_json() if bp else None for bp, _ in first] == [
        bp.to_json() if bp else None for bp, _ in second
    ]


def _all_dual_stack(blueprint: Blueprint | None) -> bool:
    if blueprint is None:
        return False
    nics = [zone.nic for zone in blueprint.in_service_zones() if zone.nic is not None]
    return bool(nics) and all(nic.ip is not None and nic.ipv6 is not None for nic in nics)


@PROPERTY_SETTINGS
@given(scenarios())
def test_new_nics_have_the_address_families_asked_for(scenario: Scenario) -> None:
    for step in run_scenario(scenario):
        child = step.result.blueprint
        if child is None:
            continue
        stack = step.planning_input.nic_ip_stack
        dual = stack is NicIpStack.DUAL_STACK or (stack is None and _all_dual_stack(step.parent))
        for zone in child.in_service_zones():
            if step.parent is not None and step.parent.zone(zone.id) is not None:
                continue
            nic, external, service = zone.nic, zone.external_ip, zone.kind.service_kind
            if nic is None or external is None or service is None:
                continue
            assert nic.name == service.row_name(zone.id)
            families = {a.version for a in (nic.ip, nic.ipv6) if a is not None}
            assert families == ({4, 6} if dual else {external.ip.version}), zone.id
            subnet = SERVICE_SUBNETS[service]
            assert nic.subnet == (subnet.ipv4 if nic.ip is not None else None)
            assert nic.ipv6_subnet == (subnet.ipv6 if nic.ipv6 is not None else None)
