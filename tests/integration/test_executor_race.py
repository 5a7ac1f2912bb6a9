"""The production incident, reproduced and fixed, on a real database.

A (3 Nexus, 1 external DNS, 1 boundary NTP) is the target and is executed. B expunges Nexus
N1 (its disk was expunged) and places N2 on the disk that is expunged next; B becomes the
target but is never executed. C expunges N2 and places N3 on another sled. N2's rows were
never created, yet every later blueprint lists N2 as expunged.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine

from reconfigurator.db.schema import (
    external_ip_table,
    external_networking_repair_table,
    network_interface_table,
)
from reconfigurator.errors import RecordNotFound
from reconfigurator.executor import (
    EXTERNAL_NETWORKING_STEP,
    ExecutionReport,
    Executor,
    MissingRowPolicy,
)
from tests.db_support import live_rows, make_target, row_by_id, snapshot
from tests.race import Race, build_race, networking_ids


@pytest.fixture
def race(engine: Engine) -> Race:
    race = build_race(engine)
    make_target(engine, race.a)
    first = Executor(engine).execute()
    assert first.succeeded, first.error
    assert first.steps[0].details["external_ips"]["created"] == 5
    make_target(engine, race.b)  # B is never executed
    make_target(engine, race.c)
    return race


def _rows_of_zone(engine: Engine, zone: uuid.UUID, ip_id: uuid.UUID, nic_id: uuid.UUID) -> Any:
    """Every row, live or soft-deleted, of ``zone`` or with its recorded ids, in both tables."""
    with engine.connect() as conn:
        ips = conn.execute(
            select(external_ip_table).where(
                or_(external_ip_table.c.parent_id == zone, external_ip_table.c.id == ip_id)
            )
        ).all()
        nics = conn.execute(
            select(network_interface_table).where(
                or_(
                    network_interface_table.c.parent_id == zone,
                    network_interface_table.c.id == nic_id,
                )
            )
        ).all()
    return ips + nics


def _repair_records(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(external_networking_repair_table)))


def _assert_stuck_on_n2(report: ExecutionReport, race: Race) -> None:
    assert report.outcome == "failed"
    assert report.failed_step == EXTERNAL_NETWORKING_STEP
    assert isinstance(report.exception, RecordNotFound)
    assert report.exception.zone_id == race.n2
    assert str(race.n2) in (report.error or "")
    assert report.steps[0].details["record_not_found"]["zone_id"] == str(race.n2)


def test_old_policy_is_stuck_on_the_never_created_zone(engine: Engine, race: Race) -> None:
    executor = Executor(engine, missing_rows=MissingRowPolicy.FAIL)
    before = snapshot(engine)
    for _ in range(5):
        _assert_stuck_on_n2(executor.execute(), race)
        assert snapshot(engine) == before


def test_default_policy_converges_and_reports_repairs(engine: Engine, race: Race) -> None:
    n1_ip, n1_nic = networking_ids(race.n1, race)
    n2_ip, n2_nic = networking_ids(race.n2, race)
    n3_ip, n3_nic = networking_ids(race.n3, race)
    n1_ip_before = row_by_id(engine, "external_ip", n1_ip)
    n1_nic_before = row_by_id(engine, "network_interface", n1_nic)

    executor = Executor(engine)
    report = executor.execute()
    assert report.succeeded, report.error
    step = report.step(EXTERNAL_NETWORKING_STEP).details

    # N1's rows are soft-deleted; as upstream, only time_deleted changes.
    n1_ip_after = row_by_id(engine, "external_ip", n1_ip)
    n1_nic_after = row_by_id(engine, "network_interface", n1_nic)
    assert n1_ip_after.time_deleted is not None
    assert n1_nic_after.time_deleted is not None
    assert {**n1_ip_after._asdict(), "time_deleted": None} == n1_ip_before._asdict()
    assert {**n1_nic_after._asdict(), "time_deleted": None} == n1_nic_before._asdict()

    # N2 was never created, and nothing stands for it in the upstream tables: no live row,
    # and no soft-deleted placeholder either.
    assert _rows_of_zone(engine, race.n2, n2_ip, n2_nic) == []

    # N3, which took N1's addresses, holds exactly the blueprint's rows.
    assert [r.id for r in live_rows(engine, "external_ip", race.n3)] == [n3_ip]
    assert [r.id for r in live_rows(engine, "network_interface", race.n3)] == [n3_nic]

    assert step["external_ips"] == {
        "soft_deleted": 1,
        "already_soft_deleted": 0,
        "not_found": 1,
        "created": 1,
        "unchanged": 4,
    }
    assert step["nics"] == step["external_ips"]
    assert [(r["zone_id"], r["table"], r["row_id"], r["result"]) for r in step["repairs"]] == [
        (str(race.n2), "external_ip", str(n2_ip), "not_found"),
        (str(race.n2), "service_network_interface", str(n2_nic), "not_found"),
    ]
    assert step["warnings"] == []

    # The repairs are recorded once, in the project's own table, by the run that met them.
    assert sorted(
        (r.table_name, r.row_id, r.zone_id, r.blueprint_id, r.execution_id)
        for r in _repair_records(engine)
    ) == [
        ("external_ip", n2_ip, race.n2, race.c.id, report.execution_id),
        ("service_network_interface", n2_nic, race.n2, race.c.id, report.execution_id),
    ]

    # The next run counts the never-created rows, lists no repair and writes nothing.
    before = snapshot(engine)
    again = executor.execute()
    assert again.succeeded, again.error
    step = again.step(EXTERNAL_NETWORKING_STEP).details
    for table in ("external_ips", "nics"):
        assert step[table] == {
            "soft_deleted": 0,
            "already_soft_deleted": 1,
            "not_found": 1,
            "created": 0,
            "unchanged": 5,
        }
    assert step["repairs"] == []
    assert step["warnings"] == []
    assert snapshot(engine) == before
    assert len(_repair_records(engine)) == 2


def test_switching_back_to_default_unsticks_a_stuck_executor(engine: Engine, race: Race) -> None:
    stuck = Executor(engine, missing_rows=MissingRowPolicy.FAIL).execute()
    assert isinstance(stuck.exception, RecordNotFound)
    assert Executor(engine).execute().succeeded


def test_recorded_repairs_do_not_hide_the_missing_row_from_the_old_policy(
    engine: Engine, race: Race
) -> None:
    assert Executor(engine).execute().succeeded
    assert len(_repair_records(engine)) == 2
    before = snapshot(engine)
    strict = Executor(engine, missing_rows=MissingRowPolicy.FAIL).execute()
    _assert_stuck_on_n2(strict, race)
    n2_ip, _ = networking_ids(race.n2, race)
    assert isinstance(strict.exception, RecordNotFound)
    assert (strict.exception.table, strict.exception.row_id) == ("external_ip", n2_ip)
    assert snapshot(engine) == before
