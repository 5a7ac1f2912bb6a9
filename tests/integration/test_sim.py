"""The disk-expungement race, replayed end to end by the planner and the executor."""

from __future__ import annotations

import json
import time
from pathlib import Path
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.engine import Engine

from reconfigurator.audit import FindingKind, audit
from reconfigurator.db.blueprint_store import get_blueprint
from reconfigurator.db.schema import bp_execution_table, external_networking_repair_table
from reconfigurator.db.targets import current_target
from reconfigurator.networking.policy import MissingRowPolicy
from reconfigurator.sim.expunge_race import run_expunge_race
from reconfigurator.testing import DatabaseServer, fresh_database
from tests.cli_runner import data_dir_env, recon

SIXTY_SECONDS = 60.0


def test_default_policy_converges(engine: Engine) -> None:
    result = run_expunge_race(engine, seed=0)
    assert result.converged
    assert result.stuck_on_zone is None
    skipped = [e for e in result.timeline if e.executor == "not run"]
    assert skipped, "the race must include a plan the executor did not get to run"
    assert all(e.note and "landed on the next disk" in e.note for e in skipped)
    assert result.never_executed_zones
    final = result.timeline[-1]
    assert final.executor == "completed"
    # Both rows of every never-executed zone were repaired in the run that converged.
    assert final.repairs == 2 * len(result.never_executed_zones)
    with engine.connect() as conn:
        target = current_target(conn)
        assert target is not None
        blueprint = get_blueprint(conn, target.blueprint_id)
    never = set(result.never_executed_zones)
    never_created: set[tuple[UUID, str, UUID]] = set()
    for zone_id in never:
        zone = blueprint.zone(zone_id)
        assert zone is not None and zone.is_expunged
        assert zone.external_ip is not None and zone.nic is not None
        never_created |= {
            (zone_id, "external_ip", zone.external_ip.id),
            (zone_id, "service_network_interface", zone.nic.id),
        }
    # What is left is benign and known: the never-created rows, each with its repair recorded.
    report = audit(engine, blueprint)
    assert not report.blocking
    assert {f.kind for f in report.findings} == {FindingKind.NEVER_CREATED}
    assert {(f.zone_id, f.table, f.row_id) for f in report.findings} == never_created
    assert all("the repair is recorded" in f.detail for f in report.findings)
    with engine.connect() as conn:
        recorded = conn.execute(
            select(
                external_networking_repair_table.c.zone_id,
                external_networking_repair_table.c.table_name,
                external_networking_repair_table.c.row_id,
            )
        ).all()
    assert sorted(map(tuple, recorded)) == sorted(never_created)


def test_old_policy_gets_stuck_on_one_zone(engine: Engine) -> None:
    result = run_expunge_race(engine, seed=0, missing_rows=MissingRowPolicy.FAIL, stuck_runs=4)
    assert not result.converged
    assert result.stuck_on_zone is not None
    assert result.stuck_on_zone in result.never_executed_zones
    failures = [e for e in result.timeline if e.executor == "failed"]
    assert len(failures) >= 5
    assert all(str(result.stuck_on_zone) in (e.execution_error or "") for e in failures)
    with engine.connect() as conn:
        errors = list(
            conn.execute(
                select(bp_execution_table.c.error).where(bp_execution_table.c.outcome == "failed")
            ).scalars()
        )
    assert len(errors) == len(failures)
    assert all("Record not found" in e and str(result.stuck_on_zone) in e for e in errors)


def test_same_seed_same_race(db_server: DatabaseServer) -> None:
    runs = []
    for _ in range(2):
        with fresh_database(db_server) as engine:
            result = run_expunge_race(engine, seed=42, sleds=4, disks_per_sled=5)
            runs.append(
                [(e.blueprint_id, [z.zone_id for z in e.zones_added]) for e in result.timeline]
            )
    assert runs[0] == runs[1]


def test_cli_sim_both_modes_on_a_fresh_data_dir(data_dir: Path) -> None:
    env = data_dir_env(data_dir)
    for mode, converged in (("treat-as-deleted", True), ("fail", False)):
        began = time.monotonic()
        result = recon("sim", "expunge-race", "--missing-rows", mode, "--json", env=env)
        elapsed = time.monotonic() - began
        assert result.code == 0, result.stderr
        assert elapsed < SIXTY_SECONDS
        data = json.loads(result.stdout)
        assert data["converged"] is converged
        assert data["missing_rows"] == mode
        assert (data["stuck_on_zone"] is None) is converged


def test_cli_sim_renders_timeline_and_status(data_dir: Path) -> None:
    result = recon("sim", "expunge-race", "--missing-rows", "fail", env=data_dir_env(data_dir))
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "disk-expungement race" in out
    assert "landed on the next disk" in out
    assert "the executor is stuck: every run fails on zone" in out
    assert "status:           failed at: Ensure external networking resources (step 1/1)" in out
    assert "caused by:      Record not found" in out


def test_demo_within_a_minute() -> None:
    began = time.monotonic()
    result = recon("demo")
    assert time.monotonic() - began < SIXTY_SECONDS
    assert result.code == 0, result.stderr
    assert "the executor converged" in result.stdout
    assert "status:           completed (1 step)" in result.stdout
    assert "Traceback" not in result.stderr
