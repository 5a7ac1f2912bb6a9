"""The executor's reads and decision run unchanged on tables created by upstream's own DDL.

The database holds nothing but upstream's tables (:mod:`tests.upstream_schema`), filled with
rows as upstream writes them: live rows of in-service zones, soft-deleted rows of a zone
expunged long ago, live rows of a zone expunged since, nothing for a zone expunged before its
blueprint was ever executed, and a guest instance's NIC and external IP beside them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint, BlueprintZone
from reconfigurator.db import schema
from reconfigurator.db.networking.read import (
    EXTERNAL_IP_QUERIES,
    NIC_QUERIES,
    ORPHAN_EXTERNAL_IP_QUERY,
    ORPHAN_NIC_QUERY,
    POOL_RANGE_QUERY,
    LiveServiceRow,
    RepairLookup,
    load_live_rows_outside,
    load_pool_ranges,
    load_state,
)
from reconfigurator.db.targets import current_target
from reconfigurator.networking import (
    BlueprintNetworking,
    MissingRowPolicy,
    NetworkingPlan,
    PoolRange,
    RowResult,
    Table,
    decide,
)
from reconfigurator.testing import statements_sent
from tests import upstream_schema as upstream
from tests.blueprint_builder import EXTERNAL_RANGE, RackBuilder

SERVICE_POOL_ID = uuid.UUID("0f000000-0000-4000-8000-000000000001")
SERVICE_RANGE_ID = uuid.UUID("0f000000-0000-4000-8000-000000000002")
RETIRED_RANGE_ID = uuid.UUID("0f000000-0000-4000-8000-000000000003")
SILO_POOL_ID = uuid.UUID("0f000000-0000-4000-8000-000000000004")
SILO_RANGE_ID = uuid.UUID("0f000000-0000-4000-8000-000000000005")
INSTANCE_ID = uuid.UUID("0f000000-0000-4000-8000-0000000000a0")
INSTANCE_VPC_ID = uuid.UUID("0f000000-0000-4000-8000-0000000000a1")
INSTANCE_SUBNET_ID = uuid.UUID("0f000000-0000-4000-8000-0000000000a2")

SERVICE_RANGE = PoolRange(
    SERVICE_RANGE_ID,
    SERVICE_POOL_ID,
    IPv4Address(EXTERNAL_RANGE[0]),
    IPv4Address(EXTERNAL_RANGE[1]),
)


@dataclass(frozen=True)
class Rack:
    """The blueprint and its zones, by what the database holds for them."""

    blueprint: Blueprint
    #: In service, with live rows.
    nexus: BlueprintZone
    #: In service, with live rows and a dual-stack vNIC.
    dns_dual_stack: BlueprintZone
    #: In service, no rows yet.
    new_ntp: BlueprintZone
    new_nexus: BlueprintZone
    #: Expunged; its rows were soft-deleted by an earlier run.
    retired_nexus: BlueprintZone
    #: Expunged; its rows are still live.
    expunged_dns: BlueprintZone
    #: Expunged before any blueprint that had it was executed: no rows.
    never_created_ntp: BlueprintZone

    @property
    def in_service_ids(self) -> list[uuid.UUID]:
        return [z.id for z in (self.nexus, self.dns_dual_stack, self.new_ntp, self.new_nexus)]


def _build_blueprint() -> Rack:
    rack = RackBuilder(seed=11)
    sled = rack.add_sled()
    ids = {
        "nexus": rack.add_zone(sled, "nexus"),
        "dns_dual_stack": rack.add_zone(sled, "external_dns", stack="dual"),
        "new_ntp": rack.add_zone(sled, "boundary_ntp"),
        "new_nexus": rack.add_zone(sled, "nexus"),
        "retired_nexus": rack.add_zone(sled, "nexus"),
        "expunged_dns": rack.add_zone(sled, "external_dns"),
        "never_created_ntp": rack.add_zone(sled, "boundary_ntp"),
    }
    for name in ("retired_nexus", "expunged_dns", "never_created_ntp"):
        rack.expunge_zone(ids[name])
    blueprint = rack.build()
    zones = {name: blueprint.zone(zone_id) for name, zone_id in ids.items()}
    assert all(zone is not None for zone in zones.values())
    return Rack(blueprint, **zones)  # type: ignore[arg-type]


def _service_ip(zone: BlueprintZone, *, time_deleted: datetime | None = None) -> dict[str, Any]:
    return upstream.zone_external_ip(
        zone, SERVICE_POOL_ID, SERVICE_RANGE_ID, time_deleted=time_deleted
    )


def _fill(engine: Engine, rack: Rack) -> None:
    """Upstream's tables, and the rows upstream would hold for this rack."""
    deleted = upstream.WHEN + timedelta(hours=1)
    new_nexus_nic = rack.new_nexus.nic
    assert new_nexus_nic is not None and new_nexus_nic.ip is not None
    with engine.begin() as conn:
        upstream.create_tables(conn)
        upstream.insert(
            conn,
            "ip_pool",
            [
                upstream.ip_pool(SERVICE_POOL_ID, "oxide-service-pool", rcgen=2),
                upstream.ip_pool(SILO_POOL_ID, "default", assignment="silos"),
            ],
        )
        upstream.insert(
            conn,
            "ip_pool_range",
            [
                # Four addresses were handed out of it: two live zones, two expunged.
                upstream.ip_pool_range(SERVICE_RANGE_ID, SERVICE_POOL_ID, *EXTERNAL_RANGE, rcgen=4),
                upstream.ip_pool_range(
                    RETIRED_RANGE_ID,
                    SERVICE_POOL_ID,
                    "203.0.113.1",
                    "203.0.113.20",
                    time_deleted=deleted,
                ),
                upstream.ip_pool_range(
                    SILO_RANGE_ID, SILO_POOL_ID, "198.51.100.1", "198.51.100.200", rcgen=1
                ),
            ],
        )
        upstream.insert(
            conn,
            "external_ip",
            [
                _service_ip(rack.nexus),
                _service_ip(rack.dns_dual_stack),
                _service_ip(rack.retired_nexus, time_deleted=deleted),
                _service_ip(rack.expunged_dns),
                upstream.instance_ephemeral_ip(
                    INSTANCE_ID, SILO_POOL_ID, SILO_RANGE_ID, "198.51.100.7"
                ),
            ],
        )
        upstream.insert(
            conn,
            "network_interface",
            [
                upstream.zone_nic(rack.nexus),
                upstream.zone_nic(rack.dns_dual_stack),
                upstream.zone_nic(rack.retired_nexus, time_deleted=deleted),
                upstream.zone_nic(rack.expunged_dns),
                # A guest's NIC in a VPC of its own, at the address the new Nexus zone's
                # vNIC will take in its subnet.
                upstream.instance_nic(
                    INSTANCE_ID,
                    vpc_id=INSTANCE_VPC_ID,
                    subnet_id=INSTANCE_SUBNET_ID,
                    ip=str(new_nexus_nic.ip),
                    mac=0xA840_25F0_0001,
                ),
            ],
        )
        upstream.insert(conn, "blueprint", [upstream.blueprint_row(rack.blueprint)])
        upstream.insert(conn, "bp_target", [upstream.target_row(1, rack.blueprint.id)])


@pytest.fixture
def rack(empty_engine: Engine) -> Rack:
    built = _build_blueprint()
    _fill(empty_engine, built)
    return built


def _relations(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema()"
                )
            ).scalars()
        )


def _plan(engine: Engine, rack: Rack) -> NetworkingPlan:
    desired = BlueprintNetworking.of(rack.blueprint)
    with engine.begin() as conn:
        return decide(desired, load_state(conn, desired, RepairLookup.NONE))


def _ext_id(zone: BlueprintZone) -> uuid.UUID:
    assert zone.external_ip is not None
    return zone.external_ip.id


def _nic_id(zone: BlueprintZone) -> uuid.UUID:
    assert zone.nic is not None
    return zone.nic.id


def test_the_database_holds_upstreams_tables_and_nothing_of_this_projects(
    empty_engine: Engine, rack: Rack
) -> None:
    assert _relations(empty_engine) == {*upstream.UPSTREAM_TABLES, *upstream.UPSTREAM_VIEWS}


def test_the_decision_on_upstreams_rows_expects_what_upstream_would_do(
    empty_engine: Engine, rack: Rack
) -> None:
    plan = _plan(empty_engine, rack)

    assert plan.conflicts == []
    assert plan.warnings == []
    assert plan.blocking_error(MissingRowPolicy.TREAT_AS_DELETED) is None
    # Rows that match the blueprint stay as they are, the dual-stack vNIC among them.
    assert {d.zone_id for d in plan.external_ip_unchanged} == {
        rack.nexus.id,
        rack.dns_dual_stack.id,
    }
    assert {n.zone_id for n in plan.nic_unchanged} == {rack.nexus.id, rack.dns_dual_stack.id}
    dual = next(n for n in plan.nic_unchanged if n.zone_id == rack.dns_dual_stack.id)
    assert dual.ipv4 is not None and dual.ipv6 is not None
    # In-service zones without rows get them, from the service range.
    assert {(c.desired.zone_id, c.desired.id) for c in plan.external_ip_creates} == {
        (rack.new_ntp.id, _ext_id(rack.new_ntp)),
        (rack.new_nexus.id, _ext_id(rack.new_nexus)),
    }
    assert {c.pool_range for c in plan.external_ip_creates} == {SERVICE_RANGE}
    assert plan.range_allocations() == {SERVICE_RANGE_ID: 2}
    assert {(n.zone_id, n.id) for n in plan.nic_creates} == {
        (rack.new_ntp.id, _nic_id(rack.new_ntp)),
        (rack.new_nexus.id, _nic_id(rack.new_nexus)),
    }
    # Expunged zones: the live rows are soft-deleted, the never-created ones are not found,
    # the soft-deleted ones only counted.
    assert {(d.zone_id, d.table, d.row_id, d.result) for d in plan.deallocations} == {
        (rack.expunged_dns.id, Table.EXTERNAL_IP, _ext_id(rack.expunged_dns), RowResult.APPLIED),
        (rack.expunged_dns.id, Table.NIC, _nic_id(rack.expunged_dns), RowResult.APPLIED),
        (
            rack.never_created_ntp.id,
            Table.EXTERNAL_IP,
            _ext_id(rack.never_created_ntp),
            RowResult.NOT_FOUND,
        ),
        (
            rack.never_created_ntp.id,
            Table.NIC,
            _nic_id(rack.never_created_ntp),
            RowResult.NOT_FOUND,
        ),
    }
    assert plan.soft_delete_ids(Table.EXTERNAL_IP) == [_ext_id(rack.expunged_dns)]
    assert plan.soft_delete_ids(Table.NIC) == [_nic_id(rack.expunged_dns)]
    # Without a repair record every never-created row is new to this run.
    assert {d.row_id for d in plan.new_repairs()} == {
        _ext_id(rack.never_created_ntp),
        _nic_id(rack.never_created_ntp),
    }
    expected_counts = {
        "soft_deleted": 1,
        "already_soft_deleted": 1,
        "not_found": 1,
        "created": 2,
        "unchanged": 2,
    }
    assert plan.counts(Table.EXTERNAL_IP) == expected_counts
    assert plan.counts(Table.NIC) == expected_counts


def test_live_service_rows_outside_the_in_service_zones_are_the_expunged_zones_live_rows(
    empty_engine: Engine, rack: Rack
) -> None:
    expunged = rack.expunged_dns
    assert expunged.external_ip is not None and expunged.nic is not None
    with empty_engine.begin() as conn:
        outside = load_live_rows_outside(conn, rack.in_service_ids)
    # Neither the soft-deleted rows nor the guest's NIC and IP.
    assert sorted(outside, key=lambda row: row.table.value) == [
        LiveServiceRow(
            Table.EXTERNAL_IP, expunged.external_ip.id, expunged.id, str(expunged.external_ip.ip)
        ),
        LiveServiceRow(Table.NIC, expunged.nic.id, expunged.id, str(expunged.nic.ip)),
    ]


def test_pool_ranges_are_the_live_ranges_of_the_service_pool(
    empty_engine: Engine, rack: Rack
) -> None:
    with empty_engine.begin() as conn:
        ranges = load_pool_ranges(conn)
    # Not the retired range of the service pool, nor the silos' pool.
    assert ranges == [SERVICE_RANGE]


def test_the_target_check_reads_upstreams_bp_target(empty_engine: Engine, rack: Rack) -> None:
    with empty_engine.begin() as conn:
        target = current_target(conn)
    assert target is not None
    assert (target.version, target.blueprint_id, target.enabled) == (1, rack.blueprint.id, True)


def _sql(engine: Engine, query: Any) -> str:
    return str(query.compile(dialect=engine.dialect))


def test_every_read_is_sent_as_written_and_names_only_upstreams_tables(
    empty_engine: Engine, rack: Rack
) -> None:
    desired = BlueprintNetworking.of(rack.blueprint)
    with empty_engine.begin() as conn, statements_sent(empty_engine) as sent:
        load_state(conn, desired, RepairLookup.NONE)
        load_live_rows_outside(conn, rack.in_service_ids)
        load_pool_ranges(conn)

    assert sent == [
        _sql(empty_engine, query)
        for query in (
            POOL_RANGE_QUERY,
            EXTERNAL_IP_QUERIES[RepairLookup.NONE, False],
            NIC_QUERIES[RepairLookup.NONE, False],
            ORPHAN_EXTERNAL_IP_QUERY,
            ORPHAN_NIC_QUERY,
            POOL_RANGE_QUERY,
        )
    ]
    own_tables = set(schema.metadata.tables) - set(upstream.UPSTREAM_TABLES)
    assert "external_networking_repair" in own_tables
    named = {
        word
        for statement in sent
        for word in re.findall(r"\b[a-z_]+\b", statement)
        if word in own_tables
    }
    assert named == set()
