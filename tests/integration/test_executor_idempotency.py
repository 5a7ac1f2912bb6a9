"""From any state a partial execution can leave behind, one run converges and the next run
writes nothing. Also: an address moves from an expunged zone to a new one in one blueprint."""

from __future__ import annotations

import random
import uuid
from ipaddress import ip_address
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.schema import external_ip_table, service_network_interface_table
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from tests.blueprint_builder import RackBuilder
from tests.db_support import make_target, row_by_id, seed_service_range, snapshot

TABLES = {
    "external_ip": external_ip_table,
    "service_network_interface": service_network_interface_table,
}


def _rows(engine: Engine) -> dict[str, dict[uuid.UUID, dict[str, Any]]]:
    out: dict[str, dict[uuid.UUID, dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, table in TABLES.items():
            out[name] = {row["id"]: dict(row) for row in conn.execute(select(table)).mappings()}
    return out


def _replace_contents(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    with engine.begin() as conn:
        for name, table in TABLES.items():
            conn.execute(delete(table))
            if rows[name]:
                conn.execute(table.insert(), rows[name])


def _assert_realized(engine: Engine, blueprint: Blueprint) -> None:
    """Every in-service zone has exactly its blueprint rows live; no expunged zone has any."""
    current = _rows(engine)
    live_ips = {
        r["parent_id"]: r for r in current["external_ip"].values() if r["time_deleted"] is None
    }
    live_nics = {
        r["service_id"]: r
        for r in current["service_network_interface"].values()
        if r["time_deleted"] is None
    }
    assert len(live_ips) == sum(
        1 for r in current["external_ip"].values() if r["time_deleted"] is None
    )
    for zone in blueprint.all_zones():
        if zone.external_ip is None or zone.nic is None:
            continue
        if zone.is_in_service:
            assert live_ips[zone.id]["id"] == zone.external_ip.id
            assert live_ips[zone.id]["ip"] == zone.external_ip.ip
            assert live_nics[zone.id]["id"] == zone.nic.id
            assert live_nics[zone.id]["ipv4"] == zone.nic.ip
            assert live_nics[zone.id]["mac"] == zone.nic.mac_int
        else:
            assert zone.id not in live_ips
            assert zone.id not in live_nics


def test_converges_from_partial_states(engine: Engine) -> None:
    seed_service_range(engine)
    rack = RackBuilder(seed=99)
    sleds = [rack.add_sled(disks=4) for _ in range(3)]
    zones = [
        rack.add_zone(sled, kind, pool=sled.pools[i])
        for sled in sleds
        for i, kind in enumerate(("nexus", "external_dns", "boundary_ntp"))
    ]
    parent = rack.build()
    make_target(engine, parent)
    assert Executor(engine).execute().succeeded
    parent_rows = _rows(engine)

    for zone in zones[::3]:
        rack.expunge_zone(zone)
    for i, kind in enumerate(("nexus", "external_dns", "boundary_ntp")):
        rack.add_zone(sleds[i], kind, pool=sleds[i].pools[3])
    child = rack.build()
    make_target(engine, child)
    assert Executor(engine).execute().succeeded
    child_rows = _rows(engine)

    expunged_ids = {z.id for z in child.expunged_zones()}
    rng = random.Random(5)
    for trial in range(25):
        chosen: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        expected_missing = 0
        for name in TABLES:
            parent_key = "parent_id" if name == "external_ip" else "service_id"
            for row_id, final in child_rows[name].items():
                owner = final[parent_key]
                if owner in expunged_ids:
                    # Never created, created but not yet deleted, or already soft-deleted.
                    options = [None, parent_rows[name][row_id], final]
                else:
                    options = [None, final]
                pick = rng.choice(options)
                if pick is None and owner in expunged_ids:
                    expected_missing += 1
                if pick is not None:
                    chosen[name].append(pick)
        _replace_contents(engine, chosen)

        report = Executor(engine).execute()
        assert report.succeeded, (trial, report.error)
        details = report.step(EXTERNAL_NETWORKING_STEP).details
        assert (
            details["external_ips"]["not_found"] + details["nics"]["not_found"] == expected_missing
        )
        _assert_realized(engine, child)

        before = snapshot(engine)
        again = Executor(engine).execute()
        assert again.succeeded
        details = again.step(EXTERNAL_NETWORKING_STEP).details
        for table in ("external_ips", "nics"):
            assert details[table]["created"] == 0
            assert details[table]["soft_deleted"] == 0
        assert snapshot(engine) == before


def test_address_moves_from_expunged_zone_to_new_zone(engine: Engine) -> None:
    seed_service_range(engine)
    rack = RackBuilder(seed=3)
    sled = rack.add_sled(disks=2)
    old = rack.add_zone(sled, "boundary_ntp")
    first = rack.build()
    make_target(engine, first)
    assert Executor(engine).execute().succeeded

    old_type = rack.zone_doc(old)["zone_type"]
    rack.expunge_zone(old)
    new = rack.add_zone(
        sled,
        "boundary_ntp",
        pool=sled.pools[1],
        ip=old_type["external_ip"]["ip"],
        ports=(old_type["external_ip"]["first_port"], old_type["external_ip"]["last_port"]),
        nic_ip=old_type["nic"]["ip"],
        mac=int(old_type["nic"]["mac"].replace(":", ""), 16),
    )
    second = rack.build()
    make_target(engine, second)
    report = Executor(engine).execute()
    assert report.succeeded, report.error

    old_zone, new_zone = second.zone(old), second.zone(new)
    assert old_zone is not None and new_zone is not None
    assert old_zone.external_ip is not None and new_zone.external_ip is not None
    assert old_zone.nic is not None and new_zone.nic is not None
    assert row_by_id(engine, "external_ip", old_zone.external_ip.id).time_deleted is not None
    moved = row_by_id(engine, "external_ip", new_zone.external_ip.id)
    assert moved.time_deleted is None
    assert moved.parent_id == new
    assert moved.ip == ip_address(old_type["external_ip"]["ip"])
    assert moved.kind == "snat"
    assert row_by_id(engine, "service_network_interface", old_zone.nic.id).time_deleted is not None
    assert row_by_id(engine, "service_network_interface", new_zone.nic.id).time_deleted is None
