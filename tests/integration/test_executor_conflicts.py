"""Every kind of real inconsistency fails loudly with its kind, names the zone, the row and
the owner, and writes nothing. A service NIC is matched as upstream matches it: by its
addresses, MAC, slot and primary flag."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Table, update
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.schema import external_ip_table, network_interface_table
from reconfigurator.errors import (
    Conflict,
    ConflictKind,
    ExternalNetworkingConflict,
    NotCurrentTarget,
    TargetDisabled,
)
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, ExecutionReport, Executor
from reconfigurator.fixed_data import SERVICE_SUBNETS, ServiceKind
from tests.blueprint_builder import RackBuilder, SledHandle
from tests.db_support import live_rows, make_target, row_by_id, seed_service_range, snapshot
from tests.rows import NOW, external_ip_row, nic_row

NIC_TABLE = "service_network_interface"


@dataclass
class Setup:
    engine: Engine
    rack: RackBuilder
    sled: SledHandle
    executed: Blueprint
    nexus: uuid.UUID
    dns: uuid.UUID


@pytest.fixture
def setup(engine: Engine) -> Setup:
    seed_service_range(engine)
    rack = RackBuilder(seed=7)
    sled = rack.add_sled(disks=4)
    nexus = rack.add_zone(sled, "nexus")
    dns = rack.add_zone(sled, "external_dns", pool=sled.pools[1])
    rack.add_zone(sled, "boundary_ntp", pool=sled.pools[2])
    executed = rack.build()
    make_target(engine, executed)
    assert Executor(engine).execute().succeeded
    return Setup(engine, rack, sled, executed, nexus, dns)


def _insert(engine: Engine, table: Table, row: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), [row])


def _update(engine: Engine, table: Table, row_id: uuid.UUID, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == row_id).values(**values))


def _fails_with_conflicts(setup: Setup, child: Blueprint) -> list[Conflict]:
    """Make ``child`` the target and run it: it fails, writes nothing, and reports each
    conflict with its kind."""
    make_target(setup.engine, child)
    before = snapshot(setup.engine)
    report = Executor(setup.engine).execute()
    assert report.outcome == "failed"
    assert report.failed_step == EXTERNAL_NETWORKING_STEP
    assert isinstance(report.exception, ExternalNetworkingConflict)
    assert snapshot(setup.engine) == before, "a failed run must not write anything"
    conflicts = report.exception.conflicts
    assert report.steps[0].details["conflicts"] == [
        {
            "zone_id": str(c.zone_id),
            "table": c.table,
            "row_id": str(c.row_id),
            "owner": str(c.owner) if c.owner is not None else None,
            "kind": "mismatch" if c.kind.is_mismatch else "conflict",
            "conflict_kind": c.kind.value,
            "detail": c.detail,
        }
        for c in conflicts
    ]
    return conflicts


def _fails_with_one_conflict(setup: Setup, child: Blueprint) -> Conflict:
    [conflict] = _fails_with_conflicts(setup, child)
    assert str(conflict.zone_id) in str(conflict) and str(conflict.row_id) in str(conflict)
    if conflict.owner is not None:
        assert str(conflict.owner) in str(conflict)
    return conflict


def _new_nexus(setup: Setup, **kwargs: Any) -> tuple[uuid.UUID, Blueprint]:
    zone = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], **kwargs)
    return zone, setup.rack.build()


def _ids(blueprint: Blueprint, zone_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """(external IP row id, NIC row id) the blueprint records for the zone."""
    zone = blueprint.zone(zone_id)
    assert zone is not None and zone.external_ip is not None and zone.nic is not None
    return zone.external_ip.id, zone.nic.id


def _succeeds(setup: Setup, child: Blueprint) -> ExecutionReport:
    make_target(setup.engine, child)
    report = Executor(setup.engine).execute()
    assert report.succeeded, report.error
    return report


# --- external IPs -------------------------------------------------------------------------


def test_external_ip_held_by_another_live_parent(setup: Setup) -> None:
    squatter = uuid.uuid4()
    _insert(setup.engine, external_ip_table, external_ip_row(parent_id=squatter, ip="192.0.2.200"))
    zone, child = _new_nexus(setup, ip="192.0.2.200")
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.EXTERNAL_IP_HELD
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        "external_ip",
        _ids(child, zone)[0],
        squatter,
    )
    assert "192.0.2.200" in conflict.detail


def test_zone_already_holds_a_different_external_ip(setup: Setup) -> None:
    zone_id = uuid.uuid4()
    stray = external_ip_row(parent_id=zone_id, ip="192.0.2.201")
    _insert(setup.engine, external_ip_table, stray)
    zone, child = _new_nexus(setup, zone_id=zone_id)
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.ZONE_HOLDS_OTHER_ROW
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        "external_ip",
        stray["id"],
        zone,
    )
    assert "different live external IP 192.0.2.201" in conflict.detail


def test_blueprint_row_soft_deleted_for_in_service_zone(setup: Setup) -> None:
    ip_id, _ = _ids(setup.executed, setup.nexus)
    _update(setup.engine, external_ip_table, ip_id, time_deleted=NOW)
    conflict = _fails_with_one_conflict(setup, setup.rack.build())
    assert conflict.kind is ConflictKind.ROW_SOFT_DELETED
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        setup.nexus,
        "external_ip",
        ip_id,
        setup.nexus,
    )
    assert "soft-deleted" in conflict.detail


def test_live_external_ip_differs_from_blueprint(setup: Setup) -> None:
    ip_id, _ = _ids(setup.executed, setup.nexus)
    _update(setup.engine, external_ip_table, ip_id, ip="192.0.2.250")
    conflict = _fails_with_one_conflict(setup, setup.rack.build())
    assert conflict.kind is ConflictKind.ROW_MISMATCH
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        setup.nexus,
        "external_ip",
        ip_id,
        setup.nexus,
    )
    assert "differs from the blueprint" in conflict.detail
    assert "192.0.2.250" in conflict.detail


def test_row_id_belongs_to_another_zone(setup: Setup) -> None:
    owner = uuid.uuid4()
    row = external_ip_row(parent_id=owner, ip="192.0.2.202")
    _insert(setup.engine, external_ip_table, row)
    zone = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3])
    setup.rack.zone_doc(zone)["zone_type"]["external_ip"]["id"] = str(row["id"])
    conflict = _fails_with_one_conflict(setup, setup.rack.build())
    assert conflict.kind is ConflictKind.ROW_OWNED_BY_OTHER
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        "external_ip",
        row["id"],
        owner,
    )
    assert "belongs to another parent" in conflict.detail


def test_ip_outside_every_service_range(setup: Setup) -> None:
    zone, child = _new_nexus(setup, ip="203.0.113.9")
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.OUTSIDE_SERVICE_POOL
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        "external_ip",
        _ids(child, zone)[0],
        None,
    )
    assert "203.0.113.9 is outside every live range" in conflict.detail


def test_external_ip_claimed_twice_in_one_blueprint(setup: Setup) -> None:
    first = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], ip="192.0.2.210")
    second = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], ip="192.0.2.210")
    child = setup.rack.build()
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.CLAIMED_IN_BLUEPRINT
    # The later zone in executor order is refused, naming the earlier one.
    assert {conflict.zone_id, conflict.owner} == {first, second}
    assert conflict.table == "external_ip"
    assert conflict.row_id == _ids(child, conflict.zone_id)[0]
    assert "192.0.2.210" in conflict.detail


# --- service NICs -------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_nic_address_held_by_another_live_row(setup: Setup, family: str) -> None:
    squatter = uuid.uuid4()
    subnet = SERVICE_SUBNETS[ServiceKind.NEXUS]
    if family == "ipv4":
        address = str(subnet.ipv4.network_address + 100)
        held = nic_row(parent_id=squatter, ip=address, mac=0xA840_25FF_9000)
        zone, child = _new_nexus(setup, nic_ip=address)
    else:
        address = str(subnet.ipv6.network_address + 100)
        held = nic_row(parent_id=squatter, ip=None, ipv6=address, mac=0xA840_25FF_9000)
        zone, child = _new_nexus(setup, stack="dual", nic_ipv6=address)
    _insert(setup.engine, network_interface_table, held)
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.NIC_IP_HELD
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        NIC_TABLE,
        _ids(child, zone)[1],
        squatter,
    )
    assert f"NIC IP {address}" in conflict.detail
    assert str(held["id"]) in conflict.detail


def test_mac_held_by_another_live_row(setup: Setup) -> None:
    squatter = uuid.uuid4()
    held = nic_row(parent_id=squatter, ip="172.30.2.101", mac=0xA840_25FF_9001)
    _insert(setup.engine, network_interface_table, held)
    zone, child = _new_nexus(setup, mac=0xA840_25FF_9001)
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.MAC_HELD
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        NIC_TABLE,
        _ids(child, zone)[1],
        squatter,
    )
    assert "MAC" in conflict.detail and str(held["id"]) in conflict.detail


def test_zone_holds_another_nic_in_its_slot(setup: Setup) -> None:
    zone_id = uuid.uuid4()
    other = nic_row(parent_id=zone_id, ip="172.30.2.102", mac=0xA840_25FF_9002, slot=0)
    _insert(setup.engine, network_interface_table, other)
    zone, child = _new_nexus(setup, zone_id=zone_id)
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.ZONE_HOLDS_OTHER_ROW
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        NIC_TABLE,
        other["id"],
        zone,
    )
    assert "172.30.2.102" in conflict.detail


def test_nic_of_the_zone_differing_in_ipv6_is_refused(setup: Setup) -> None:
    # Same IPv4, MAC, slot and primary flag as the blueprint, but another IPv6 address.
    zone_id = uuid.uuid4()
    subnet = SERVICE_SUBNETS[ServiceKind.NEXUS]
    zone, child = _new_nexus(setup, zone_id=zone_id, stack="dual")
    wanted = child.zone(zone)
    assert wanted is not None and wanted.nic is not None and wanted.nic.ipv6 is not None
    other_ipv6 = str(subnet.ipv6.network_address + 200)
    assert other_ipv6 != str(wanted.nic.ipv6)
    other = nic_row(
        parent_id=zone_id,
        ip=str(wanted.nic.ip),
        ipv6=other_ipv6,
        mac=wanted.nic.mac_int,
        slot=wanted.nic.slot,
        is_primary=wanted.nic.primary,
    )
    _insert(setup.engine, network_interface_table, other)
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.ZONE_HOLDS_OTHER_ROW
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        NIC_TABLE,
        other["id"],
        zone,
    )
    assert other_ipv6 in conflict.detail


def test_own_nic_given_an_ipv6_address_the_blueprint_lacks_is_refused(setup: Setup) -> None:
    _, nic_id = _ids(setup.executed, setup.nexus)
    added = str(SERVICE_SUBNETS[ServiceKind.NEXUS].ipv6.network_address + 300)
    _update(setup.engine, network_interface_table, nic_id, ipv6=added)
    conflict = _fails_with_one_conflict(setup, setup.rack.build())
    assert conflict.kind is ConflictKind.ROW_MISMATCH
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        setup.nexus,
        NIC_TABLE,
        nic_id,
        setup.nexus,
    )
    assert added in conflict.detail


def test_nic_row_of_another_zone_with_the_blueprints_id(setup: Setup) -> None:
    owner = uuid.uuid4()
    row = nic_row(parent_id=owner, ip="172.30.2.103", mac=0xA840_25FF_9003)
    _insert(setup.engine, network_interface_table, row)
    zone = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3])
    setup.rack.zone_doc(zone)["zone_type"]["nic"]["id"] = str(row["id"])
    conflict = _fails_with_one_conflict(setup, setup.rack.build())
    assert conflict.kind is ConflictKind.ROW_OWNED_BY_OTHER
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        zone,
        NIC_TABLE,
        row["id"],
        owner,
    )


def test_nic_address_claimed_twice_in_one_blueprint(setup: Setup) -> None:
    first = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], nic_ip="172.30.2.99")
    second = setup.rack.add_zone(
        setup.sled, "nexus", pool=setup.sled.pools[3], nic_ip="172.30.2.99"
    )
    child = setup.rack.build()
    conflict = _fails_with_one_conflict(setup, child)
    assert conflict.kind is ConflictKind.CLAIMED_IN_BLUEPRINT
    assert {conflict.zone_id, conflict.owner} == {first, second}
    assert conflict.table == NIC_TABLE
    assert conflict.row_id == _ids(child, conflict.zone_id)[1]
    assert "NIC IP 172.30.2.99" in conflict.detail


def test_nic_of_the_zone_with_another_id_is_accepted_with_a_warning(setup: Setup) -> None:
    zone_id = uuid.uuid4()
    zone, child = _new_nexus(setup, zone_id=zone_id)
    _, blueprint_nic_id = _ids(child, zone)
    wanted = child.zone(zone)
    assert wanted is not None and wanted.nic is not None
    existing = nic_row(
        parent_id=zone_id,
        ip=str(wanted.nic.ip),
        mac=wanted.nic.mac_int,
        slot=wanted.nic.slot,
        is_primary=wanted.nic.primary,
    )
    _insert(setup.engine, network_interface_table, existing)

    step = _succeeds(setup, child).step(EXTERNAL_NETWORKING_STEP).details
    assert step["nics"]["created"] == 0
    assert step["external_ips"]["created"] == 1
    [warning] = step["warnings"]
    assert (warning["zone_id"], warning["table"], warning["row_id"]) == (
        str(zone),
        NIC_TABLE,
        str(existing["id"]),
    )
    assert warning["blueprint_row_id"] == str(blueprint_nic_id)
    assert f"row id {existing['id']}" in warning["detail"]
    assert [r.id for r in live_rows(setup.engine, "network_interface", zone)] == [existing["id"]]
    assert row_by_id(setup.engine, "network_interface", blueprint_nic_id) is None

    # Accepted for good: the next run writes nothing and warns again.
    before = snapshot(setup.engine)
    again = Executor(setup.engine).execute()
    assert again.succeeded, again.error
    assert len(again.step(EXTERNAL_NETWORKING_STEP).details["warnings"]) == 1
    assert snapshot(setup.engine) == before


def test_own_nic_in_another_subnet_is_accepted_with_a_warning(setup: Setup) -> None:
    _, nic_id = _ids(setup.executed, setup.nexus)
    elsewhere = uuid.uuid4()
    _update(setup.engine, network_interface_table, nic_id, subnet_id=elsewhere)
    make_target(setup.engine, setup.rack.build())
    before = snapshot(setup.engine)
    report = Executor(setup.engine).execute()
    assert report.succeeded, report.error
    assert snapshot(setup.engine) == before
    step = report.step(EXTERNAL_NETWORKING_STEP).details
    assert step["nics"]["unchanged"] == 3
    [warning] = step["warnings"]
    assert (warning["zone_id"], warning["row_id"]) == (str(setup.nexus), str(nic_id))
    assert f"subnet {elsewhere}" in warning["detail"]


# --- expunged zones -----------------------------------------------------------------------


def test_expunged_zone_row_id_belongs_to_another_zone(setup: Setup) -> None:
    _, nic_id = _ids(setup.executed, setup.dns)
    owner = uuid.uuid4()
    _update(setup.engine, network_interface_table, nic_id, parent_id=owner)
    setup.rack.expunge_zone(setup.dns)
    conflict = _fails_with_one_conflict(setup, setup.rack.build())
    assert conflict.kind is ConflictKind.ROW_OWNED_BY_OTHER
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        setup.dns,
        NIC_TABLE,
        nic_id,
        owner,
    )


def test_soft_deleted_row_of_another_zone_recorded_for_an_expunged_zone(setup: Setup) -> None:
    # Already soft-deleted rows of expunged zones are only counted, but one whose parent is
    # not the zone is still an inconsistency, and is reported.
    ip_id, _ = _ids(setup.executed, setup.dns)
    owner = uuid.uuid4()
    _update(setup.engine, external_ip_table, ip_id, parent_id=owner, time_deleted=NOW)
    setup.rack.expunge_zone(setup.dns)
    conflict = _fails_with_one_conflict(setup, setup.rack.build())
    assert conflict.kind is ConflictKind.ROW_OWNED_BY_OTHER
    assert (conflict.zone_id, conflict.table, conflict.row_id, conflict.owner) == (
        setup.dns,
        "external_ip",
        ip_id,
        owner,
    )
    assert "belongs to another parent" in conflict.detail


def test_row_id_of_a_never_created_expunged_zone_reused_by_a_new_zone(setup: Setup) -> None:
    # The expunged zone's row was never created; the new zone wants a live row with the same
    # id. Creating it would make the expunged zone's row id name another zone's row, and every
    # later run would fail on it: one id, one row, so a conflict naming both zones.
    ghost = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3])
    setup.rack.expunge_zone(ghost)
    ghost_ip_id = setup.rack.zone_doc(ghost)["zone_type"]["external_ip"]["id"]
    zone = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3])
    setup.rack.zone_doc(zone)["zone_type"]["external_ip"]["id"] = ghost_ip_id
    conflict = _fails_with_one_conflict(setup, setup.rack.build())
    assert conflict.kind is ConflictKind.CLAIMED_IN_BLUEPRINT
    assert conflict.table == "external_ip"
    assert str(conflict.row_id) == ghost_ip_id
    assert {conflict.zone_id, conflict.owner} == {zone, ghost}


# --- several at once; runs that may not write ---------------------------------------------


def test_all_conflicts_are_reported_together(setup: Setup) -> None:
    squatter = uuid.uuid4()
    _insert(setup.engine, external_ip_table, external_ip_row(parent_id=squatter, ip="192.0.2.203"))
    first = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], ip="192.0.2.203")
    second = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], ip="203.0.113.10")
    conflicts = _fails_with_conflicts(setup, setup.rack.build())
    assert sorted((c.zone_id, c.kind) for c in conflicts) == sorted(
        [(first, ConflictKind.EXTERNAL_IP_HELD), (second, ConflictKind.OUTSIDE_SERVICE_POOL)]
    )


def test_not_current_target_writes_nothing(setup: Setup) -> None:
    setup.rack.expunge_zone(setup.nexus)
    child = setup.rack.build()
    make_target(setup.engine, child)
    before = snapshot(setup.engine)
    report = Executor(setup.engine).execute(setup.executed.id)
    assert isinstance(report.exception, NotCurrentTarget)
    assert report.exception.current_target_id == child.id
    assert snapshot(setup.engine) == before


def test_disabled_target_is_not_executed(setup: Setup) -> None:
    setup.rack.expunge_zone(setup.nexus)
    child = setup.rack.build()
    make_target(setup.engine, child, enabled=False)
    before = snapshot(setup.engine)
    report = Executor(setup.engine).execute()
    assert isinstance(report.exception, TargetDisabled)
    assert "recon target set" in str(report.exception)
    assert snapshot(setup.engine) == before
    make_target(setup.engine, child, enabled=True)
    assert Executor(setup.engine).execute().succeeded
