"""The audit names what blocks the executor, and agrees with the executor on every state."""

from __future__ import annotations

import json
import random
import uuid

import pytest
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine

from reconfigurator.audit import FindingKind, audit, audit_read_only
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.cli.main import run
from reconfigurator.db.schema import external_ip_table, network_interface_table
from reconfigurator.errors import ConflictKind, ExternalNetworkingConflict, RecordNotFound
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from reconfigurator.networking.policy import MissingRowPolicy
from tests.blueprint_builder import RackBuilder
from tests.db_support import make_target, seed_service_range, snapshot
from tests.race import Race, build_race, networking_ids
from tests.rows import NOW, external_ip_row, nic_row


@pytest.fixture
def stuck(engine: Engine) -> Race:
    race = build_race(engine)
    make_target(engine, race.a)
    assert Executor(engine).execute().succeeded
    make_target(engine, race.b)
    make_target(engine, race.c)
    return race


def test_audit_names_the_never_created_zone(engine: Engine, stuck: Race) -> None:
    report = audit(engine, stuck.c)
    never = report.by_kind(FindingKind.NEVER_CREATED)
    n2_ip, n2_nic = networking_ids(stuck.n2, stuck)
    n2_rows = {
        (stuck.n2, "external_ip", n2_ip),
        (stuck.n2, "service_network_interface", n2_nic),
    }
    assert {(f.zone_id, f.table, f.row_id) for f in never} == n2_rows
    assert all("record the repair" in f.detail and f.conflict_kind is None for f in never)
    assert not report.blocking
    assert {f.zone_id for f in report.by_kind(FindingKind.LIVE_ROW_FOR_EXPUNGED_ZONE)} == {stuck.n1}
    assert {f.zone_id for f in report.by_kind(FindingKind.MISSING_ROW)} == {stuck.n3}

    strict = audit(engine, stuck.c, MissingRowPolicy.FAIL)
    assert strict.blocking
    assert {(f.zone_id, f.kind) for f in strict.findings if f.blocking} == {
        (stuck.n2, FindingKind.NEVER_CREATED)
    }

    assert Executor(engine).execute().succeeded

    # The repair is recorded, yet the rows still do not exist: the audit still names them,
    # as benign under the default policy and as blocking under the old one.
    after = audit(engine, stuck.c)
    assert not after.blocking
    assert {(f.zone_id, f.kind, f.table, f.row_id) for f in after.findings} == {
        (zone, FindingKind.NEVER_CREATED, table, row) for zone, table, row in n2_rows
    }
    assert all("the repair is recorded" in f.detail for f in after.findings)
    strict_after = audit(engine, stuck.c, MissingRowPolicy.FAIL)
    assert strict_after.blocking
    assert {(f.zone_id, f.table, f.row_id) for f in strict_after.findings if f.blocking} == (
        n2_rows
    )


def test_cli_audit(
    engine: Engine, stuck: Race, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    assert run(["audit", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"blueprint_id", "findings", "blocking"}
    assert data["blocking"] is False
    assert {f["kind"] for f in data["findings"]} == {
        "never_created",
        "live_row_for_expunged_zone",
        "missing_row",
    }
    for finding in data["findings"]:
        assert set(finding) >= {
            "zone_id",
            "kind",
            "table",
            "row_id",
            "detail",
            "blocking",
            "owner",
            "conflict_kind",
        }
        assert finding["conflict_kind"] is None

    assert run(["audit", "--missing-rows", "fail"]) == 1
    out = capsys.readouterr().out
    assert "never_created" in out
    assert str(stuck.n2) in out
    assert "blocking: yes" in out


@pytest.fixture
def executed(engine: Engine) -> tuple[RackBuilder, Blueprint]:
    seed_service_range(engine)
    rack = RackBuilder(seed=31)
    sled = rack.add_sled(disks=3)
    for i, kind in enumerate(("nexus", "external_dns", "boundary_ntp")):
        rack.add_zone(sled, kind, pool=sled.pools[i])
    blueprint = rack.build()
    make_target(engine, blueprint)
    assert Executor(engine).execute().succeeded
    return rack, blueprint


def _kinds(engine: Engine, blueprint: Blueprint) -> set[FindingKind]:
    return {f.kind for f in audit(engine, blueprint).findings}


def test_orphan_row(engine: Engine, executed: tuple[RackBuilder, Blueprint]) -> None:
    _rack, blueprint = executed
    stray = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            external_ip_table.insert(), [external_ip_row(parent_id=stray, ip="192.0.2.99")]
        )
    report = audit(engine, blueprint)
    [orphan] = report.findings
    assert orphan.kind is FindingKind.ORPHAN_ROW
    assert orphan.zone_id == stray
    assert not report.blocking


def test_mismatch(engine: Engine, executed: tuple[RackBuilder, Blueprint]) -> None:
    _rack, blueprint = executed
    zone = next(blueprint.in_service_zones())
    assert zone.nic is not None
    with engine.begin() as conn:
        conn.execute(
            update(network_interface_table)
            .where(network_interface_table.c.id == zone.nic.id)
            .values(slot=3)
        )
    report = audit(engine, blueprint)
    [mismatch] = report.findings
    assert (mismatch.kind, mismatch.zone_id, mismatch.row_id, mismatch.conflict_kind) == (
        FindingKind.MISMATCH,
        zone.id,
        zone.nic.id,
        ConflictKind.ROW_MISMATCH,
    )
    assert "slot 3" in mismatch.detail
    assert mismatch.to_json()["conflict_kind"] == "row_mismatch"
    assert report.blocking


def test_nic_differs(engine: Engine, executed: tuple[RackBuilder, Blueprint]) -> None:
    """A live NIC of the zone equal on addresses, MAC, slot and primary flag but with another
    id is accepted, as upstream accepts it: reported, never blocking, and the executor
    agrees."""
    _rack, blueprint = executed
    zone = next(blueprint.in_service_zones())
    assert zone.nic is not None
    other_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            update(network_interface_table)
            .where(network_interface_table.c.id == zone.nic.id)
            .values(id=other_id)
        )
    report = audit(engine, blueprint)
    [differs] = report.findings
    assert (differs.kind, differs.zone_id, differs.table, differs.row_id) == (
        FindingKind.NIC_DIFFERS,
        zone.id,
        "service_network_interface",
        other_id,
    )
    assert f"row id {other_id}" in differs.detail
    assert not differs.blocking and not report.blocking
    assert differs.to_json()["kind"] == "nic_differs"

    before = snapshot(engine)
    run_report = Executor(engine).execute()
    assert run_report.succeeded, run_report.error
    [warning] = run_report.step(EXTERNAL_NETWORKING_STEP).details["warnings"]
    assert (warning["zone_id"], warning["row_id"]) == (str(zone.id), str(other_id))
    assert snapshot(engine) == before


def test_conflict_names_owner(engine: Engine, executed: tuple[RackBuilder, Blueprint]) -> None:
    rack, _ = executed
    squatter = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            network_interface_table.insert(),
            [nic_row(parent_id=squatter, ip="172.30.2.77", mac=0xA840_25FF_7777)],
        )
    sled = rack.add_sled(disks=1)
    zone = rack.add_zone(sled, "nexus", nic_ip="172.30.2.77")
    child = rack.build()
    report = audit(engine, child)
    conflicts = report.by_kind(FindingKind.CONFLICT)
    assert [(c.zone_id, c.owner, c.conflict_kind) for c in conflicts] == [
        (zone, squatter, ConflictKind.NIC_IP_HELD)
    ]
    assert conflicts[0].to_json()["conflict_kind"] == "nic_ip_held"
    assert report.blocking


MUTATIONS = ("delete", "soft_delete", "squat_ip", "squat_nic", "orphan", "change_ip", "none")


def _mutate(engine: Engine, blueprint: Blueprint, rng: random.Random) -> None:
    zones = [z for z in blueprint.all_zones() if z.external_ip is not None and z.nic is not None]
    with engine.begin() as conn:
        for _ in range(rng.randint(0, 3)):
            zone = rng.choice(zones)
            assert zone.external_ip is not None and zone.nic is not None
            table, row_id = rng.choice(
                [
                    (external_ip_table, zone.external_ip.id),
                    (network_interface_table, zone.nic.id),
                ]
            )
            action = rng.choice(MUTATIONS)
            if action == "delete":
                conn.execute(delete(table).where(table.c.id == row_id))
            elif action == "soft_delete":
                conn.execute(update(table).where(table.c.id == row_id).values(time_deleted=NOW))
            elif action == "squat_ip":
                conn.execute(
                    delete(external_ip_table).where(
                        external_ip_table.c.ip == str(zone.external_ip.ip)
                    )
                )
                conn.execute(
                    external_ip_table.insert(),
                    [
                        external_ip_row(
                            parent_id=uuid.uuid4(),
                            ip=str(zone.external_ip.ip),
                            kind="floating",
                            first_port=0,
                            last_port=65535,
                        )
                    ],
                )
            elif action == "squat_nic":
                conn.execute(
                    delete(network_interface_table).where(
                        network_interface_table.c.ip == str(zone.nic.ip)
                    )
                )
                conn.execute(
                    network_interface_table.insert(),
                    [
                        nic_row(
                            parent_id=uuid.uuid4(),
                            ip=str(zone.nic.ip),
                            mac=0xA840_25FF_F000 + rng.randint(0, 255),
                        )
                    ],
                )
            elif action == "orphan":
                conn.execute(
                    external_ip_table.insert(),
                    [
                        external_ip_row(
                            parent_id=uuid.uuid4(),
                            ip=f"192.0.2.{rng.randint(200, 250)}",
                            first_port=rng.randint(0, 3) * 16384,
                            last_port=65535,
                        )
                    ],
                )
            elif action == "change_ip":
                conn.execute(
                    update(external_ip_table)
                    .where(external_ip_table.c.id == row_id)
                    .values(ip="192.0.2.251")
                )


def test_audit_predicts_the_executor(engine: Engine) -> None:
    """Over many generated states: audit says blocking ⇔ the executor fails, with the same
    zones; and when it does not block, after the run the audit has nothing left to say."""
    seed_service_range(engine)
    rng = random.Random(2026)
    rack = RackBuilder(seed=77)
    sleds = [rack.add_sled(disks=3) for _ in range(2)]
    for sled in sleds:
        for i, kind in enumerate(("nexus", "external_dns", "boundary_ntp")):
            rack.add_zone(sled, kind, pool=sled.pools[i])
    previous = rack.build()
    make_target(engine, previous)
    assert Executor(engine).execute().succeeded
    outcomes: dict[str, int] = {"blocked": 0, "clean": 0}
    for _trial in range(40):
        # Evolve the blueprint a little: expunge a zone, add one; sometimes skip executing.
        in_service = [z.id for z in previous.in_service_zones()]
        if len(in_service) > 3 and rng.random() < 0.5:
            rack.expunge_zone(rng.choice(in_service))
        if rng.random() < 0.5:
            sled = rng.choice(sleds)
            rack.add_zone(
                sled,
                rng.choice(("nexus", "external_dns", "boundary_ntp")),
                pool=rng.choice(sled.pools),
            )
        blueprint = rack.build()
        make_target(engine, blueprint)
        _mutate(engine, blueprint, rng)
        policy = rng.choice(list(MissingRowPolicy))
        predicted = audit(engine, blueprint, policy)
        # Reading the blueprint's expunged zones in the database (as the executor does) and
        # sending them from the blueprint in hand give the same answer.
        assert audit_read_only(engine, blueprint.id, policy).to_json() == predicted.to_json()
        report = Executor(engine, missing_rows=policy).execute()
        assert predicted.blocking == (not report.succeeded), (predicted.to_json(), report.error)
        if report.succeeded:
            outcomes["clean"] += 1
            # What is left is benign: rows nobody in service owns, and, under the default
            # policy, never-created rows (their repair now recorded).
            leftover = audit(engine, blueprint, policy)
            assert not leftover.blocking
            benign = {FindingKind.ORPHAN_ROW}
            if policy is MissingRowPolicy.TREAT_AS_DELETED:
                benign.add(FindingKind.NEVER_CREATED)
            assert {f.kind for f in leftover.findings} <= benign
            assert all(
                "the repair is recorded" in f.detail
                for f in leftover.by_kind(FindingKind.NEVER_CREATED)
            )
        else:
            outcomes["blocked"] += 1
            blocking = [f for f in predicted.findings if f.blocking]
            blocking_zones = {f.zone_id for f in blocking}
            error = report.exception
            if isinstance(error, ExternalNetworkingConflict):
                assert {(c.zone_id, c.kind) for c in error.conflicts} == {
                    (f.zone_id, f.conflict_kind) for f in blocking
                }
            else:
                assert isinstance(error, RecordNotFound)
                assert error.zone_id in blocking_zones
            # Repair the database so the chain can go on: drop everything the blueprint's
            # zones touch and let the next run recreate it.
            with engine.begin() as conn:
                conn.execute(delete(external_ip_table))
                conn.execute(delete(network_interface_table))
            repaired = Executor(engine).execute()
            assert repaired.succeeded, repaired.error
        previous = blueprint
    assert outcomes["blocked"] >= 5
    assert outcomes["clean"] >= 5
