"""``recon run --http``: a daemon process drives the expungement race; its status, metrics and
probes say what the database says, and SIGTERM stops it cleanly.

The database is an embedded PostgreSQL of this module only, so it can be stopped (fast
shutdown) and started again under the running daemon.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import get_blueprint
from reconfigurator.db.embedded import EmbeddedPostgres
from reconfigurator.db.engine import make_engine
from reconfigurator.db.executions import last_execution
from reconfigurator.db.rack import add_sled, expunge_disk
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.service_pools import add_pool_range
from reconfigurator.db.targets import Target, current_target, set_target_enabled
from reconfigurator.testing import DatabaseServer
from tests.cli_runner import recon

DEADLINE_S = 60.0
SHUTDOWN_GRACE_S = 5.0
TABLES = (("external_ip", "external_ips"), ("service_network_interface", "nics"))
SERVING = re.compile(r"serving status and metrics on http://127\.0\.0\.1:(\d+)")


class RestartableDatabase:
    """An embedded PostgreSQL that only this module uses, so tests may stop and start it."""

    def __init__(self, directory: Path) -> None:
        self.embedded = EmbeddedPostgres(directory, persistent=False)
        self.embedded.start()
        self.server = DatabaseServer(self.embedded.server_url(), "restartable embedded server")

    def stop(self) -> None:
        self.embedded.stop()

    def start(self) -> None:
        self.embedded.start()


@pytest.fixture(scope="module")
def restartable() -> Iterator[RestartableDatabase]:
    scratch = Path(tempfile.mkdtemp(prefix="recon-daemon-pg-"))
    database = RestartableDatabase(scratch)
    try:
        yield database
    finally:
        database.start()  # a failed test may have left it stopped
        database.server.close()
        database.embedded.destroy()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def daemon_engine(restartable: RestartableDatabase) -> Iterator[Engine]:
    url = restartable.server.create_database()
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        restartable.start()
        restartable.server.drop_database(url)


class DaemonProcess:
    """``recon run`` in a subprocess; its stderr is read as it comes (so the pipe never
    fills) and the HTTP port it reports is parsed."""

    def __init__(self, engine: Engine, *args: str, global_args: tuple[str, ...] = ()) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
        env["RECON_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconfigurator", *global_args, "run", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = self._wait_for_port()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = SERVING.search(line)
                if found:
                    return int(found.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("the daemon did not report its port:\n" + self.stderr)

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def status(self) -> dict[str, Any]:
        code, body = self.get("/status")
        assert code == 200, body
        return dict(json.loads(body))

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        code, body = self.get("/metrics")
        assert code == 200, body
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }

    def terminate(self, timeout_s: float) -> float:
        """SIGTERM; seconds until the process exited."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout=5)
        return time.monotonic() - began

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _wait_for(condition: Callable[[], bool], what: str, daemon: DaemonProcess) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; daemon stderr:\n{daemon.stderr[-4000:]}")


def _target(engine: Engine) -> Target:
    with engine.connect() as conn:
        target = current_target(conn)
    assert target is not None
    return target


def _blueprint(engine: Engine, blueprint_id: UUID) -> Blueprint:
    with engine.connect() as conn:
        return get_blueprint(conn, blueprint_id)


def _realized(engine: Engine) -> bool:
    """The last execution ran the current target and completed."""
    with engine.connect() as conn:
        target = current_target(conn)
        last = last_execution(conn)
    return (
        target is not None
        and target.enabled
        and last is not None
        and last.blueprint_id == target.blueprint_id
        and last.outcome.value == "completed"
    )


def _nexus_ids(blueprint: Blueprint) -> set[UUID]:
    return {z.id for z in blueprint.in_service_zones() if z.kind.value == "nexus"}


def _planned_without(engine: Engine, zone: UUID) -> Blueprint | None:
    """The target, once the planner has expunged ``zone`` in it."""
    blueprint = _blueprint(engine, _target(engine).blueprint_id)
    found = blueprint.zone(zone)
    return blueprint if found is not None and found.is_expunged else None


def _disable(engine: Engine, enabled: bool) -> None:
    run_transaction(engine, lambda conn: set_target_enabled(conn, enabled))


def _executions(engine: Engine) -> list[tuple[str, dict[str, Any] | None]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT outcome::text, report FROM bp_execution")).all()
    return [(row[0], row[1]) for row in rows]


def _total(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(value for (sample, _labels), value in metrics.items() if sample == name)


def _sample(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return metrics[(name, tuple(sorted(labels.items())))]


def test_the_daemon_serves_what_the_database_says(
    restartable: RestartableDatabase, daemon_engine: Engine
) -> None:
    engine = daemon_engine

    def rack(conn: Any) -> None:
        add_pool_range(conn, "192.0.2.1", "192.0.2.40")
        for _ in range(3):
            add_sled(conn, disks=4)

    run_transaction(engine, rack)
    daemon = DaemonProcess(
        engine,
        "--http",
        "127.0.0.1:0",
        "--plan-interval",
        "0.2",
        "--execute-interval",
        "0.2",
        "--shutdown-grace",
        str(SHUTDOWN_GRACE_S),
    )
    try:
        _wait_for(lambda: _realized(engine), "the first target to be realized", daemon)
        assert daemon.get("/healthz")[0] == 200
        assert daemon.get("/readyz")[0] == 200

        # The race, through the daemon: with execution disabled the planner replaces a Nexus
        # onto a disk that is expunged next, and plans again before any run.
        _disable(engine, False)
        first = _blueprint(engine, _target(engine).blueprint_id)
        n1 = next(z for z in first.in_service_zones() if z.kind.value == "nexus")
        run_transaction(engine, lambda conn: expunge_disk(conn, n1.filesystem_pool))
        _wait_for(lambda: _planned_without(engine, n1.id) is not None, "N1 replaced", daemon)
        second = _planned_without(engine, n1.id)
        assert second is not None
        [n2_id] = _nexus_ids(second) - _nexus_ids(first)
        n2 = second.zone(n2_id)
        assert n2 is not None
        run_transaction(engine, lambda conn: expunge_disk(conn, n2.filesystem_pool))
        _wait_for(lambda: _planned_without(engine, n2_id) is not None, "N2 replaced", daemon)
        with engine.connect() as conn:
            assert last_execution(conn) is not None
            assert (
                conn.execute(text("SELECT count(*) FROM external_networking_repair")).scalar() == 0
            )

        _disable(engine, True)
        _wait_for(lambda: _realized(engine), "the race's target to be realized", daemon)

        # Freeze: with execution disabled no run starts, so counts stop moving.
        _disable(engine, False)
        frozen_version = _target(engine).version

        def executor_saw_disabled() -> bool:
            loops = daemon.status()["loops"]
            last = loops["executor"]["last_activation"]
            target = daemon.status()["target"]
            return (
                last is not None
                and last["outcome"] == "disabled"
                and target is not None
                and target["version"] == frozen_version
            )

        _wait_for(executor_saw_disabled, "the executor loop to see the disabled target", daemon)

        status = daemon.status()
        executions = _executions(engine)
        repairs_in_db = [
            repair
            for _outcome, report in executions
            for step in (report or {}).get("steps", [])
            for repair in step.get("repairs", [])
        ]
        with engine.connect() as conn:
            recorded = conn.execute(
                text("SELECT zone_id, table_name FROM external_networking_repair")
            ).all()
        # Never created: zones with external networking that only the intermediate blueprint
        # had in service (N2, and whatever else the planner moved onto N2's disk).
        final = _blueprint(engine, _target(engine).blueprint_id)
        never_created = {
            z.id
            for z in second.in_service_zones()
            if z.external_ip is not None
            and first.zone(z.id) is None
            and (gone := final.zone(z.id)) is not None
            and gone.is_expunged
        }
        assert n2_id in never_created
        assert {UUID(r["zone_id"]) for r in repairs_in_db} == never_created
        assert {row.zone_id for row in recorded} == never_created
        assert len(repairs_in_db) == len(recorded) == 2 * len(never_created)

        # /status: target, loops, the last execution and the repairs it met.
        assert status["version"]
        assert status["uptime_s"] > 0
        assert status["loops_running"] is True
        assert status["target"]["version"] == frozen_version
        assert status["target"]["enabled"] is False
        planner = status["loops"]["planner"]
        assert planner["activations"] >= 3
        assert planner["last_activation"]["outcome"] in {"unchanged", "new_target"}
        last = status["last_execution"]
        with engine.connect() as conn:
            record = last_execution(conn)
        assert record is not None
        assert last["execution_id"] == str(record.id)
        assert last["outcome"] == record.outcome.value
        assert last["failed_step"] == record.failed_step
        if record.outcome.value == "completed":
            assert last["status"] == "completed (1 step)"
            assert last["error_chain"] == []
            assert last["never_created"] == 2 * len(never_created)
        else:  # a run that began just before the target was disabled, refused inside
            assert last["status"].startswith("failed at: Ensure external networking resources")
            assert last["error_chain"][0] == "step failed: Ensure external networking resources"
        assert {(r["zone_id"], r["table"]) for r in status["last_repairs"]["repairs"]} == {
            (str(zone), table) for zone in never_created for table, _key in TABLES
        }

        # /metrics: the counters match the bp_execution rows.
        metrics = daemon.metrics()
        by_outcome = {o: sum(1 for x, _ in executions if x == o) for o in ("completed", "failed")}
        assert "running" not in {x for x, _ in executions}
        for outcome, count in by_outcome.items():
            assert _sample(metrics, "recon_executions_total", outcome=outcome) == count
        assert by_outcome["completed"] >= 2  # the first target and the race's
        assert _total(metrics, "recon_repairs_total") == len(repairs_in_db)
        assert _sample(metrics, "recon_repairs_total", table="external_ip") == len(never_created)
        for result in ("created", "soft_deleted", "not_found"):
            for table, key in (
                ("external_ip", "external_ips"),
                ("service_network_interface", "nics"),
            ):
                in_db = sum(
                    step.get(key, {}).get(result, 0)
                    for _outcome, report in executions
                    for step in (report or {}).get("steps", [])
                )
                sample = _sample(metrics, "recon_networking_rows_total", table=table, result=result)
                assert sample == in_db, (table, result)
                if result == "not_found":
                    assert in_db >= 1  # N2's row, in the repairing run and every run after it
        executor_runs = sum(
            _sample(metrics, "recon_activations_total", loop="executor", outcome=o)
            for o in ("completed", "failed")
        )
        assert executor_runs == len(executions)
        assert _sample(metrics, "recon_target_version") == frozen_version
        since = _sample(metrics, "recon_seconds_since_last_successful_execution")
        assert not math.isnan(since) and 0 <= since < DEADLINE_S
        step = "Ensure external networking resources"
        assert _sample(metrics, "recon_step_duration_seconds_count", step=step) == len(executions)

        # /readyz follows the database; /healthz the loops, which survive the outage.
        restartable.stop()
        try:
            code, body = daemon.get("/readyz")
            assert code == 503, body
            assert json.loads(body)["status"] == "unavailable"
            assert daemon.get("/healthz")[0] == 200
        finally:
            restartable.start()
        _wait_for(lambda: daemon.get("/readyz")[0] == 200, "/readyz to recover", daemon)
        assert daemon.get("/healthz")[0] == 200
        assert daemon.get("/nowhere")[0] == 404

        took = daemon.terminate(timeout_s=SHUTDOWN_GRACE_S + 15)
    finally:
        daemon.kill()
    assert daemon.proc.returncode == 0, daemon.stderr
    assert took < SHUTDOWN_GRACE_S + 10
    stderr = daemon.stderr
    assert "Traceback" not in stderr
    assert stderr.index("HTTP server closed") < stderr.index("background tasks stopped")


def test_sigterm_mid_activation_exits_in_bounded_time_and_the_run_rolls_back(
    daemon_engine: Engine,
) -> None:
    """An activation stuck inside its transaction (a row it must write is locked) does not
    hold the daemon past its grace period, and nothing of that run's transaction remains."""
    engine = daemon_engine
    grace_s = 1.0

    def rack(conn: Any) -> None:
        add_pool_range(conn, "192.0.2.1", "192.0.2.40")
        for _ in range(3):
            add_sled(conn, disks=4)

    run_transaction(engine, rack)
    daemon = DaemonProcess(
        engine,
        "--http",
        "127.0.0.1:0",
        "--plan-interval",
        "0.2",
        "--execute-interval",
        "0.2",
        "--shutdown-grace",
        str(grace_s),
        global_args=("--log-format", "json"),
    )
    blocker = engine.connect()
    try:
        _wait_for(lambda: _realized(engine), "the first target to be realized", daemon)
        first = _blueprint(engine, _target(engine).blueprint_id)
        n1 = next(z for z in first.in_service_zones() if z.kind.value == "nexus")
        assert n1.external_ip is not None and n1.nic is not None
        # The step soft-deletes the external IP, then the NIC: hold the NIC's row so the run
        # stops half-way through its writes.
        blocker.begin()
        blocker.execute(
            text("SELECT 1 FROM network_interface WHERE id = :id FOR UPDATE"), {"id": n1.nic.id}
        )
        run_transaction(engine, lambda conn: expunge_disk(conn, n1.filesystem_pool))

        def waiting_backend() -> int | None:
            with engine.connect() as conn:
                pid = conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND query LIKE 'UPDATE network_interface%'"
                    )
                ).scalar()
            return int(pid) if pid is not None else None

        _wait_for(lambda: waiting_backend() is not None, "the run to wait on the lock", daemon)
        stuck_pid = waiting_backend()
        assert daemon.status()["loops"]["executor"]["busy"] is True
        took = daemon.terminate(timeout_s=grace_s + 15)
    finally:
        daemon.kill()
        blocker.rollback()
        blocker.close()
    assert daemon.proc.returncode == 0, daemon.stderr
    assert took < grace_s + 5, took
    records = [json.loads(line) for line in daemon.lines]
    messages = [record["message"] for record in records]
    assert any(m.startswith("serving status and metrics on http://") for m in messages)
    assert any("still running after the grace period" in m for m in messages)
    assert "HTTP server closed" in messages
    assert "Traceback" not in daemon.stderr
    # The abandoned run's own records carry its ids.
    runs = [r for r in records if r["logger"] == "reconfigurator.executor"]
    assert runs and all("blueprint_id" in r and "execution_id" in r for r in runs)

    def backend_gone() -> bool:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": stuck_pid}
            ).scalar()
        return found == 0

    _wait_for(backend_gone, "the abandoned run's session to end", daemon)
    # The external IP's soft-delete was part of the abandoned transaction: rolled back.
    with engine.connect() as conn:
        deleted = conn.execute(
            text("SELECT time_deleted FROM external_ip WHERE id = :id"), {"id": n1.external_ip.id}
        ).scalar()
        outcomes = [row[0] for row in conn.execute(text("SELECT outcome::text FROM bp_execution"))]
    assert deleted is None
    assert outcomes.count("running") == 1  # the abandoned run never recorded its end

    # The next run realizes the target.
    env = {"RECON_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    result = recon("execute", env=env)
    assert result.code == 0, result.stderr
    with engine.connect() as conn:
        deleted = conn.execute(
            text("SELECT time_deleted FROM external_ip WHERE id = :id"), {"id": n1.external_ip.id}
        ).scalar()
    assert deleted is not None
