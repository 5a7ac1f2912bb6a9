"""Every kind of real inconsistency fails loudly, names zone/row/owner, and writes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.schema import external_ip_table, service_network_interface_table
from reconfigurator.errors import (
    Conflict,
    ExternalNetworkingConflict,
    NotCurrentTarget,
    TargetDisabled,
)
from reconfigurator.executor import Executor
from tests.blueprint_builder import RackBuilder, SledHandle
from tests.db_support import make_target, seed_service_range, snapshot
from tests.rows import NOW, external_ip_row, nic_row


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


def _insert(engine: Engine, table: Any, row: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), [row])


def _fails_with_conflict(setup: Setup, child: Blueprint) -> list[Conflict]:
    make_target(setup.engine, child)
    before = snapshot(setup.engine)
    report = Executor(setup.engine).execute()
    assert report.outcome == "failed"
    assert isinstance(report.exception, ExternalNetworkingConflict)
    assert snapshot(setup.engine) == before, "a failed run must not write anything"
    return report.exception.conflicts


def _new_nexus(setup: Setup, **kwargs: Any) -> tuple[uuid.UUID, Blueprint]:
    zone = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], **kwargs)
    return zone, setup.rack.build()


def test_ip_held_by_another_live_parent(setup: Setup) -> None:
    squatter = uuid.uuid4()
    _insert(setup.engine, external_ip_table, external_ip_row(parent_id=squatter, ip="192.0.2.200"))
    zone, child = _new_nexus(setup, ip="192.0.2.200")
    [conflict] = _fails_with_conflict(setup, child)
    assert conflict.zone_id == zone
    assert conflict.table == "external_ip"
    assert conflict.owner == squatter
    assert "192.0.2.200" in conflict.detail
    assert str(zone) in str(conflict) and str(squatter) in str(conflict)


def test_zone_already_holds_a_different_ip(setup: Setup) -> None:
    zone_id = uuid.uuid4()
    stray = external_ip_row(parent_id=zone_id, ip="192.0.2.201")
    _insert(setup.engine, external_ip_table, stray)
    zone, child = _new_nexus(setup, zone_id=zone_id)
    conflicts = _fails_with_conflict(setup, child)
    assert [(c.zone_id, c.row_id) for c in conflicts] == [(zone, stray["id"])]
    assert "different live external IP 192.0.2.201" in conflicts[0].detail


def test_nic_ip_taken(setup: Setup) -> None:
    squatter = uuid.uuid4()
    _insert(
        setup.engine,
        service_network_interface_table,
        nic_row(service_id=squatter, ipv4="172.30.2.100", mac=0xA840_25FF_9000),
    )
    zone, child = _new_nexus(setup, nic_ip="172.30.2.100")
    [conflict] = _fails_with_conflict(setup, child)
    assert (conflict.zone_id, conflict.table, conflict.owner) == (
        zone,
        "service_network_interface",
        squatter,
    )
    assert "NIC IP 172.30.2.100" in conflict.detail


def test_mac_taken(setup: Setup) -> None:
    squatter = uuid.uuid4()
    _insert(
        setup.engine,
        service_network_interface_table,
        nic_row(service_id=squatter, ipv4="172.30.2.101", mac=0xA840_25FF_9001),
    )
    zone, child = _new_nexus(setup, mac=0xA840_25FF_9001)
    [conflict] = _fails_with_conflict(setup, child)
    assert (conflict.zone_id, conflict.owner) == (zone, squatter)
    assert "MAC" in conflict.detail


def test_slot_taken(setup: Setup) -> None:
    zone_id = uuid.uuid4()
    other = nic_row(service_id=zone_id, ipv4="172.30.2.102", mac=0xA840_25FF_9002, slot=0)
    _insert(setup.engine, service_network_interface_table, other)
    zone, child = _new_nexus(setup, zone_id=zone_id)
    [conflict] = _fails_with_conflict(setup, child)
    assert (conflict.zone_id, conflict.row_id) == (zone, other["id"])
    assert "different live slot" in conflict.detail


def test_blueprint_row_soft_deleted_for_in_service_zone(setup: Setup) -> None:
    nexus = setup.executed.zone(setup.nexus)
    assert nexus is not None and nexus.external_ip is not None
    with setup.engine.begin() as conn:
        conn.execute(
            update(external_ip_table)
            .where(external_ip_table.c.id == nexus.external_ip.id)
            .values(time_deleted=NOW)
        )
    child = setup.rack.build()
    [conflict] = _fails_with_conflict(setup, child)
    assert (conflict.zone_id, conflict.row_id) == (setup.nexus, nexus.external_ip.id)
    assert "soft-deleted" in conflict.detail


def test_row_id_belongs_to_another_zone(setup: Setup) -> None:
    owner = uuid.uuid4()
    row = external_ip_row(parent_id=owner, ip="192.0.2.202")
    _insert(setup.engine, external_ip_table, row)
    zone = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3])
    doc = setup.rack.zone_doc(zone)
    doc["zone_type"]["external_ip"]["id"] = str(row["id"])
    child = setup.rack.build()
    conflicts = _fails_with_conflict(setup, child)
    assert any(
        c.zone_id == zone
        and c.row_id == row["id"]
        and c.owner == owner
        and "belongs to another zone" in c.detail
        for c in conflicts
    )


def test_expunged_zone_row_id_belongs_to_another_zone(setup: Setup) -> None:
    dns = setup.executed.zone(setup.dns)
    assert dns is not None and dns.nic is not None
    owner = uuid.uuid4()
    with setup.engine.begin() as conn:
        conn.execute(
            update(service_network_interface_table)
            .where(service_network_interface_table.c.id == dns.nic.id)
            .values(service_id=owner)
        )
    setup.rack.expunge_zone(setup.dns)
    child = setup.rack.build()
    [conflict] = _fails_with_conflict(setup, child)
    assert (conflict.zone_id, conflict.row_id, conflict.owner) == (setup.dns, dns.nic.id, owner)


def test_soft_deleted_row_of_another_zone_recorded_for_an_expunged_zone(setup: Setup) -> None:
    # Already soft-deleted rows of expunged zones are only counted, but one whose parent is
    # not the zone is still an inconsistency, and is reported.
    dns = setup.executed.zone(setup.dns)
    assert dns is not None and dns.external_ip is not None
    owner = uuid.uuid4()
    with setup.engine.begin() as conn:
        conn.execute(
            update(external_ip_table)
            .where(external_ip_table.c.id == dns.external_ip.id)
            .values(parent_id=owner, time_deleted=NOW)
        )
    setup.rack.expunge_zone(setup.dns)
    [conflict] = _fails_with_conflict(setup, setup.rack.build())
    assert (conflict.zone_id, conflict.row_id, conflict.owner) == (
        setup.dns,
        dns.external_ip.id,
        owner,
    )
    assert "belongs to another zone" in conflict.detail


def test_row_id_of_a_never_created_expunged_zone_reused_by_a_new_zone(setup: Setup) -> None:
    # The expunged zone's rows were never created, so under the default policy they would be
    # recorded as deleted; the new zone wants a live row with the same id. One id, one row:
    # a conflict naming both zones, not a raw unique violation.
    ghost = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3])
    setup.rack.expunge_zone(ghost)
    ghost_ip_id = setup.rack.zone_doc(ghost)["zone_type"]["external_ip"]["id"]
    zone = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3])
    setup.rack.zone_doc(zone)["zone_type"]["external_ip"]["id"] = ghost_ip_id
    [conflict] = _fails_with_conflict(setup, setup.rack.build())
    assert conflict.table == "external_ip"
    assert str(conflict.row_id) == ghost_ip_id
    assert {conflict.zone_id, conflict.owner} == {zone, ghost}
    assert "cannot be created for both" in conflict.detail


def test_ip_outside_every_service_range(setup: Setup) -> None:
    zone, child = _new_nexus(setup, ip="203.0.113.9")
    [conflict] = _fails_with_conflict(setup, child)
    assert conflict.zone_id == zone
    assert "outside every service IP pool range" in conflict.detail


def test_live_row_differs_from_blueprint(setup: Setup) -> None:
    nexus = setup.executed.zone(setup.nexus)
    assert nexus is not None and nexus.external_ip is not None
    with setup.engine.begin() as conn:
        conn.execute(
            update(external_ip_table)
            .where(external_ip_table.c.id == nexus.external_ip.id)
            .values(ip="192.0.2.250")
        )
    [conflict] = _fails_with_conflict(setup, setup.rack.build())
    assert conflict.zone_id == setup.nexus
    assert "differs from the blueprint" in conflict.detail


def test_all_conflicts_are_reported_together(setup: Setup) -> None:
    squatter = uuid.uuid4()
    _insert(setup.engine, external_ip_table, external_ip_row(parent_id=squatter, ip="192.0.2.203"))
    first = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], ip="192.0.2.203")
    second = setup.rack.add_zone(setup.sled, "nexus", pool=setup.sled.pools[3], ip="203.0.113.10")
    conflicts = _fails_with_conflict(setup, setup.rack.build())
    assert {c.zone_id for c in conflicts} == {first, second}


def test_not_current_target_writes_nothing(setup: Setup) -> None:
    setup.rack.expunge_zone(setup.nexus)
    child = setup.rack.build()
    make_target(setup.engine, child)
    before = snapshot(setup.engine, ("external_ip", "service_network_interface"))
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
