"""The same foundation on CockroachDB. Skipped, with the reason, when none is reachable."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from reconfigurator.db import migrate
from reconfigurator.db.retry import RetryPolicy, run_transaction
from reconfigurator.db.schema import external_ip_table, metadata
from reconfigurator.errors import RecordNotFound
from reconfigurator.executor import Executor, MissingRowPolicy
from tests.db_support import make_target, row_by_id, snapshot
from tests.race import build_race, networking_ids
from tests.rows import NOW, external_ip_row

pytestmark = pytest.mark.cockroachdb


def test_migrations_round_trip(crdb_empty_engine: Engine) -> None:
    migrate.upgrade(crdb_empty_engine)
    assert migrate.current_revision(crdb_empty_engine) == migrate.head_revision()
    assert set(metadata.tables) <= set(inspect(crdb_empty_engine).get_table_names())
    migrate.downgrade(crdb_empty_engine, "base")
    assert migrate.current_revision(crdb_empty_engine) is None
    migrate.upgrade(crdb_empty_engine)
    assert migrate.current_revision(crdb_empty_engine) == migrate.head_revision()


def test_partial_unique_index(crdb_engine: Engine) -> None:
    table = external_ip_table
    first = external_ip_row(ip="192.0.2.40")
    with crdb_engine.begin() as conn:
        conn.execute(table.insert(), [first])
    with pytest.raises(IntegrityError) as info, crdb_engine.begin() as conn:
        conn.execute(table.insert(), [external_ip_row(ip="192.0.2.40")])
    assert "external_ip_unique" in str(info.value.orig)
    with crdb_engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == first["id"]).values(time_deleted=NOW))
        conn.execute(table.insert(), [external_ip_row(ip="192.0.2.40")])


def test_retry_on_injected_restart(crdb_engine: Engine) -> None:
    attempts: list[int] = []

    def body(conn: Connection) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            # CockroachDB's own way to force a retryable error in a test.
            conn.execute(text("SELECT crdb_internal.force_retry('1s')"))
        return len(attempts)

    assert run_transaction(crdb_engine, body, policy=RetryPolicy(base_delay_s=0.01)) >= 2


def test_race_converges_on_cockroachdb(crdb_engine: Engine) -> None:
    race = build_race(crdb_engine)
    make_target(crdb_engine, race.a)
    assert Executor(crdb_engine).execute().succeeded
    make_target(crdb_engine, race.b)
    make_target(crdb_engine, race.c)
    stuck = Executor(crdb_engine, missing_rows=MissingRowPolicy.FAIL).execute()
    assert isinstance(stuck.exception, RecordNotFound)
    assert stuck.exception.zone_id == race.n2

    report = Executor(crdb_engine).execute()
    assert report.succeeded, report.error
    n2_ip, n2_nic = networking_ids(race.n2, race)
    assert [(r["table"], r["row_id"]) for r in report.steps[0].details["repairs"]] == [
        ("external_ip", str(n2_ip)),
        ("service_network_interface", str(n2_nic)),
    ]
    # Nothing stands for N2 in the upstream tables, live or soft-deleted.
    assert row_by_id(crdb_engine, "external_ip", n2_ip) is None
    assert row_by_id(crdb_engine, "network_interface", n2_nic) is None

    before = snapshot(crdb_engine)
    again = Executor(crdb_engine).execute()
    assert again.succeeded, again.error
    details = again.steps[0].details
    assert details["repairs"] == []
    for table in ("external_ips", "nics"):
        assert details[table]["not_found"] == 1
        assert details[table]["created"] == 0
    assert snapshot(crdb_engine) == before


def test_sim_on_cockroachdb(crdb_engine: Engine) -> None:
    from reconfigurator.sim.expunge_race import run_expunge_race

    result = run_expunge_race(crdb_engine, seed=1, sleds=3, disks_per_sled=4)
    assert result.converged


def test_a_large_blueprint_is_stored_as_rows_in_small_messages(crdb_engine: Engine) -> None:
    from reconfigurator.db.blueprint_store import get_blueprint, insert_blueprint
    from reconfigurator.sim.scale import scaled_state
    from reconfigurator.testing import messages_sent

    blueprint = scaled_state(3000, seed=4).blueprint
    with messages_sent(crdb_engine) as messages:
        run_transaction(crdb_engine, lambda conn: insert_blueprint(conn, blueprint))
    assert max(m.length for m in messages) <= 64 * 1024
    stored = run_transaction(crdb_engine, lambda conn: get_blueprint(conn, blueprint.id))
    assert stored.to_json() == blueprint.to_json()


def test_read_only_audit_on_cockroachdb(crdb_engine: Engine) -> None:
    from reconfigurator.audit import FindingKind, audit_read_only

    race = build_race(crdb_engine)
    make_target(crdb_engine, race.a)
    assert Executor(crdb_engine).execute().succeeded
    make_target(crdb_engine, race.b)
    make_target(crdb_engine, race.c)
    before = snapshot(crdb_engine)
    report = audit_read_only(crdb_engine)
    assert {f.zone_id for f in report.by_kind(FindingKind.NEVER_CREATED)} == {race.n2}
    assert snapshot(crdb_engine) == before
