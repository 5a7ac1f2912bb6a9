"""``recon audit --read-only`` on a database made by upstream's own DDL, in the state of the
original incident: the target expunged a Nexus zone whose external IP and vNIC were never
created, beside healthy zones, soft-deleted history and a guest instance's NIC and external
IP. The audit names that zone and its two rows, and changes nothing in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from reconfigurator.audit import FindingKind, audit_read_only
from reconfigurator.blueprint.model import Blueprint, BlueprintZone
from reconfigurator.errors import NoTarget, TablesMissing
from reconfigurator.networking import MissingRowPolicy
from tests import upstream_schema as upstream
from tests.blueprint_builder import EXTERNAL_RANGE, RackBuilder

POOL_ID = uuid.UUID("0e000000-0000-4000-8000-000000000001")
RANGE_ID = uuid.UUID("0e000000-0000-4000-8000-000000000002")
SILO_POOL_ID = uuid.UUID("0e000000-0000-4000-8000-000000000003")
SILO_RANGE_ID = uuid.UUID("0e000000-0000-4000-8000-000000000004")
INSTANCE_ID = uuid.UUID("0e000000-0000-4000-8000-0000000000a0")


@dataclass(frozen=True)
class Incident:
    blueprint: Blueprint
    stuck_nexus: BlueprintZone


def _incident() -> Incident:
    rack = RackBuilder(seed=23)
    sleds = [rack.add_sled(disks=3) for _ in range(3)]
    for sled in sleds:
        rack.add_zone(sled, "nexus")
        rack.add_zone(sled, "internal_ntp")
        rack.add_zone(sled, "crucible")
    rack.add_zone(sleds[0], "external_dns")
    rack.add_zone(sleds[1], "boundary_ntp")
    retired = rack.add_zone(sleds[2], "external_dns")
    rack.expunge_zone(retired)
    rack.build()
    # The race: a Nexus zone planned and expunged again before any executor created its rows.
    stuck = rack.add_zone(sleds[2], "nexus")
    rack.build()
    rack.expunge_zone(stuck)
    target = rack.build(comment="expunge a disk")
    zone = target.zone(stuck)
    assert zone is not None
    return Incident(target, zone)


def _fill(engine: Engine, incident: Incident) -> None:
    blueprint = incident.blueprint
    deleted = upstream.WHEN + timedelta(days=3)
    external_ips: list[dict[str, Any]] = []
    nics: list[dict[str, Any]] = []
    for zone in blueprint.all_zones():
        if zone.networking is None or zone.id == incident.stuck_nexus.id:
            continue
        gone = deleted if zone.is_expunged else None
        external_ips.append(upstream.zone_external_ip(zone, POOL_ID, RANGE_ID, time_deleted=gone))
        nics.append(upstream.zone_nic(zone, time_deleted=gone))
    external_ips.append(
        upstream.instance_ephemeral_ip(INSTANCE_ID, SILO_POOL_ID, SILO_RANGE_ID, "198.51.100.9")
    )
    nics.append(
        upstream.instance_nic(
            INSTANCE_ID,
            vpc_id=uuid.UUID(int=INSTANCE_ID.int + 1),
            subnet_id=uuid.UUID(int=INSTANCE_ID.int + 2),
            ip="172.30.0.5",
            mac=0xA840_25F0_0009,
        )
    )
    with engine.begin() as conn:
        upstream.create_tables(conn)
        upstream.insert(
            conn,
            "ip_pool",
            [
                upstream.ip_pool(POOL_ID, "oxide-service-pool"),
                upstream.ip_pool(SILO_POOL_ID, "default", assignment="silos"),
            ],
        )
        upstream.insert(
            conn,
            "ip_pool_range",
            [
                upstream.ip_pool_range(RANGE_ID, POOL_ID, *EXTERNAL_RANGE, rcgen=len(nics) - 1),
                upstream.ip_pool_range(
                    SILO_RANGE_ID, SILO_POOL_ID, "198.51.100.1", "198.51.100.99"
                ),
            ],
        )
        upstream.insert(conn, "external_ip", external_ips)
        upstream.insert(conn, "network_interface", nics)
        upstream.insert(conn, "blueprint", [upstream.blueprint_row(blueprint)])
        for table, rows in upstream.blueprint_part_rows(blueprint).items():
            upstream.insert(conn, table, rows)
        upstream.insert(conn, "bp_target", [upstream.target_row(1, blueprint.id)])


def _dump(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as text."""
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        ).scalars()
        return {
            table: sorted(conn.execute(text(f"SELECT to_jsonb(t)::text FROM {table} t")).scalars())
            for table in sorted(tables)
        }


def _recon(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "RECON_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "reconfigurator", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def incident(empty_engine: Engine) -> Incident:
    built = _incident()
    _fill(empty_engine, built)
    return built


def test_recon_audit_read_only_names_the_stuck_zone_and_changes_nothing(
    empty_engine: Engine, incident: Incident
) -> None:
    before = _dump(empty_engine)
    assert "alembic_version" not in before  # upstream's DDL only
    stuck = incident.stuck_nexus
    assert stuck.external_ip is not None and stuck.nic is not None

    default = _recon(empty_engine, "audit", "--read-only", "--json")
    assert default.returncode == 0, default.stderr
    report = json.loads(default.stdout)
    assert report["blueprint_id"] == str(incident.blueprint.id)
    assert report["is_current_target"] is True
    assert report["blocking"] is False
    assert {(f["zone_id"], f["kind"], f["table"], f["row_id"]) for f in report["findings"]} == {
        (str(stuck.id), "never_created", "external_ip", str(stuck.external_ip.id)),
        (str(stuck.id), "never_created", "service_network_interface", str(stuck.nic.id)),
    }
    assert not any(f["blocking"] for f in report["findings"])

    failing = _recon(empty_engine, "audit", "--read-only", "--missing-rows", "fail")
    assert failing.returncode == 1, failing.stderr
    assert f"zone {stuck.id}:" in failing.stdout
    assert failing.stdout.count("BLOCKING never_created") == 2
    assert "blocking: yes" in failing.stdout

    assert _dump(empty_engine) == before


def test_the_library_call_gives_the_same_answer(empty_engine: Engine, incident: Incident) -> None:
    report = audit_read_only(empty_engine, missing_rows=MissingRowPolicy.FAIL)
    assert report.blocking
    assert {f.zone_id for f in report.findings} == {incident.stuck_nexus.id}
    assert {f.kind for f in report.findings} == {FindingKind.NEVER_CREATED}
    by_id = audit_read_only(empty_engine, incident.blueprint.id)
    assert not by_id.blocking and len(by_id.findings) == 2


def test_a_database_without_the_tables_gets_one_line_naming_them(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        conn.execute(text("CREATE TABLE bp_target (version INT8 PRIMARY KEY)"))
    with pytest.raises(TablesMissing) as caught:
        audit_read_only(empty_engine)
    assert "bp_omicron_zone" in caught.value.tables
    assert "bp_target" not in caught.value.tables

    result = _recon(empty_engine, "audit", "--read-only")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "lacks the tables" in lines[0], result.stderr
    assert "bp_omicron_zone" in lines[0] and "Traceback" not in result.stderr


def test_a_missing_column_is_named(empty_engine: Engine, incident: Incident) -> None:
    with empty_engine.begin() as conn:
        conn.execute(text("ALTER TABLE bp_omicron_zone DROP COLUMN snat_ip"))
    result = _recon(empty_engine, "audit", "--read-only")
    assert result.returncode == 2
    assert "bp_omicron_zone.snat_ip" in result.stderr


def test_no_target_is_reported(empty_engine: Engine, incident: Incident) -> None:
    with empty_engine.begin() as conn:
        conn.execute(text("DELETE FROM bp_target"))
    with pytest.raises(NoTarget):
        audit_read_only(empty_engine)
