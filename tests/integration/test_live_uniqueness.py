"""Uniqueness holds among live rows only: a soft-deleted row frees its address. The unique
indexes and CHECKs carry upstream's names."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Table, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from reconfigurator.db.schema import external_ip_table, network_interface_table
from tests.rows import NOW, external_ip_row, nic_row

EXTERNAL_IP = external_ip_table
NIC = network_interface_table

#: Every unique index of the shared tables (name, table), each partial on live rows.
LIVE_UNIQUE_INDEXES = [
    ("external_ip_unique", "external_ip"),
    ("lookup_external_ip_by_parent", "external_ip"),
    ("lookup_floating_ip_by_name", "external_ip"),
    ("network_interface_subnet_id_ipv4_key", "network_interface"),
    ("network_interface_subnet_id_ipv6_key", "network_interface"),
    ("network_interface_vpc_id_mac_key", "network_interface"),
    ("network_interface_parent_id_name_kind_key", "network_interface"),
    ("network_interface_parent_id_slot_key", "network_interface"),
    ("lookup_pool_by_name", "ip_pool"),
    ("lookup_pool_range_by_first_address", "ip_pool_range"),
    ("lookup_pool_range_by_last_address", "ip_pool_range"),
]


def _insert(engine: Engine, table: Table, row: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), [row])


def _soft_delete(engine: Engine, table: Table, row_id: uuid.UUID) -> None:
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == row_id).values(time_deleted=NOW))


def _another_mac() -> dict[str, Any]:
    return {"mac": 0xA840_25FF_0000 + uuid.uuid4().int % 0xFFFF}


def _another_nic_ip() -> dict[str, Any]:
    return {"ip": f"172.30.2.{10 + uuid.uuid4().int % 200}"}


def _another_ipv6() -> dict[str, Any]:
    return {"ipv6": f"fd77:e9d2:9cd9:2::{uuid.uuid4().int % 0xFFFF:x}"}


# (index name, table, row builder, columns the rows share, columns that must differ)
CASES: list[
    tuple[str, Table, Callable[..., dict[str, Any]], dict[str, Any], Callable[[], dict[str, Any]]]
] = [
    (
        "external_ip_unique",
        EXTERNAL_IP,
        external_ip_row,
        {"ip": "192.0.2.20", "first_port": 0},
        lambda: {"name": f"nexus-{uuid.uuid4()}"},
    ),
    (
        "lookup_floating_ip_by_name",
        EXTERNAL_IP,
        external_ip_row,
        {"name": "nexus-shared"},
        lambda: {"ip": f"192.0.2.{20 + uuid.uuid4().int % 200}"},
    ),
    (
        "network_interface_subnet_id_ipv4_key",
        NIC,
        nic_row,
        {"ip": "172.30.2.9"},
        _another_mac,
    ),
    (
        "network_interface_subnet_id_ipv6_key",
        NIC,
        nic_row,
        {"ip": None, "ipv6": "fd77:e9d2:9cd9:2::9"},
        _another_mac,
    ),
    (
        "network_interface_vpc_id_mac_key",
        NIC,
        nic_row,
        {"mac": 0xA840_25FF_1234},
        _another_nic_ip,
    ),
    (
        "network_interface_parent_id_slot_key",
        NIC,
        nic_row,
        {"parent_id": uuid.UUID("5107e000-0000-4000-8000-000000000001"), "slot": 0},
        lambda: {**_another_mac(), **_another_nic_ip(), "name": f"nic-{uuid.uuid4()}"},
    ),
    (
        "network_interface_parent_id_name_kind_key",
        NIC,
        nic_row,
        {"parent_id": uuid.UUID("5107e000-0000-4000-8000-000000000002"), "name": "same"},
        lambda: {**_another_mac(), **_another_nic_ip(), "slot": uuid.uuid4().int % 8},
    ),
]


@pytest.mark.parametrize(
    ("index", "table", "build", "shared", "vary"), CASES, ids=[c[0] for c in CASES]
)
def test_live_duplicate_rejected_then_allowed_after_soft_delete(
    engine: Engine,
    index: str,
    table: Table,
    build: Callable[..., dict[str, Any]],
    shared: dict[str, Any],
    vary: Callable[[], dict[str, Any]],
) -> None:
    first = build(**shared)
    _insert(engine, table, first)
    clash = build(**shared, **vary())
    with pytest.raises(IntegrityError) as info:
        _insert(engine, table, clash)
    assert getattr(info.value.orig, "sqlstate", None) == "23505"
    assert index in str(info.value.orig)

    _soft_delete(engine, table, first["id"])
    _insert(engine, table, clash)


def test_a_name_is_unique_per_parent_and_kind_a_slot_per_parent(engine: Engine) -> None:
    parent = uuid.uuid4()
    _insert(engine, NIC, nic_row(parent_id=parent, name="shared", slot=0))
    _insert(
        engine,
        NIC,
        nic_row(
            parent_id=parent,
            name="shared",
            kind="instance",
            slot=1,
            ip="172.30.2.6",
            mac=0xA840_25FF_8002,
        ),
    )
    with pytest.raises(IntegrityError) as info:
        _insert(
            engine,
            NIC,
            nic_row(parent_id=parent, name="other", kind="probe", ip="172.30.2.7", mac=1),
        )
    assert "network_interface_parent_id_slot_key" in str(info.value.orig)


def test_soft_deleted_rows_may_share_an_address(engine: Engine) -> None:
    for _ in range(3):
        row = external_ip_row(ip="192.0.2.30")
        _insert(engine, EXTERNAL_IP, row)
        _soft_delete(engine, EXTERNAL_IP, row["id"])
    for _ in range(3):
        nic = nic_row(ip="172.30.2.30", mac=0xA840_25FF_3030)
        _insert(engine, NIC, nic)
        _soft_delete(engine, NIC, nic["id"])


@pytest.mark.parametrize(
    ("index", "table"), LIVE_UNIQUE_INDEXES, ids=[i for i, _ in LIVE_UNIQUE_INDEXES]
)
def test_unique_index_is_partial_on_live_rows(engine: Engine, index: str, table: str) -> None:
    with engine.connect() as conn:
        definition = conn.execute(
            text(
                "SELECT indexdef FROM pg_indexes"
                " WHERE indexname = :index AND tablename = :table"
                " AND schemaname = current_schema()"
            ),
            {"index": index, "table": table},
        ).scalar_one()
    assert definition.startswith("CREATE UNIQUE INDEX")
    assert "WHERE" in definition
    assert "(time_deleted IS NULL)" in definition


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"name": None}, "fips_and_services_need_names"),
        ({"description": None}, "fips_and_services_need_descriptions"),
        ({"project_id": uuid.uuid4()}, "null_project_id"),
        ({"kind": "ephemeral"}, "ephemeral_kind_service"),
        ({"kind": "snat", "parent_id": None, "state": "detached"}, "null_snat_parent_id"),
        ({"parent_id": None, "state": "attached"}, "detached_null_parent_id"),
    ],
)
def test_external_ip_checks(engine: Engine, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(IntegrityError) as info:
        _insert(engine, EXTERNAL_IP, external_ip_row(**overrides))
    assert getattr(info.value.orig, "sqlstate", None) == "23514"
    assert constraint in str(info.value.orig)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"slot": 8}, "network_interface_slot_check"),
        ({"slot": -1}, "network_interface_slot_check"),
        ({"ip": None, "ipv6": None}, "at_least_one_ip_address"),
        (
            {"ip": None, "ipv6": "fd77:e9d2:9cd9:2::5", "transit_ips": ["10.1.0.0/24"]},
            "transit_ips_require_ip_address",
        ),
        ({"transit_ips_v6": ["fd00:1::/64"]}, "transit_ips_require_ip_address"),
    ],
)
def test_nic_checks(engine: Engine, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(IntegrityError) as info:
        _insert(engine, NIC, nic_row(**overrides))
    assert getattr(info.value.orig, "sqlstate", None) == "23514"
    assert constraint in str(info.value.orig)


def test_nic_with_transit_ips_of_its_families_is_accepted(engine: Engine) -> None:
    _insert(
        engine,
        NIC,
        nic_row(
            ipv6="fd77:e9d2:9cd9:2::5",
            transit_ips=["10.1.0.0/24"],
            transit_ips_v6=["fd00:1::/64"],
        ),
    )
