"""Racks whose service NICs have IPv6 addresses: dual-stack, and IPv6 only.

Each goes through the planner, the executor, the audit and a second executor run that must
write nothing, and through an expunged disk and its replacement zones.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from reconfigurator.audit import audit
from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import get_blueprint
from reconfigurator.db.rack import add_sled, expunge_disk
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.service_pools import add_pool_range, list_service_pools
from reconfigurator.db.targets import current_target
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from reconfigurator.fixed_data import SERVICE_SUBNETS, IpVersion, ServiceKind
from reconfigurator.planner import NicIpStack, SeededIds
from reconfigurator.replan import plan_once
from tests.db_support import snapshot

SLEDS = 3


def _rack(engine: Engine, first: str, last: str) -> None:
    def body(conn: Connection) -> None:
        add_pool_range(conn, first, last)
        for _ in range(SLEDS):
            add_sled(conn, disks=4)

    run_transaction(engine, body)


def _service_nics(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT n.id, n.parent_id, n.ip, n.ipv6, n.subnet_id, n.name, n.kind"
                    " FROM network_interface n WHERE n.time_deleted IS NULL ORDER BY n.id"
                )
            )
        )


def _execute_and_converge(engine: Engine, executor: Executor) -> dict[str, Any]:
    """Run the executor, then check the audit finds nothing and a second run writes nothing."""
    report = executor.execute()
    assert report.succeeded, report.error
    details = dict(report.step(EXTERNAL_NETWORKING_STEP).details)
    with engine.connect() as conn:
        target = current_target(conn)
        assert target is not None
        blueprint = get_blueprint(conn, target.blueprint_id)
    assert lint(blueprint) == []
    found = audit(engine, blueprint)
    assert not found.blocking
    assert [f for f in found.findings if f.kind.value != "never_created"] == []
    before = snapshot(engine)
    again = executor.execute()
    assert again.succeeded, again.error
    counts = again.step(EXTERNAL_NETWORKING_STEP).details
    for table in ("external_ips", "nics"):
        assert counts[table]["created"] == 0
        assert counts[table]["soft_deleted"] == 0
    assert counts["repairs"] == []
    assert snapshot(engine) == before
    return details


def _expunge_a_disk_with_a_nexus(engine: Engine) -> None:
    with engine.connect() as conn:
        target = current_target(conn)
        assert target is not None
        blueprint = get_blueprint(conn, target.blueprint_id)
    nexus = next(z for z in blueprint.in_service_zones() if z.kind.value == "nexus")
    run_transaction(engine, lambda conn: expunge_disk(conn, nexus.filesystem_pool))


def _zones_expunged(parent: Blueprint, child: Blueprint) -> int:
    """Zones with external networking in service in ``parent`` and expunged in ``child``."""
    return sum(
        1
        for zone in child.expunged_zones()
        if zone.networking is not None
        and (before := parent.zone(zone.id)) is not None
        and before.is_in_service
    )


@pytest.mark.parametrize("explicit", [True, False], ids=["dual-stack", "inherited"])
def test_dual_stack_rack(engine: Engine, explicit: bool) -> None:
    _rack(engine, "192.0.2.1", "192.0.2.62")
    ids = SeededIds(11)
    first = plan_once(engine, ids=ids, set_as_target=True, nic_ip_stack=NicIpStack.DUAL_STACK)
    assert first.blueprint is not None
    executor = Executor(engine)
    created = _execute_and_converge(engine, executor)
    zones = 8  # 3 Nexus, 3 external DNS, 2 boundary NTP
    assert created["nics"]["created"] == created["external_ips"]["created"] == zones

    nics = _service_nics(engine)
    assert len(nics) == zones
    for nic in nics:
        zone = first.blueprint.zone(nic.parent_id)
        assert zone is not None and zone.nic is not None
        kind = ServiceKind(zone.kind.value)
        subnet = SERVICE_SUBNETS[kind]
        assert (nic.kind, nic.name, nic.subnet_id) == ("service", kind.row_name(zone.id), subnet.id)
        assert ip_address(nic.ip) == zone.nic.ip and ip_address(nic.ip) in subnet.ipv4
        assert ip_address(nic.ipv6) == zone.nic.ipv6 and ip_address(nic.ipv6) in subnet.ipv6

    # A replacement zone is dual-stack too: asked for again, or kept from the parent's NICs.
    _expunge_a_disk_with_a_nexus(engine)
    stack = NicIpStack.DUAL_STACK if explicit else None
    second = plan_once(engine, ids=ids, set_as_target=True, nic_ip_stack=stack)
    assert second.blueprint is not None and second.parent is not None
    (added,) = [
        z
        for z in second.blueprint.in_service_zones()
        if second.parent.zone(z.id) is None and z.kind.value == "nexus"
    ]
    assert added.nic is not None and added.nic.ip is not None and added.nic.ipv6 is not None
    replaced = _execute_and_converge(engine, executor)
    moved = _zones_expunged(second.parent, second.blueprint)
    assert replaced["nics"]["soft_deleted"] == replaced["nics"]["created"] == moved
    (row,) = [n for n in _service_nics(engine) if n.parent_id == added.id]
    assert (ip_address(row.ip), ip_address(row.ipv6)) == (added.nic.ip, added.nic.ipv6)


def test_ipv6_only_rack(engine: Engine) -> None:
    _rack(engine, "2001:db8::10", "2001:db8::1f")
    (pool,) = run_transaction(engine, list_service_pools)
    assert pool.ip_version is IpVersion.V6
    ids = SeededIds(12)
    first = plan_once(engine, ids=ids, set_as_target=True)
    assert first.blueprint is not None
    executor = Executor(engine)
    _execute_and_converge(engine, executor)

    nics = _service_nics(engine)
    assert nics
    for nic in nics:
        assert nic.ip is None
        assert isinstance(ip_address(nic.ipv6), IPv6Address)
    with engine.connect() as conn:
        external = conn.execute(
            text("SELECT ip, ip_pool_id FROM external_ip WHERE time_deleted IS NULL")
        ).all()
        rcgen = conn.execute(text("SELECT rcgen FROM ip_pool_range")).scalar_one()
    assert {row.ip_pool_id for row in external} == {pool.id}
    assert all(isinstance(ip_address(row.ip), IPv6Address) for row in external)
    assert rcgen == len(external)

    _expunge_a_disk_with_a_nexus(engine)
    second = plan_once(engine, ids=ids, set_as_target=True)
    assert second.blueprint is not None
    replaced = _execute_and_converge(engine, executor)
    assert second.parent is not None
    assert replaced["nics"]["created"] == _zones_expunged(second.parent, second.blueprint) > 0
    assert all(n.ip is None for n in _service_nics(engine))


def test_ipv4_rack_keeps_ipv4_only_nics(engine: Engine) -> None:
    _rack(engine, "192.0.2.1", "192.0.2.62")
    first = plan_once(engine, ids=SeededIds(13), set_as_target=True)
    assert first.blueprint is not None
    _execute_and_converge(engine, Executor(engine))
    nics = _service_nics(engine)
    assert nics
    assert all(n.ipv6 is None and isinstance(ip_address(n.ip), IPv4Address) for n in nics)
