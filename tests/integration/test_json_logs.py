"""``--log-format json``: one JSON object per line, carrying the run's ids."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine

from reconfigurator.executor import Executor
from tests.cli_runner import recon
from tests.db_support import make_target
from tests.race import build_race


def test_every_log_line_of_an_execution_is_json_with_the_run_ids(engine: Engine) -> None:
    race = build_race(engine)
    make_target(engine, race.a)
    assert Executor(engine).execute().succeeded
    make_target(engine, race.b)
    make_target(engine, race.c)  # the replacement Nexus of B was never created: repairs

    url = engine.url.render_as_string(hide_password=False)
    result = recon(
        "--log-format", "json", "-vv", "execute", "--json", env={"RECON_DATABASE_URL": url}
    )
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["steps"][0]["repairs"]

    lines = result.stderr.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == len(lines) >= 3
    for record in records:
        assert {"timestamp", "level", "logger", "message"} <= set(record)
        assert record["blueprint_id"] == str(race.c.id), record
        assert record["execution_id"] == report["execution_id"], record
    messages = [record["message"] for record in records]
    assert "execution completed" in messages
    repaired = [r for r in records if r["message"].startswith("rows of expunged zones")]
    assert repaired and repaired[0]["level"] == "WARNING"
    assert str(race.n2) in repaired[0]["zone_ids"]
    # Per-row debug lines carry the zone as a field of its own.
    assert any(record.get("zone_id") == str(race.n2) for record in records)


def test_the_default_log_format_stays_human(engine: Engine) -> None:
    race = build_race(engine)
    make_target(engine, race.a)
    url = engine.url.render_as_string(hide_password=False)
    result = recon("-v", "execute", env={"RECON_DATABASE_URL": url})
    assert result.code == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if "execution completed" in x)
    assert not line.startswith("{")
    assert f"blueprint_id={race.a.id}" in line
