"""`recon execute` and `recon status` on the stuck state, in-process."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine

from reconfigurator.cli.main import run
from reconfigurator.executor import Executor
from tests.db_support import make_target
from tests.race import Race, build_race, networking_ids

COUNT_KEYS = {"soft_deleted", "already_soft_deleted", "not_found", "created", "unchanged"}
STEP_KEYS = {"name", "outcome", "external_ips", "nics", "repairs", "warnings", "duration_s"}
REPAIR_KEYS = {"zone_id", "table", "row_id", "result"}


@pytest.fixture
def stuck(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Race:
    monkeypatch.setenv("RECON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    race = build_race(engine)
    make_target(engine, race.a)
    assert Executor(engine).execute().succeeded
    make_target(engine, race.b)
    make_target(engine, race.c)
    return race


def test_stuck_runs_and_status(stuck: Race, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):
        assert run(["execute", "--missing-rows", "fail"]) == 1
    capsys.readouterr()
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert f"target:           {stuck.c.id} (version 3," in lines[0]
    assert "execution:        enabled" in out
    assert "status:           failed at: Ensure external networking resources (step 1/1)" in out
    assert "error:            step failed: Ensure external networking resources" in out
    caused = [line for line in lines if line.startswith("  caused by:")]
    assert len(caused) == 1
    assert "Record not found" in caused[0]
    assert str(stuck.n2) in caused[0]


def test_execute_json_contract(stuck: Race, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["execute", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"blueprint_id", "outcome", "failed_step", "error", "steps"} <= set(data)
    assert data["blueprint_id"] == str(stuck.c.id)
    assert data["outcome"] == "completed"
    assert data["failed_step"] is None
    assert data["error"] is None
    [step] = data["steps"]
    assert set(step) >= STEP_KEYS
    assert step["name"] == "Ensure external networking resources"
    assert step["outcome"] == "completed"
    assert set(step["external_ips"]) == COUNT_KEYS
    assert set(step["nics"]) == COUNT_KEYS
    assert step["external_ips"]["not_found"] == step["nics"]["not_found"] == 1
    assert isinstance(step["duration_s"], float)
    assert step["warnings"] == []
    ip_row, nic_row = networking_ids(stuck.n2, stuck)
    for repair in step["repairs"]:
        assert set(repair) >= REPAIR_KEYS
    assert [{key: r[key] for key in REPAIR_KEYS} for r in step["repairs"]] == [
        {
            "zone_id": str(stuck.n2),
            "table": "external_ip",
            "row_id": str(ip_row),
            "result": "not_found",
        },
        {
            "zone_id": str(stuck.n2),
            "table": "service_network_interface",
            "row_id": str(nic_row),
            "result": "not_found",
        },
    ]

    assert run(["status"]) == 0
    out = capsys.readouterr().out
    assert "status:           completed (1 step)" in out
    assert "never created:    2 row(s) of expunged zones" in out
    assert "2 repair(s) first met by this run" in out

    # The next run counts the same rows without listing them again.
    assert run(["execute", "--json"]) == 0
    [step] = json.loads(capsys.readouterr().out)["steps"]
    assert set(step) >= STEP_KEYS
    assert step["external_ips"]["not_found"] == step["nics"]["not_found"] == 1
    assert step["repairs"] == []
    assert step["warnings"] == []
    assert run(["status"]) == 0
    out = capsys.readouterr().out
    assert "never created:    2 row(s) of expunged zones" in out
    assert "0 repair(s) first met by this run" in out


def test_execute_text_lists_repairs(stuck: Race, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["execute"]) == 0
    out = capsys.readouterr().out
    ip_row, nic_row = networking_ids(stuck.n2, stuck)
    repairs = [line.strip() for line in out.splitlines() if line.strip().startswith("repair:")]
    assert len(repairs) == 2
    assert f"zone {stuck.n2} external_ip row {ip_row}: not_found" in repairs[0]
    assert f"zone {stuck.n2} service_network_interface row {nic_row}: not_found" in repairs[1]
    assert all("nothing written" in line for line in repairs)


def test_failed_execute_json_exit_1(stuck: Race, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["execute", "--missing-rows", "fail", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "failed"
    assert data["failed_step"] == "Ensure external networking resources"
    assert str(stuck.n2) in data["error"]
    assert data["error_kind"] == "RecordNotFound"


def test_execute_named_blueprint_that_is_not_the_target(
    stuck: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["execute", "--blueprint", str(stuck.b.id)[:8]]) == 1
    out = capsys.readouterr().out
    assert "is not the current target" in out


def test_status_json_without_runs(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    assert run(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"target": None, "last_execution": None}
    assert run(["execute"]) == 1
    assert "no target blueprint has been set" in capsys.readouterr().err
