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
from reconfigurator.db.schema import (
    external_ip_table,
    external_networking_repair_table,
    ip_pool_range_table,
    network_interface_table,
)
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from tests.blueprint_builder import RackBuilder
from tests.db_support import make_target, row_by_id, seed_service_range, snapshot

#: The two tables, by the name the report gives them.
TABLES = {
    "external_ip": external_ip_table,
    "service_network_interface": network_interface_table,
}

#: (zone id, table as the report names it, row id)
RowKey = tuple[uuid.UUID, str, uuid.UUID]


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
        r["parent_id"]: r
        for r in current["service_network_interface"].values()
        if r["time_deleted"] is None
    }
    for name, live in (("external_ip", live_ips), ("service_network_interface", live_nics)):
        assert len(live) == sum(1 for r in current[name].values() if r["time_deleted"] is None)
    for zone in blueprint.all_zones():
        if zone.external_ip is None or zone.nic is None:
            continue
        if zone.is_in_service:
            assert live_ips[zone.id]["id"] == zone.external_ip.id
            assert live_ips[zone.id]["ip"] == zone.external_ip.ip
            assert live_nics[zone.id]["id"] == zone.nic.id
            assert live_nics[zone.id]["ip"] == zone.nic.ip
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
        missing: set[RowKey] = set()
        for name in TABLES:
            for row_id, final in child_rows[name].items():
                owner = final["parent_id"]
                if owner in expunged_ids:
                    # Never created, created but not yet deleted, or already soft-deleted.
                    options = [None, parent_rows[name][row_id], final]
                else:
                    options = [None, final]
                pick = rng.choice(options)
                if pick is None and owner in expunged_ids:
                    missing.add((owner, name, row_id))
                if pick is not None:
                    chosen[name].append(pick)
        _replace_contents(engine, chosen)
        recorded_before = _recorded_repairs(engine)

        report = Executor(engine).execute()
        assert report.succeeded, (trial, report.error)
        details = report.step(EXTERNAL_NETWORKING_STEP).details
        assert details["external_ips"]["not_found"] + details["nics"]["not_found"] == len(missing)
        # Repairs met for the first time are listed and recorded; nothing is written for them.
        assert {
            (uuid.UUID(r["zone_id"]), r["table"], uuid.UUID(r["row_id"]))
            for r in details["repairs"]
        } == missing - recorded_before
        assert _recorded_repairs(engine) == recorded_before | missing
        current = _rows(engine)
        assert not any(row_id in current[name] for _, name, row_id in missing)
        _assert_realized(engine, child)

        before = snapshot(engine)
        again = Executor(engine).execute()
        assert again.succeeded
        details = again.step(EXTERNAL_NETWORKING_STEP).details
        for table in ("external_ips", "nics"):
            assert details[table]["created"] == 0
            assert details[table]["soft_deleted"] == 0
        assert details["external_ips"]["not_found"] + details["nics"]["not_found"] == len(missing)
        assert details["repairs"] == []
        assert snapshot(engine) == before


def _recorded_repairs(engine: Engine) -> set[RowKey]:
    repair = external_networking_repair_table
    with engine.connect() as conn:
        rows = conn.execute(select(repair.c.zone_id, repair.c.table_name, repair.c.row_id))
        return {(row.zone_id, row.table_name, row.row_id) for row in rows}


def _range_generation(engine: Engine, range_id: uuid.UUID) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(ip_pool_range_table.c.rcgen).where(ip_pool_range_table.c.id == range_id)
            ).scalar_one()
        )


def test_address_moves_from_expunged_zone_to_new_zone(engine: Engine) -> None:
    range_id = seed_service_range(engine)
    rack = RackBuilder(seed=3)
    sled = rack.add_sled(disks=2)
    old = rack.add_zone(sled, "boundary_ntp")
    first = rack.build()
    make_target(engine, first)
    assert Executor(engine).execute().succeeded
    assert _range_generation(engine, range_id) == 1

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
    # The new row comes from the range that holds its address, which counts one more
    # allocation (a generation: soft-deleting the old row does not lower it).
    assert moved.ip_pool_range_id == range_id
    assert _range_generation(engine, range_id) == 2
    assert row_by_id(engine, "service_network_interface", old_zone.nic.id).time_deleted is not None
    assert row_by_id(engine, "service_network_interface", new_zone.nic.id).time_deleted is None
