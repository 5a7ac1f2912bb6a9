"""The production incident, reproduced and fixed, on a real database.

A (3 Nexus, 1 external DNS, 1 boundary NTP) is the target and is executed. B expunges Nexus
N1 (its disk was expunged) and places N2 on the disk that is expunged next; B becomes the
target but is never executed. C expunges N2 and places N3 on another sled. N2's rows were
never created, yet every later blueprint lists N2 as expunged.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from reconfigurator.errors import RecordNotFound
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor, MissingRowPolicy
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


def test_old_policy_is_stuck_on_the_never_created_zone(engine: Engine, race: Race) -> None:
    executor = Executor(engine, missing_rows=MissingRowPolicy.FAIL)
    before = snapshot(engine)
    for _ in range(5):
        report = executor.execute()
        assert report.outcome == "failed"
        assert report.failed_step == EXTERNAL_NETWORKING_STEP
        assert isinstance(report.exception, RecordNotFound)
        assert report.exception.zone_id == race.n2
        assert str(race.n2) in (report.error or "")
        assert report.steps[0].details["record_not_found"]["zone_id"] == str(race.n2)
        assert snapshot(engine) == before


def test_default_policy_converges_and_reports_repairs(engine: Engine, race: Race) -> None:
    executor = Executor(engine)
    report = executor.execute()
    assert report.succeeded, report.error
    step = report.step(EXTERNAL_NETWORKING_STEP).details

    n1_ip, n1_nic = networking_ids(race.n1, race)
    n2_ip, n2_nic = networking_ids(race.n2, race)
    n3_ip, n3_nic = networking_ids(race.n3, race)
    assert row_by_id(engine, "external_ip", n1_ip).time_deleted is not None
    assert row_by_id(engine, "service_network_interface", n1_nic).time_deleted is not None
    # N2 gets no live rows; its rows are recorded as created-and-deleted (the repair), so
    # later runs see them as already soft-deleted.
    for table, row_id in (("external_ip", n2_ip), ("service_network_interface", n2_nic)):
        tombstone = row_by_id(engine, table, row_id)
        assert tombstone.time_deleted is not None
        assert "never created" in tombstone.description
    assert live_rows(engine, "external_ip", race.n2) == []
    assert live_rows(engine, "service_network_interface", race.n2) == []
    assert [r.id for r in live_rows(engine, "external_ip", race.n3)] == [n3_ip]
    assert [r.id for r in live_rows(engine, "service_network_interface", race.n3)] == [n3_nic]

    assert step["external_ips"] == {
        "soft_deleted": 1,
        "already_soft_deleted": 0,
        "not_found": 1,
        "created": 1,
        "unchanged": 4,
    }
    assert step["nics"] == step["external_ips"]
    assert sorted(
        (r["zone_id"], r["table"], r["row_id"], r["result"]) for r in step["repairs"]
    ) == sorted(
        [
            (str(race.n2), "external_ip", str(n2_ip), "not_found"),
            (str(race.n2), "service_network_interface", str(n2_nic), "not_found"),
        ]
    )

    before = snapshot(engine)
    again = executor.execute()
    assert again.succeeded
    step = again.step(EXTERNAL_NETWORKING_STEP).details
    for table in ("external_ips", "nics"):
        assert step[table] == {
            "soft_deleted": 0,
            "already_soft_deleted": 2,
            "not_found": 0,
            "created": 0,
            "unchanged": 5,
        }
    assert step["repairs"] == []
    assert snapshot(engine) == before


def test_switching_back_to_default_unsticks_a_stuck_executor(engine: Engine, race: Race) -> None:
    stuck = Executor(engine, missing_rows=MissingRowPolicy.FAIL).execute()
    assert isinstance(stuck.exception, RecordNotFound)
    assert Executor(engine).execute().succeeded
