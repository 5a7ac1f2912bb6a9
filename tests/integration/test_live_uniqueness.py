"""Uniqueness holds among live rows only: a soft-deleted row frees its address."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Table, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from reconfigurator.db.schema import external_ip_table, service_network_interface_table
from tests.rows import NOW, external_ip_row, nic_row

EXTERNAL_IP = external_ip_table
NIC = service_network_interface_table


def _insert(engine: Engine, table: Table, row: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), [row])


def _soft_delete(engine: Engine, table: Table, row_id: uuid.UUID) -> None:
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == row_id).values(time_deleted=NOW))


CASES: list[
    tuple[str, Table, Callable[..., dict[str, Any]], dict[str, Any], Callable[[], dict[str, Any]]]
] = [
    (
        "external_ip (ip, first_port)",
        EXTERNAL_IP,
        external_ip_row,
        {"ip": "192.0.2.20", "first_port": 0},
        lambda: {},
    ),
    (
        "nic (subnet_id, ipv4)",
        NIC,
        nic_row,
        {"ipv4": "172.30.2.9"},
        lambda: {"mac": 0xA840_25FF_0000 + uuid.uuid4().int % 0xFFFF},
    ),
    (
        "nic (vpc_id, mac)",
        NIC,
        nic_row,
        {"mac": 0xA840_25FF_1234},
        lambda: {"ipv4": f"172.30.2.{10 + uuid.uuid4().int % 200}"},
    ),
]


@pytest.mark.parametrize(
    ("label", "table", "build", "shared", "vary"), CASES, ids=[c[0] for c in CASES]
)
def test_live_duplicate_rejected_then_allowed_after_soft_delete(
    engine: Engine,
    label: str,
    table: Table,
    build: Callable[..., dict[str, Any]],
    shared: dict[str, Any],
    vary: Callable[[], dict[str, Any]],
) -> None:
    first = build(**shared)
    _insert(engine, table, first)
    with pytest.raises(IntegrityError) as info:
        _insert(engine, table, build(**shared, **vary()))
    assert getattr(info.value.orig, "sqlstate", None) == "23505"

    _soft_delete(engine, table, first["id"])
    _insert(engine, table, build(**shared, **vary()))


def test_nic_slot_unique_per_live_service(engine: Engine) -> None:
    service = uuid.uuid4()
    first = nic_row(service_id=service, slot=0, name="a")
    _insert(engine, NIC, first)
    clash = nic_row(service_id=service, slot=0, name="b", ipv4="172.30.2.6", mac=0xA840_25FF_8002)
    with pytest.raises(IntegrityError):
        _insert(engine, NIC, clash)
    _soft_delete(engine, NIC, first["id"])
    _insert(engine, NIC, clash)


def test_nic_name_unique_per_live_service(engine: Engine) -> None:
    service = uuid.uuid4()
    _insert(engine, NIC, nic_row(service_id=service, slot=0, name="same"))
    with pytest.raises(IntegrityError):
        _insert(
            engine,
            NIC,
            nic_row(
                service_id=service, slot=1, name="same", ipv4="172.30.2.6", mac=0xA840_25FF_8002
            ),
        )


def test_soft_deleted_rows_may_share_an_address(engine: Engine) -> None:
    for _ in range(3):
        row = external_ip_row(ip="192.0.2.30")
        _insert(engine, EXTERNAL_IP, row)
        _soft_delete(engine, EXTERNAL_IP, row["id"])


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"name": None}, "ck_external_ip_service_named_without_project"),
        ({"project_id": uuid.uuid4()}, "ck_external_ip_service_named_without_project"),
        ({"kind": "ephemeral"}, "ck_external_ip_service_not_ephemeral"),
        (
            {"kind": "snat", "parent_id": None, "state": "detached"},
            "ck_external_ip_snat_has_parent",
        ),
        ({"first_port": 10, "last_port": 5}, "ck_external_ip_port_range"),
        ({"last_port": 70000}, "ck_external_ip_port_range"),
    ],
)
def test_external_ip_checks(engine: Engine, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(IntegrityError) as info:
        _insert(engine, EXTERNAL_IP, external_ip_row(**overrides))
    assert constraint in str(info.value.orig)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"slot": 8}, "ck_service_network_interface_slot_range"),
        ({"mac": -1}, "ck_service_network_interface_mac_48_bits"),
        ({"ipv4": "fd00::1"}, "ck_service_network_interface_ipv4_family"),
    ],
)
def test_nic_checks(engine: Engine, overrides: dict[str, Any], constraint: str) -> None:
    with pytest.raises(IntegrityError) as info:
        _insert(engine, NIC, nic_row(**overrides))
    assert constraint in str(info.value.orig)
