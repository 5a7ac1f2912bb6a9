"""`recon run` as a separate process: it plans and executes on its own, and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from reconfigurator.audit import audit
from reconfigurator.db.blueprint_store import get_blueprint
from reconfigurator.db.executions import last_execution
from reconfigurator.db.rack import add_sled, expunge_disk
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.service_pools import add_pool_range
from reconfigurator.db.targets import Target, current_target
from tests.db_support import row_by_id, snapshot

DEADLINE_S = 30.0


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {DEADLINE_S}s waiting for {what}")


def _target(engine: Engine) -> Target | None:
    with engine.connect() as conn:
        return current_target(conn)


def _converged(engine: Engine) -> bool:
    with engine.connect() as conn:
        target = current_target(conn)
        last = last_execution(conn)
        if target is None or last is None:
            return False
        if last.blueprint_id != target.blueprint_id or last.outcome.value != "completed":
            return False
        blueprint = get_blueprint(conn, target.blueprint_id)
    return audit(engine, blueprint).findings == []


def test_run_loop_follows_an_expunged_disk(engine: Engine) -> None:
    def rack(conn: object) -> None:
        add_pool_range(conn, "192.0.2.1", "192.0.2.40")  # type: ignore[arg-type]
        for _ in range(3):
            add_sled(conn, disks=4)  # type: ignore[arg-type]

    run_transaction(engine, rack)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env["RECON_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconfigurator",
            "run",
            "--plan-interval",
            "0.3",
            "--execute-interval",
            "0.3",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: _target(engine) is not None and _converged(engine), "the first target")
        first = _target(engine)
        assert first is not None

        with engine.connect() as conn:
            blueprint = get_blueprint(conn, first.blueprint_id)
        nexus = next(z for z in blueprint.in_service_zones() if z.kind.value == "nexus")
        run_transaction(engine, lambda conn: expunge_disk(conn, nexus.filesystem_pool))

        def advanced() -> bool:
            target = _target(engine)
            return target is not None and target.version > first.version and _converged(engine)

        _wait_for(advanced, "the target to advance and the database to match it")
        with engine.connect() as conn:
            target = current_target(conn)
            assert target is not None
            latest = get_blueprint(conn, target.blueprint_id)
        moved = latest.zone(nexus.id)
        assert moved is not None and moved.is_expunged
        assert sum(1 for z in latest.in_service_zones() if z.kind.value == "nexus") == 3
        # The expunged Nexus's rows were created by an earlier run and are now soft-deleted;
        # every zone's rows were created, so there was nothing to repair.
        assert nexus.external_ip is not None and nexus.nic is not None
        assert row_by_id(engine, "external_ip", nexus.external_ip.id).time_deleted is not None
        assert row_by_id(engine, "network_interface", nexus.nic.id).time_deleted is not None
        assert snapshot(engine)["external_networking_repair"] == []
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _stdout, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, stderr
    assert "planner activation" in stderr
    assert "executor activation" in stderr
    assert "background tasks stopped" in stderr
    assert "Traceback" not in stderr
