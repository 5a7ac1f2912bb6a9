"""Four executor processes and a planner process, at once, on one database.

The executors loop on the current target; the planner expunges disks and sleds (keeping room
for the zone policy), adds sleds, plans and sets new targets — sometimes two in one
transaction, expunging the disk it has just placed a zone on in between (the production race),
so that no executor ever runs the first and its zones' rows are never created. They run for a
bounded time (15 s; 120 s with ``RECON_SOAK=1``) while this process watches the tables.

Proven, at every sample during the run and after it:

* no live address has two owners (external IP with overlapping ports, NIC IP, MAC, slot);
* no row is ever lost, revived after its soft-delete, or changed once soft-deleted;
* a row of an expunged zone that was never created is never written, and the repair record
  lists it at most once and never forgets it;
* every run that failed failed with ``NotCurrentTarget`` or a retryable conflict (any other
  failure is reported with its message);
* no process hung or crashed;
* after the planner stops and one more run: every in-service zone has exactly its target's
  rows live, no expunged zone has a live row, every never-created row of an expunged zone has
  no row and is listed exactly once in the repair record, and the audit finds nothing to do.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from reconfigurator.db.engine import make_engine
from reconfigurator.executor import Executor
from reconfigurator.testing import DatabaseServer
from tests.reliability import workers
from tests.reliability.invariants import (
    RowLedger,
    audit_work_left,
    duplicate_live_addresses,
    read_tables,
    read_tables_consistently,
    realization_problems,
    repair_record_problems,
    step_report_problems,
)
from tests.reliability.scenarios import seeded_rack, target_blueprint
from tests.reliability.stats import ReliabilityStats

pytestmark = pytest.mark.reliability

EXECUTOR_PROCESSES = 4
SHORT_DURATION_S = 15.0
SOAK_DURATION_S = 120.0
#: How long a process may take after the deadline to finish its last run and report.
JOIN_GRACE_S = 60.0
MONITOR_INTERVAL_S = 0.25


class Monitor:
    """Samples both tables from one snapshot at a time while the processes run."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ledger = RowLedger()
        self.problems: list[str] = []
        self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="monitor")

    def sample(self) -> None:
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                self.problems += self.ledger.observe(conn)
                tables = read_tables(conn)
                self.problems += duplicate_live_addresses(tables)
                self.problems += repair_record_problems(tables)
        self.samples += 1

    def _run(self) -> None:
        while not self.stop.wait(MONITOR_INTERVAL_S):
            try:
                self.sample()
            except Exception as exc:
                self.problems.append(f"monitor failed: {exc!r}")
                return

    def __enter__(self) -> Monitor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def _start_processes(
    url: str, duration_s: float, result_dir: Path
) -> tuple[list[tuple[str, Any, Path]], float]:
    """Start every process, wait until all are ready, then give them one deadline."""
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    go = context.Event()
    deadline = context.Value("d", 0.0)
    start = workers.Start(ready, go, deadline)
    processes: list[tuple[str, Any, Path]] = []
    for index in range(EXECUTOR_PROCESSES):
        name = f"executor-{index + 1}"
        result = result_dir / f"{name}.json"
        process = context.Process(
            target=workers.executor_process,
            args=(url, 1000 + index, str(result), start),
            name=name,
        )
        processes.append((name, process, result))
    planner_result = result_dir / "planner.json"
    processes.append(
        (
            "planner",
            context.Process(
                target=workers.planner_process,
                args=(url, 4242, str(planner_result), start),
                name="planner",
            ),
            planner_result,
        )
    )
    for _name, process, _result in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=workers.START_TIMEOUT_S)
    deadline.value = time.time() + duration_s
    go.set()
    return processes, deadline.value


def test_four_executors_and_a_planner_at_once(
    pg_server: DatabaseServer,
    soak: bool,
    tmp_path: Path,
    reliability_stats: ReliabilityStats,
) -> None:
    duration_s = SOAK_DURATION_S if soak else SHORT_DURATION_S
    url = pg_server.create_database()
    engine = make_engine(url)
    try:
        seeded_rack(engine, seed=101, sleds=5, disks=3)
        with Monitor(engine) as monitor:
            monitor.sample()
            began = time.monotonic()
            processes, deadline = _start_processes(
                url.render_as_string(hide_password=False), duration_s, tmp_path
            )
            hung: list[str] = []
            for name, process, _result in processes:
                process.join(max(0.0, deadline - time.time()) + JOIN_GRACE_S)
                if process.is_alive():
                    hung.append(name)
                    process.terminate()
                    process.join(10)
            elapsed = time.monotonic() - began
        assert not hung, f"processes hung: {hung}"
        crashed = {name: p.exitcode for name, p, _ in processes if p.exitcode != 0}
        assert not crashed, f"processes exited with an error: {crashed}"
        results = {name: json.loads(result.read_text()) for name, _, result in processes}

        planner = results.pop("planner")
        assert planner["errors"] == [], "planner failed:\n" + "\n".join(planner["errors"])
        unexpected: list[str] = []
        per_process: dict[str, dict[str, int]] = {}
        for name, result in sorted(results.items()):
            outcomes: dict[str, int] = result["outcomes"]
            per_process[name] = outcomes
            unexpected += [f"{name}: {error}" for error in result["errors"]]
            assert sum(outcomes.values()) >= 1, f"{name} never finished a run"
        assert not unexpected, "runs failed with unexpected errors:\n" + "\n".join(unexpected)
        for name, outcomes in per_process.items():
            assert set(outcomes) <= workers.ALLOWED_OUTCOMES, (name, outcomes)
        totals: Counter[str] = Counter()
        for outcomes in per_process.values():
            totals.update(outcomes)
        step_attempts = sum(r["step_attempts_of_completed_runs"] for r in results.values())
        repairs = sum(r["repairs"] for r in results.values())
        assert totals[workers.COMPLETED] >= 1, totals
        assert planner["new_targets"] >= 3, planner

        # Quiesced: one more run realizes the final target exactly.
        final = Executor(engine).execute()
        assert final.succeeded, final.error
        repairs += len(final.steps[0].details["repairs"])
        # The planner's races left zones whose rows were never created; runs repaired them.
        assert planner["actions"].get("race", 0) > 0 and repairs > 0, (planner, repairs)
        with engine.connect() as conn:
            target = target_blueprint(conn)
        tables = read_tables_consistently(engine)
        assert realization_problems(tables, target) == []
        details = final.steps[0].details
        assert step_report_problems(tables, target, details, final.execution_id) == []
        assert audit_work_left(engine, target) == []
        monitor.sample()
        assert monitor.problems == [], "\n".join(monitor.problems[:20])
        in_service = sum(1 for z in target.in_service_zones() if z.networking is not None)
        expunged = sum(1 for z in target.expunged_zones() if z.networking is not None)
    finally:
        engine.dispose()
        pg_server.drop_database(url)

    reliability_stats.record(
        "concurrency",
        duration_s=round(elapsed, 1),
        planned_duration_s=duration_s,
        executor_processes=EXECUTOR_PROCESSES,
        planner_processes=1,
        runs_per_process=per_process,
        runs_by_outcome=dict(totals),
        runs_total=sum(totals.values()),
        step_retries_of_completed_runs=step_attempts - totals[workers.COMPLETED],
        repairs=repairs,
        planner_actions=planner["actions"],
        new_targets=planner["new_targets"],
        monitor_samples=monitor.samples,
        rows_seen=monitor.ledger.rows_seen,
        rows_lost=len(monitor.ledger.lost),
        rows_revived=len(monitor.ledger.revived),
        final_in_service_zones=in_service,
        final_expunged_zones=expunged,
    )
