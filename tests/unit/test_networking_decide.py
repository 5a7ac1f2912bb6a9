"""The networking decision (docs/design.md#executor-semantics), rule by rule, on hand-made
table states: no database.

Each test builds a blueprint with the rack builder, states what the two tables hold as plain
records, and reads the plan: what is soft-deleted, counted, created or left unchanged, and
every conflict with its kind, zone, row and owner.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from reconfigurator.errors import (
    Conflict,
    ConflictKind,
    ExternalNetworkingConflict,
    RecordNotFound,
)
from reconfigurator.fixed_data import SERVICE_SUBNETS, ServiceKind
from reconfigurator.networking import (
    BlueprintNetworking,
    Deallocation,
    DesiredExternalIp,
    DesiredNic,
    ExternalIpRow,
    MissingRowPolicy,
    NetworkingPlan,
    NetworkingState,
    NicRow,
    PoolRange,
    RowResult,
    Table,
    decide,
)
from reconfigurator.networking.desired import desired_external_ip, desired_nic
from tests.blueprint_builder import RackBuilder, SledHandle
from tests.networking_records import live_external_ip as ext_row
from tests.networking_records import live_nic as nic_row

DELETED = datetime(2026, 1, 2, tzinfo=UTC)

V4_POOL = uuid.UUID("00000000-0000-4000-8000-0000000000a4")
V6_POOL = uuid.UUID("00000000-0000-4000-8000-0000000000a6")
#: Two IPv4 ranges of one pool (the builder hands out 192.0.2.1 upwards) and an IPv6 one.
LOW_RANGE = PoolRange(
    uuid.UUID("00000000-0000-4000-8000-000000000001"),
    V4_POOL,
    IPv4Address("192.0.2.1"),
    IPv4Address("192.0.2.3"),
)
HIGH_RANGE = PoolRange(
    uuid.UUID("00000000-0000-4000-8000-000000000002"),
    V4_POOL,
    IPv4Address("192.0.2.4"),
    IPv4Address("192.0.2.254"),
)
V6_RANGE = PoolRange(
    uuid.UUID("00000000-0000-4000-8000-000000000003"),
    V6_POOL,
    IPv6Address("fd00::1"),
    IPv6Address("fd00::ffff"),
)
RANGES = [LOW_RANGE, HIGH_RANGE, V6_RANGE]

#: A parent that is no zone of any blueprint here (an instance, another rack's zone).
STRANGER = uuid.UUID("00000000-0000-4000-8000-00000000beef")

EXT = Table.EXTERNAL_IP
NIC = Table.NIC


# --- building blueprints and states --------------------------------------------------------------


def new_rack(seed: int = 1) -> tuple[RackBuilder, SledHandle]:
    rack = RackBuilder(seed=seed)
    return rack, rack.add_sled(disks=4)


def external_of(desired: BlueprintNetworking, zone_id: uuid.UUID) -> DesiredExternalIp:
    """The external IP row a zone needs, in service or (derived from its entry) expunged."""
    for wanted in desired.external_ips:
        if wanted.zone_id == zone_id:
            return wanted
    found = desired_external_ip(desired.expunged[position(desired, zone_id)].zone)
    assert found is not None
    return found


def nic_of(desired: BlueprintNetworking, zone_id: uuid.UUID) -> DesiredNic:
    """The NIC row a zone needs, in service or (derived from its entry) expunged."""
    for wanted in desired.nics:
        if wanted.zone_id == zone_id:
            return wanted
    found = desired_nic(desired.expunged[position(desired, zone_id)].zone)
    assert found is not None
    return found


def position(desired: BlueprintNetworking, zone_id: uuid.UUID) -> int:
    """Where an expunged zone is in the blueprint's list (the key of ``expunged_*``)."""
    return [entry.zone_id for entry in desired.expunged].index(zone_id)


def state_of(
    *rows: ExternalIpRow | NicRow,
    ranges: list[PoolRange] | None = None,
    expunged_external_ips: dict[int, ExternalIpRow | None] | None = None,
    expunged_nics: dict[int, NicRow | None] | None = None,
    repaired: set[tuple[Table, int]] | None = None,
    repaired_counted: dict[Table, int] | None = None,
) -> NetworkingState:
    """A snapshot: ``rows`` as the in-service part reads them, the expunged part as given."""
    return NetworkingState(
        external_ips={r.id: r for r in rows if isinstance(r, ExternalIpRow)},
        nics={r.id: r for r in rows if isinstance(r, NicRow)},
        pool_ranges=list(RANGES if ranges is None else ranges),
        expunged_external_ips=expunged_external_ips or {},
        expunged_nics=expunged_nics or {},
        repaired=repaired or set(),
        repaired_counted=repaired_counted or {},
    )


def only_conflict(plan: NetworkingPlan) -> Conflict:
    assert len(plan.conflicts) == 1, [str(c) for c in plan.conflicts]
    return plan.conflicts[0]


def assert_conflict(
    conflict: Conflict,
    kind: ConflictKind,
    *,
    zone: uuid.UUID,
    table: Table,
    row: uuid.UUID,
    owner: uuid.UUID | None = None,
) -> None:
    assert conflict.kind is kind
    assert conflict.zone_id == zone
    assert conflict.table == table.value
    assert conflict.row_id == row
    assert conflict.owner == owner
    assert str(zone) in str(conflict)
    assert str(row) in str(conflict)


def assert_writes_nothing_but_conflicts(plan: NetworkingPlan) -> None:
    """A blocked plan: the writer would refuse it as a whole, whatever else it lists."""
    assert plan.conflicts
    assert isinstance(
        plan.blocking_error(MissingRowPolicy.TREAT_AS_DELETED), ExternalNetworkingConflict
    )


# --- unchanged and created -----------------------------------------------------------------------


def test_a_live_external_ip_equal_to_the_blueprints_is_unchanged() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = external_of(desired, nexus)
    plan = decide(desired, state_of(ext_row(wanted), nic_row(nic_of(desired, nexus))))
    assert plan.conflicts == []
    assert plan.external_ip_unchanged == [wanted]
    assert plan.external_ip_creates == []
    assert plan.warnings == []
    assert not plan.writes_anything


def test_a_live_nic_equal_to_the_blueprints_is_unchanged() -> None:
    rack, sled = new_rack()
    dns = rack.add_zone(sled, "external_dns", stack="dual")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, dns)
    plan = decide(desired, state_of(ext_row(external_of(desired, dns)), nic_row(wanted)))
    assert plan.conflicts == []
    assert plan.nic_unchanged == [wanted]
    assert plan.nic_creates == []
    assert plan.warnings == []
    assert not plan.writes_anything


def test_missing_rows_of_an_in_service_zone_are_created_from_the_range_holding_the_address() -> (
    None
):
    rack, sled = new_rack()
    low = rack.add_zone(sled, "nexus", ip="192.0.2.2")
    high = rack.add_zone(sled, "boundary_ntp", ip="192.0.2.200", ports=(16384, 32767))
    desired = BlueprintNetworking.of(rack.build())
    plan = decide(desired, state_of())
    assert plan.conflicts == []
    created = {c.desired.zone_id: c for c in plan.external_ip_creates}
    assert created[low].pool_range == LOW_RANGE
    assert created[high].pool_range == HIGH_RANGE
    assert created[high].desired.kind == "snat"
    assert (created[high].desired.first_port, created[high].desired.last_port) == (16384, 32767)
    assert created[low].desired.name == f"nexus-{low}"
    assert created[high].desired.name == f"ntp-{high}"
    assert created[high].desired.description == "boundary_ntp"
    assert {n.zone_id for n in plan.nic_creates} == {low, high}
    assert plan.range_allocations() == {LOW_RANGE.id: 1, HIGH_RANGE.id: 1}
    assert plan.writes_anything
    assert plan.blocking_error(MissingRowPolicy.TREAT_AS_DELETED) is None


def test_an_ipv6_external_ip_is_created_from_the_ipv6_pool() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus", ip="fd00::10", stack="v6")
    desired = BlueprintNetworking.of(rack.build())
    (create,) = decide(desired, state_of()).external_ip_creates
    assert create.desired.zone_id == nexus
    assert create.desired.ip == ip_address("fd00::10")
    assert create.pool_range == V6_RANGE
    assert create.pool_range.pool_id == V6_POOL


def test_an_ipv6_only_nic_is_created() -> None:
    rack, sled = new_rack()
    dns = rack.add_zone(sled, "external_dns", ip="fd00::20", stack="v6")
    desired = BlueprintNetworking.of(rack.build())
    plan = decide(desired, state_of())
    assert plan.conflicts == []
    (created,) = plan.nic_creates
    assert created.zone_id == dns
    assert created.ipv4 is None
    assert created.ipv6 is not None
    assert created.ipv6 in SERVICE_SUBNETS[ServiceKind.EXTERNAL_DNS].ipv6
    assert created.subnet_id == SERVICE_SUBNETS[ServiceKind.EXTERNAL_DNS].id
    assert created.name == f"external-dns-{dns}"
    assert created.description == "external_dns service vNIC"


def test_an_ipv6_only_nic_is_unchanged_when_its_row_is_live() -> None:
    rack, sled = new_rack()
    dns = rack.add_zone(sled, "external_dns", ip="fd00::20", stack="v6")
    desired = BlueprintNetworking.of(rack.build())
    plan = decide(
        desired, state_of(ext_row(external_of(desired, dns)), nic_row(nic_of(desired, dns)))
    )
    assert plan.conflicts == []
    assert [n.zone_id for n in plan.nic_unchanged] == [dns]


# --- NICs matched as upstream matches them ------------------------------------------------------


def test_a_nic_with_another_id_but_equal_addresses_is_accepted_with_a_warning() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    other_id = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
    plan = decide(
        desired, state_of(ext_row(external_of(desired, nexus)), nic_row(wanted, id=other_id))
    )
    assert plan.conflicts == []
    assert plan.nic_unchanged == [wanted]
    assert plan.nic_creates == []
    (warning,) = plan.warnings
    assert (warning.zone_id, warning.row_id, warning.blueprint_row_id) == (
        nexus,
        other_id,
        wanted.id,
    )
    assert f"row id {other_id}" in warning.detail
    assert warning.to_json()["table"] == "service_network_interface"
    assert not plan.writes_anything
    assert plan.blocking_error(MissingRowPolicy.TREAT_AS_DELETED) is None


def test_a_nic_in_another_subnet_but_equal_addresses_is_accepted_with_a_warning() -> None:
    rack, sled = new_rack()
    ntp = rack.add_zone(sled, "boundary_ntp")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, ntp)
    elsewhere = SERVICE_SUBNETS[ServiceKind.NEXUS].id
    plan = decide(
        desired, state_of(ext_row(external_of(desired, ntp)), nic_row(wanted, subnet_id=elsewhere))
    )
    assert plan.conflicts == []
    assert plan.nic_unchanged == [wanted]
    (warning,) = plan.warnings
    assert warning.row_id == wanted.id
    assert f"subnet {elsewhere}" in warning.detail
    assert "row id" not in warning.detail


def test_a_further_live_nic_of_the_zone_is_a_warning_when_one_matches() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    extra = nic_row(
        wanted,
        id=uuid.UUID("00000000-0000-4000-8000-00000000e7a1"),
        slot=1,
        is_primary=False,
        ipv4=IPv4Address("172.30.2.99"),
        mac=wanted.mac + 1000,
    )
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), nic_row(wanted), extra))
    assert plan.conflicts == []
    assert plan.nic_unchanged == [wanted]
    (warning,) = plan.warnings
    assert warning.row_id == extra.id
    assert "also holds live NIC" in warning.detail


def test_a_nic_differing_on_ipv6_is_refused() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus", stack="dual")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    assert wanted.ipv6 is not None
    for ipv6 in (None, wanted.ipv6 + 1):
        plan = decide(
            desired, state_of(ext_row(external_of(desired, nexus)), nic_row(wanted, ipv6=ipv6))
        )
        conflict = only_conflict(plan)
        assert_conflict(
            conflict, ConflictKind.ROW_MISMATCH, zone=nexus, table=NIC, row=wanted.id, owner=nexus
        )
        assert f"ipv6 {ipv6} (blueprint: {wanted.ipv6})" in conflict.detail
        assert plan.nic_unchanged == []
        assert plan.nic_creates == []
        assert_writes_nothing_but_conflicts(plan)


def test_an_ipv4_only_row_does_not_match_a_dual_stack_nic_with_another_id() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus", stack="dual")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    old = nic_row(wanted, id=uuid.UUID("00000000-0000-4000-8000-0000000001d0"), ipv6=None)
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), old))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict, ConflictKind.ZONE_HOLDS_OTHER_ROW, zone=nexus, table=NIC, row=old.id, owner=nexus
    )
    assert conflict.kind.is_mismatch


# --- deallocation --------------------------------------------------------------------------------


def _expunged_nexus() -> tuple[BlueprintNetworking, uuid.UUID]:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    rack.expunge_zone(nexus)
    return BlueprintNetworking.of(rack.build()), nexus


def test_live_rows_of_an_expunged_zone_are_soft_deleted() -> None:
    desired, nexus = _expunged_nexus()
    ext, nic = ext_row(external_of(desired, nexus)), nic_row(nic_of(desired, nexus))
    plan = decide(desired, state_of(expunged_external_ips={0: ext}, expunged_nics={0: nic}))
    assert plan.conflicts == []
    assert plan.deallocations == [
        Deallocation(nexus, EXT, ext.id, RowResult.APPLIED),
        Deallocation(nexus, NIC, nic.id, RowResult.APPLIED),
    ]
    assert plan.soft_delete_ids(EXT) == [ext.id]
    assert plan.soft_delete_ids(NIC) == [nic.id]
    assert plan.new_repairs() == []
    assert plan.writes_anything
    assert plan.counts(EXT)["soft_deleted"] == plan.counts(NIC)["soft_deleted"] == 1


def test_already_soft_deleted_rows_are_counted_not_listed() -> None:
    # The reader leaves out rows that are the zone's own and already soft-deleted.
    desired, _nexus = _expunged_nexus()
    plan = decide(desired, state_of())
    assert plan.deallocations == []
    assert plan.already_soft_deleted == {EXT: 1, NIC: 1}
    assert plan.counts(EXT)["already_soft_deleted"] == 1
    assert plan.counts(NIC)["already_soft_deleted"] == 1
    assert not plan.writes_anything


def test_a_soft_deleted_row_listed_anyway_is_already_soft_deleted() -> None:
    desired, nexus = _expunged_nexus()
    gone = ext_row(external_of(desired, nexus), time_deleted=DELETED)
    plan = decide(desired, state_of(expunged_external_ips={0: gone}))
    assert plan.deallocations == [Deallocation(nexus, EXT, gone.id, RowResult.ALREADY_SOFT_DELETED)]
    assert plan.soft_delete_ids(EXT) == []
    assert not plan.writes_anything


def test_a_never_created_row_met_first_is_a_new_repair() -> None:
    desired, nexus = _expunged_nexus()
    plan = decide(desired, state_of(expunged_external_ips={0: None}, expunged_nics={0: None}))
    assert plan.conflicts == []
    wanted_ext, wanted_nic = external_of(desired, nexus), nic_of(desired, nexus)
    assert plan.new_repairs() == [
        Deallocation(nexus, EXT, wanted_ext.id, RowResult.NOT_FOUND, repair_recorded=False),
        Deallocation(nexus, NIC, wanted_nic.id, RowResult.NOT_FOUND, repair_recorded=False),
    ]
    assert plan.soft_delete_ids(EXT) == plan.soft_delete_ids(NIC) == []
    # Recording the repair is the only write.
    assert plan.writes_anything
    assert plan.counts(EXT)["not_found"] == plan.counts(NIC)["not_found"] == 1
    assert plan.blocking_error(MissingRowPolicy.TREAT_AS_DELETED) is None


def test_a_never_created_row_whose_repair_is_recorded_is_not_listed_again() -> None:
    desired, _nexus = _expunged_nexus()
    plan = decide(
        desired,
        state_of(
            expunged_external_ips={0: None},
            expunged_nics={0: None},
            repaired={(EXT, 0), (NIC, 0)},
        ),
    )
    assert [d.result for d in plan.not_found()] == [RowResult.NOT_FOUND] * 2
    assert all(d.repair_recorded for d in plan.not_found())
    assert plan.new_repairs() == []
    assert not plan.writes_anything
    assert plan.counts(EXT)["not_found"] == 1
    assert plan.counts(EXT)["already_soft_deleted"] == 0


def test_repairs_counted_by_the_reader_are_not_found_not_soft_deleted() -> None:
    rack, sled = new_rack()
    zones = [rack.add_zone(sled, "nexus", pool=pool) for pool in sled.pools[:3]]
    for zone in zones:
        rack.expunge_zone(zone)
    desired = BlueprintNetworking.of(rack.build())
    # Two of three external IPs were never created and recorded as repairs (counted on the
    # server); the third is soft-deleted. The NIC of the first zone is met for the first time.
    plan = decide(
        desired,
        state_of(expunged_nics={0: None}, repaired_counted={EXT: 2}),
    )
    assert plan.repaired_counted == {EXT: 2, NIC: 0}
    assert plan.counts(EXT) == {
        "soft_deleted": 0,
        "already_soft_deleted": 1,
        "not_found": 2,
        "created": 0,
        "unchanged": 0,
    }
    assert plan.counts(NIC) == {
        "soft_deleted": 0,
        "already_soft_deleted": 2,
        "not_found": 1,
        "created": 0,
        "unchanged": 0,
    }
    assert [d.zone_id for d in plan.new_repairs()] == [desired.expunged[0].zone_id]


def test_an_expunged_zones_row_owned_by_another_parent_is_a_conflict() -> None:
    desired, nexus = _expunged_nexus()
    theirs = ext_row(external_of(desired, nexus), parent_id=STRANGER)
    plan = decide(desired, state_of(expunged_external_ips={0: theirs}))
    assert_conflict(
        only_conflict(plan),
        ConflictKind.ROW_OWNED_BY_OTHER,
        zone=nexus,
        table=EXT,
        row=theirs.id,
        owner=STRANGER,
    )
    assert plan.deallocations == []
    assert_writes_nothing_but_conflicts(plan)


def test_an_expunged_zones_nic_id_on_an_instance_nic_is_a_conflict() -> None:
    desired, nexus = _expunged_nexus()
    # Same parent, but not a service NIC: not the zone's, whoever its parent is.
    instance = nic_row(nic_of(desired, nexus), kind="instance")
    plan = decide(desired, state_of(expunged_nics={0: instance}))
    assert_conflict(
        only_conflict(plan),
        ConflictKind.ROW_OWNED_BY_OTHER,
        zone=nexus,
        table=NIC,
        row=instance.id,
        owner=nexus,
    )


def test_an_ip_moves_from_an_expunged_zone_to_a_new_one_in_one_blueprint() -> None:
    rack, sled = new_rack()
    old = rack.add_zone(sled, "nexus", stack="dual")
    rack.expunge_zone(old)
    old_doc = rack.zone_doc(old)["zone_type"]
    new = rack.add_zone(
        sled,
        "nexus",
        pool=sled.pools[1],
        ip=old_doc["external_ip"]["ip"],
        nic_ip=old_doc["nic"]["ip"],
        nic_ipv6=old_doc["nic"]["ipv6"],
        mac=int(old_doc["nic"]["mac"].replace(":", ""), 16),
        stack="dual",
    )
    desired = BlueprintNetworking.of(rack.build())
    old_ext, old_nic = ext_row(external_of(desired, old)), nic_row(nic_of(desired, old))
    # The old zone's live rows hold every address the new zone wants.
    plan = decide(
        desired,
        state_of(old_ext, old_nic, expunged_external_ips={0: old_ext}, expunged_nics={0: old_nic}),
    )
    assert plan.conflicts == []
    assert plan.soft_delete_ids(EXT) == [old_ext.id]
    assert plan.soft_delete_ids(NIC) == [old_nic.id]
    assert [c.desired.zone_id for c in plan.external_ip_creates] == [new]
    assert [n.zone_id for n in plan.nic_creates] == [new]

    # Left live (its deallocation blocked), the old rows keep holding the addresses.
    foreign = dataclasses.replace(old_ext, parent_id=STRANGER)
    blocked = decide(desired, state_of(foreign, expunged_external_ips={0: foreign}))
    kinds = sorted(c.kind for c in blocked.conflicts)
    assert kinds == sorted([ConflictKind.ROW_OWNED_BY_OTHER, ConflictKind.EXTERNAL_IP_HELD])


# --- conflicts of in-service zones -------------------------------------------------------------


def test_an_in_service_zones_row_id_owned_by_another_parent_is_a_conflict() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = external_of(desired, nexus)
    theirs = ext_row(wanted, parent_id=STRANGER, ip=IPv4Address("192.0.2.250"))
    plan = decide(desired, state_of(theirs, nic_row(nic_of(desired, nexus))))
    assert_conflict(
        only_conflict(plan),
        ConflictKind.ROW_OWNED_BY_OTHER,
        zone=nexus,
        table=EXT,
        row=wanted.id,
        owner=STRANGER,
    )
    assert plan.external_ip_creates == []


def test_an_in_service_zones_nic_id_owned_by_another_parent_is_a_conflict() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    theirs = nic_row(
        wanted, parent_id=STRANGER, ipv4=IPv4Address("172.30.2.200"), mac=wanted.mac + 7
    )
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), theirs))
    assert_conflict(
        only_conflict(plan),
        ConflictKind.ROW_OWNED_BY_OTHER,
        zone=nexus,
        table=NIC,
        row=wanted.id,
        owner=STRANGER,
    )


def test_an_instance_nic_with_the_blueprints_id_is_not_the_zones_nic() -> None:
    # Equal in every column but its kind: a service zone's NIC is a row of kind 'service'.
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    instance = nic_row(wanted, kind="instance")
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), instance))
    assert plan.nic_unchanged == []
    assert plan.conflicts
    assert {c.row_id for c in plan.conflicts} == {wanted.id}
    assert ConflictKind.ROW_OWNED_BY_OTHER in {c.kind for c in plan.conflicts}


def test_an_instance_nic_of_the_zone_in_its_slot_blocks_the_creation() -> None:
    # network_interface_parent_id_slot_key covers every kind: creating the service NIC in the
    # slot would fail, so the row in the way is a conflict.
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    instance = nic_row(
        wanted,
        id=uuid.UUID("00000000-0000-4000-8000-0000000001a5"),
        kind="instance",
        ipv4=IPv4Address("172.30.2.150"),
        mac=wanted.mac + 500,
    )
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), instance))
    assert plan.nic_creates == []
    (conflict,) = plan.conflicts
    assert_conflict(
        conflict, ConflictKind.SLOT_HELD, zone=nexus, table=NIC, row=wanted.id, owner=nexus
    )
    assert str(instance.id) in conflict.detail


def test_an_instance_nic_of_the_zone_in_another_slot_is_ignored() -> None:
    # Upstream reads a zone's NICs through its service view: the service NIC is created.
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    instance = nic_row(
        wanted,
        id=uuid.UUID("00000000-0000-4000-8000-0000000001a6"),
        kind="instance",
        ipv4=IPv4Address("172.30.2.151"),
        mac=wanted.mac + 501,
        slot=1,
    )
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), instance))
    assert plan.conflicts == []
    assert plan.nic_creates == [wanted]


def test_a_soft_deleted_row_of_an_in_service_zone_is_a_conflict() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    ext, nic = external_of(desired, nexus), nic_of(desired, nexus)
    plan = decide(
        desired,
        state_of(ext_row(ext, time_deleted=DELETED), nic_row(nic, time_deleted=DELETED)),
    )
    by_table = {c.table: c for c in plan.conflicts}
    assert len(plan.conflicts) == 2
    assert_conflict(
        by_table[EXT.value],
        ConflictKind.ROW_SOFT_DELETED,
        zone=nexus,
        table=EXT,
        row=ext.id,
        owner=nexus,
    )
    assert_conflict(
        by_table[NIC.value],
        ConflictKind.ROW_SOFT_DELETED,
        zone=nexus,
        table=NIC,
        row=nic.id,
        owner=nexus,
    )
    assert plan.external_ip_creates == []
    assert plan.nic_creates == []


@pytest.mark.parametrize(
    ("changes", "difference"),
    [
        ({"ip": IPv4Address("192.0.2.99")}, "ip 192.0.2.99"),
        ({"first_port": 1}, "ports 1-65535"),
        ({"kind": "snat"}, "kind snat"),
        ({"is_service": False}, "not a service IP"),
    ],
)
def test_the_zones_own_external_ip_differing_is_a_mismatch(
    changes: dict[str, object], difference: str
) -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = external_of(desired, nexus)
    plan = decide(desired, state_of(ext_row(wanted, **changes), nic_row(nic_of(desired, nexus))))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict, ConflictKind.ROW_MISMATCH, zone=nexus, table=EXT, row=wanted.id, owner=nexus
    )
    assert difference in conflict.detail
    assert conflict.kind.is_mismatch


def test_the_zones_own_nic_differing_is_a_mismatch() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    plan = decide(
        desired,
        state_of(ext_row(external_of(desired, nexus)), nic_row(wanted, mac=wanted.mac + 1)),
    )
    conflict = only_conflict(plan)
    assert_conflict(
        conflict, ConflictKind.ROW_MISMATCH, zone=nexus, table=NIC, row=wanted.id, owner=nexus
    )
    assert f"mac {wanted.mac + 1:#x}" in conflict.detail


def test_a_zone_holding_another_live_external_ip_is_a_conflict() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = external_of(desired, nexus)
    other = ext_row(wanted, id=uuid.UUID("00000000-0000-4000-8000-0000000000e1"))
    # Same address and ports, another row id: external IPs are matched by id.
    plan = decide(desired, state_of(other, nic_row(nic_of(desired, nexus))))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict,
        ConflictKind.ZONE_HOLDS_OTHER_ROW,
        zone=nexus,
        table=EXT,
        row=other.id,
        owner=nexus,
    )
    assert conflict.kind.is_mismatch
    assert plan.external_ip_creates == []


def test_a_zone_holding_another_live_nic_is_a_conflict() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    other = nic_row(
        wanted,
        id=uuid.UUID("00000000-0000-4000-8000-0000000000e2"),
        ipv4=IPv4Address("172.30.2.77"),
    )
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), other))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict,
        ConflictKind.ZONE_HOLDS_OTHER_ROW,
        zone=nexus,
        table=NIC,
        row=other.id,
        owner=nexus,
    )
    assert "172.30.2.77" in conflict.detail
    assert plan.nic_creates == []


def test_an_external_ip_held_by_another_zone_is_a_conflict_naming_the_holder() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = external_of(desired, nexus)
    holder = ext_row(
        wanted, id=uuid.UUID("00000000-0000-4000-8000-0000000000f1"), parent_id=STRANGER
    )
    plan = decide(desired, state_of(holder, nic_row(nic_of(desired, nexus))))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict,
        ConflictKind.EXTERNAL_IP_HELD,
        zone=nexus,
        table=EXT,
        row=wanted.id,
        owner=STRANGER,
    )
    assert str(holder.id) in conflict.detail
    assert str(STRANGER) in str(conflict)


def test_snat_blocks_of_one_address_do_not_hold_each_other() -> None:
    rack, sled = new_rack()
    ntp = rack.add_zone(sled, "boundary_ntp", ip="192.0.2.9", ports=(16384, 32767))
    desired = BlueprintNetworking.of(rack.build())
    wanted = external_of(desired, ntp)
    block = ext_row(
        wanted,
        id=uuid.UUID("00000000-0000-4000-8000-0000000000f2"),
        parent_id=STRANGER,
        first_port=0,
        last_port=16383,
    )
    plan = decide(desired, state_of(block))
    assert plan.conflicts == []
    assert [c.desired.zone_id for c in plan.external_ip_creates] == [ntp]
    overlapping = dataclasses.replace(block, last_port=16384)
    conflict = only_conflict(decide(desired, state_of(overlapping)))
    assert conflict.kind is ConflictKind.EXTERNAL_IP_HELD
    assert conflict.owner == STRANGER


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_a_nic_address_held_by_another_nic_is_a_conflict(family: str) -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus", stack="dual")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    holder = nic_row(
        wanted,
        id=uuid.UUID("00000000-0000-4000-8000-0000000000f3"),
        parent_id=STRANGER,
        mac=wanted.mac + 100,
        **{"ipv6" if family == "ipv4" else "ipv4": None},
    )
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), holder))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict, ConflictKind.NIC_IP_HELD, zone=nexus, table=NIC, row=wanted.id, owner=STRANGER
    )
    assert str(getattr(wanted, family)) in conflict.detail


def test_a_nic_address_of_another_subnet_is_not_held() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    elsewhere = nic_row(
        wanted,
        id=uuid.UUID("00000000-0000-4000-8000-0000000000f4"),
        parent_id=STRANGER,
        subnet_id=uuid.UUID("00000000-0000-4000-8000-00000000aaaa"),
        mac=wanted.mac + 100,
    )
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), elsewhere))
    assert plan.conflicts == []
    assert plan.nic_creates == [wanted]


def test_a_mac_held_by_another_nic_is_a_conflict() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    desired = BlueprintNetworking.of(rack.build())
    wanted = nic_of(desired, nexus)
    holder = nic_row(
        wanted,
        id=uuid.UUID("00000000-0000-4000-8000-0000000000f5"),
        parent_id=STRANGER,
        ipv4=IPv4Address("172.30.2.222"),
    )
    plan = decide(desired, state_of(ext_row(external_of(desired, nexus)), holder))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict, ConflictKind.MAC_HELD, zone=nexus, table=NIC, row=wanted.id, owner=STRANGER
    )
    assert f"{wanted.mac:#x}" in conflict.detail


def test_an_address_two_zones_of_the_blueprint_want_is_claimed_in_the_blueprint() -> None:
    # Lint refuses such a blueprint; the decision stays safe without it.
    rack, sled = new_rack()
    first = rack.add_zone(
        sled, "nexus", ip="192.0.2.50", nic_ip="172.30.2.50", mac=0xA840_25FF_0050
    )
    second = rack.add_zone(
        sled,
        "nexus",
        pool=sled.pools[1],
        ip="192.0.2.50",
        nic_ip="172.30.2.50",
        mac=0xA840_25FF_0050,
    )
    desired = BlueprintNetworking.of(rack.build())
    earlier, later = (z.zone_id for z in desired.external_ips)
    assert {earlier, later} == {first, second}
    plan = decide(desired, state_of())
    assert {c.zone_id for c in plan.conflicts} == {later}
    assert all(c.kind is ConflictKind.CLAIMED_IN_BLUEPRINT for c in plan.conflicts)
    assert all(c.owner == earlier for c in plan.conflicts)
    by_table: dict[str, list[str]] = {}
    for conflict in plan.conflicts:
        by_table.setdefault(conflict.table, []).append(conflict.detail)
    assert len(by_table[EXT.value]) == 1
    assert len(by_table[NIC.value]) == 2  # the NIC IP and the MAC
    assert_writes_nothing_but_conflicts(plan)


def test_a_row_id_two_zones_of_the_blueprint_record_is_claimed_in_the_blueprint() -> None:
    rack, sled = new_rack()
    first = rack.add_zone(sled, "nexus")
    second = rack.add_zone(sled, "external_dns", pool=sled.pools[1])
    rack.zone_doc(second)["zone_type"]["nic"]["id"] = rack.zone_doc(first)["zone_type"]["nic"]["id"]
    desired = BlueprintNetworking.of(rack.build())
    earlier, later = (n.zone_id for n in desired.nics)
    plan = decide(desired, state_of())
    conflict = only_conflict(plan)
    assert_conflict(
        conflict,
        ConflictKind.CLAIMED_IN_BLUEPRINT,
        zone=later,
        table=NIC,
        row=nic_of(desired, first).id,
        owner=earlier,
    )


@pytest.mark.parametrize("table", [EXT, NIC])
def test_a_row_id_an_expunged_zone_records_cannot_be_created_for_another_zone(
    table: Table,
) -> None:
    # The expunged zone's row was never created; creating it for the new zone would make
    # every later run find the expunged zone's row held by another parent.
    rack, sled = new_rack()
    old = rack.add_zone(sled, "nexus")
    rack.expunge_zone(old)
    new = rack.add_zone(sled, "nexus", pool=sled.pools[1])
    key = "external_ip" if table is EXT else "nic"
    shared = rack.zone_doc(old)["zone_type"][key]["id"]
    rack.zone_doc(new)["zone_type"][key]["id"] = shared
    desired = BlueprintNetworking.of(rack.build())
    plan = decide(desired, state_of(expunged_external_ips={0: None}, expunged_nics={0: None}))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict,
        ConflictKind.CLAIMED_IN_BLUEPRINT,
        zone=new,
        table=table,
        row=uuid.UUID(shared),
        owner=old,
    )


@pytest.mark.parametrize(
    ("address", "ranges"),
    [
        ("192.0.2.9", []),
        ("198.51.100.1", RANGES),
        ("fd00::1:0", RANGES),
        ("fd00::5", [LOW_RANGE, HIGH_RANGE]),
    ],
)
def test_an_external_ip_outside_every_service_range_is_a_conflict(
    address: str, ranges: list[PoolRange]
) -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus", ip=address)
    desired = BlueprintNetworking.of(rack.build())
    wanted = external_of(desired, nexus)
    plan = decide(desired, state_of(ranges=ranges))
    conflict = only_conflict(plan)
    assert_conflict(
        conflict, ConflictKind.OUTSIDE_SERVICE_POOL, zone=nexus, table=EXT, row=wanted.id
    )
    assert f"IPv{wanted.ip.version} service IP pool" in conflict.detail
    assert plan.external_ip_creates == []


# --- the error that blocks the step --------------------------------------------------------------


def test_fail_policy_names_the_first_missing_row_in_executor_order() -> None:
    rack, sled = new_rack(seed=4)
    zones = [rack.add_zone(sled, "nexus", pool=pool) for pool in sled.pools[:2]]
    for zone in zones:
        rack.expunge_zone(zone)
    desired = BlueprintNetworking.of(rack.build())
    first, second = (entry.zone_id for entry in desired.expunged)
    live_ext = ext_row(external_of(desired, first))
    # The first zone's external IP is live (executor order: zone, then external IP, then
    # NIC), so its NIC is the first missing row; the second zone's rows are missing too.
    state = state_of(
        expunged_external_ips={0: live_ext, 1: None},
        expunged_nics={0: None, 1: None},
    )
    plan = decide(desired, state)
    error = plan.blocking_error(MissingRowPolicy.FAIL)
    assert isinstance(error, RecordNotFound)
    assert (error.zone_id, error.table, error.row_id) == (
        first,
        NIC.value,
        nic_of(desired, first).id,
    )
    assert "Record not found" in str(error)
    assert [(d.zone_id, d.table) for d in plan.not_found()] == [
        (first, NIC),
        (second, EXT),
        (second, NIC),
    ]
    assert plan.blocking_error(MissingRowPolicy.TREAT_AS_DELETED) is None


def test_fail_policy_reports_a_missing_row_even_when_the_repair_is_recorded() -> None:
    desired, nexus = _expunged_nexus()
    plan = decide(desired, state_of(expunged_external_ips={0: None}, repaired={(EXT, 0)}))
    error = plan.blocking_error(MissingRowPolicy.FAIL)
    assert isinstance(error, RecordNotFound)
    assert error.zone_id == nexus


def test_conflicts_block_under_both_policies_and_are_reported_together() -> None:
    rack, sled = new_rack()
    nexus = rack.add_zone(sled, "nexus")
    dns = rack.add_zone(sled, "external_dns", pool=sled.pools[1])
    desired = BlueprintNetworking.of(rack.build())
    state = state_of(
        ext_row(external_of(desired, nexus), time_deleted=DELETED),
        ext_row(external_of(desired, dns), first_port=7),
        ranges=RANGES,
    )
    plan = decide(desired, state)
    assert len(plan.conflicts) == 2
    for policy in MissingRowPolicy:
        error = plan.blocking_error(policy)
        assert isinstance(error, ExternalNetworkingConflict)
        assert error.conflicts == plan.conflicts
        assert "and 1 more conflict" in str(error)


def test_fail_policy_puts_a_missing_row_before_conflicts() -> None:
    rack, sled = new_rack()
    old = rack.add_zone(sled, "nexus")
    rack.expunge_zone(old)
    new = rack.add_zone(sled, "nexus", pool=sled.pools[1])
    desired = BlueprintNetworking.of(rack.build())
    state = state_of(
        ext_row(external_of(desired, new), time_deleted=DELETED), expunged_nics={0: None}
    )
    plan = decide(desired, state)
    assert plan.conflicts
    assert isinstance(plan.blocking_error(MissingRowPolicy.FAIL), RecordNotFound)
    assert isinstance(
        plan.blocking_error(MissingRowPolicy.TREAT_AS_DELETED), ExternalNetworkingConflict
    )


# --- the report --------------------------------------------------------------------------------


def test_counts_have_the_reports_shape_for_both_tables() -> None:
    rack, sled = new_rack(seed=9)
    gone = [rack.add_zone(sled, "nexus", pool=pool) for pool in sled.pools[:3]]
    for zone in gone:
        rack.expunge_zone(zone)
    kept = rack.add_zone(sled, "external_dns", pool=sled.pools[3])
    fresh = rack.add_zone(sled, "boundary_ntp", pool=sled.pools[3])
    desired = BlueprintNetworking.of(rack.build())
    applied, missing, _soft_deleted = (entry.zone_id for entry in desired.expunged)
    state = state_of(
        ext_row(external_of(desired, kept)),
        nic_row(nic_of(desired, kept)),
        expunged_external_ips={0: ext_row(external_of(desired, applied)), 1: None},
        expunged_nics={0: nic_row(nic_of(desired, applied)), 1: None},
        repaired={(NIC, 1)},
    )
    plan = decide(desired, state)
    assert plan.conflicts == []
    assert plan.counts(EXT) == {
        "soft_deleted": 1,
        "already_soft_deleted": 1,
        "not_found": 1,
        "created": 1,
        "unchanged": 1,
    }
    assert plan.counts(NIC) == plan.counts(EXT)
    assert [(d.zone_id, d.table) for d in plan.new_repairs()] == [(missing, EXT)]
    assert [c.desired.zone_id for c in plan.external_ip_creates] == [fresh]
    assert [n.zone_id for n in plan.nic_creates] == [fresh]


def test_deciding_leaves_the_state_as_it_was() -> None:
    rack, sled = new_rack()
    old = rack.add_zone(sled, "nexus")
    rack.expunge_zone(old)
    rack.add_zone(sled, "nexus", pool=sled.pools[1])
    desired = BlueprintNetworking.of(rack.build())
    state = state_of(
        ext_row(external_of(desired, old)),
        expunged_external_ips={0: ext_row(external_of(desired, old))},
        expunged_nics={0: None},
    )
    before = dataclasses.replace(
        state,
        external_ips=dict(state.external_ips),
        nics=dict(state.nics),
        pool_ranges=list(state.pool_ranges),
        expunged_external_ips=dict(state.expunged_external_ips),
        expunged_nics=dict(state.expunged_nics),
        repaired=set(state.repaired),
        repaired_counted=dict(state.repaired_counted),
    )
    first = decide(desired, state)
    assert state == before
    assert decide(desired, state) == first
