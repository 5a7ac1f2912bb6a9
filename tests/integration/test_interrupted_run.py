"""An executor process killed in the middle of a run (SIGKILL: nothing of it runs after) leaves
its `bp_execution` row `running`. Once its heartbeat is older than the staleness bound,
`recon status` says the run was interrupted; the next run marks it so and converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from reconfigurator.db.schema import ExecutionOutcome
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from tests.blueprint_builder import RackBuilder
from tests.cli_runner import recon
from tests.db_support import make_target, seed_service_range, snapshot

#: An executor with one more step that never ends; it says when it got there.
EXECUTOR_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reconfigurator.db.engine import make_engine
    from reconfigurator.executor import Executor

    executor = Executor(make_engine(sys.argv[1]), heartbeat_interval_s=0.2, stale_after_s=1.0)

    @executor.step("Wait for ever", fatal=False)
    def wait(ctx):
        Path(sys.argv[2]).write_text(str(ctx.execution_id))
        time.sleep(600)

    executor.execute()
    """
)

STALE_AFTER_S = 1.5


def _status(env: dict[str, str]) -> str:
    result = recon("status", "--stale-after", str(STALE_AFTER_S), env=env)
    assert result.code == 0, result.stderr
    return result.stdout


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_run_is_reported_interrupted_and_the_next_run_converges(
    engine: Engine, tmp_path: Path
) -> None:
    seed_service_range(engine)
    rack = RackBuilder(seed=9)
    sled = rack.add_sled(disks=3)
    for i, kind in enumerate(("nexus", "external_dns", "boundary_ntp")):
        rack.add_zone(sled, kind, pool=sled.pools[i])
    make_target(engine, rack.build())
    url = engine.url.render_as_string(hide_password=False)
    env = {"RECON_DATABASE_URL": url}

    marker = tmp_path / "reached"
    script = tmp_path / "executor.py"
    script.write_text(EXECUTOR_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), url, str(marker)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("RECON_")},
    )
    try:
        _wait_for(marker.exists, 60, "the executor to reach its last step")
        killed_id = marker.read_text()
        # Alive, and renewing its heartbeat for longer than the bound: still running.
        time.sleep(STALE_AFTER_S + 0.5)
        assert "status:           running" in _status(env)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    _wait_for(
        lambda: "status:           interrupted" in _status(env),
        timeout=30,
        what="recon status to report the run interrupted",
    )
    status = _status(env)
    assert "not yet marked" in status
    assert "(interrupted)" in status
    with engine.connect() as conn:
        outcome = conn.execute(
            text("SELECT outcome FROM bp_execution WHERE id = :id"), {"id": killed_id}
        ).scalar()
    assert outcome == ExecutionOutcome.RUNNING  # reading the status writes nothing

    # The killed run's step 1 had committed: the next run finds everything done.
    before = snapshot(engine)
    report = Executor(engine, heartbeat_interval_s=0.2, stale_after_s=STALE_AFTER_S).execute()
    assert report.succeeded, report.error
    details = report.step(EXTERNAL_NETWORKING_STEP).details
    assert details["external_ips"]["created"] == details["nics"]["created"] == 0
    assert snapshot(engine) == before
    with engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT outcome, time_interrupted, time_finished FROM bp_execution WHERE id = :id"
            ),
            {"id": killed_id},
        ).one()
    assert killed.outcome == ExecutionOutcome.INTERRUPTED
    assert killed.time_interrupted is not None
    assert killed.time_finished is None
    assert "status:           completed (1 step)" in _status(env)
