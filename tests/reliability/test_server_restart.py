"""The database server stops and starts again, between runs and during a run.

The server is an embedded PostgreSQL of this module only (not the session's shared server), so
it can be stopped at any moment (fast shutdown: every session is ended). Nobody intervenes
after the restart: the same engine and executor are used, and the pool's dead connections are
replaced by ``pool_pre_ping``. A run cut off by the shutdown leaves the networking tables as
they were; the next run converges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import QueuePool

from reconfigurator.background import BackgroundTasks
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.engine import make_engine
from reconfigurator.db.executions import last_execution
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from reconfigurator.planner import SeededIds
from tests.db_support import make_target, snapshot
from tests.race import build_race
from tests.reliability.conftest import RestartableServer
from tests.reliability.faults import COMMIT, ServerStopper, StepTracer
from tests.reliability.invariants import (
    audit_work_left,
    read_tables,
    read_tables_consistently,
    realization_problems,
)
from tests.reliability.scenarios import (
    SavedState,
    hand_built_race,
    saved_state,
    seeded_rack,
    target_blueprint,
)
from tests.reliability.stats import ReliabilityStats

pytestmark = pytest.mark.reliability


@pytest.fixture
def restart_engine(restartable_server: RestartableServer) -> Iterator[Engine]:
    url = restartable_server.server.create_database()
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        restartable_server.start()
        restartable_server.server.drop_database(url)


def _realized(engine: Engine, target: Blueprint) -> None:
    assert realization_problems(read_tables_consistently(engine), target) == []
    assert audit_work_left(engine, target) == []


def test_restart_between_runs(
    restartable_server: RestartableServer,
    restart_engine: Engine,
    reliability_stats: ReliabilityStats,
) -> None:
    engine = restart_engine
    race = build_race(engine)
    make_target(engine, race.a)
    executor = Executor(engine)
    assert executor.execute().succeeded
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedin() >= 1  # pooled connections that the restart will kill

    restartable_server.stop()
    began = time.monotonic()
    # With the server down a run cannot start: it says so at once with the database's error.
    with pytest.raises(DBAPIError):
        executor.execute()
    assert time.monotonic() - began < 10

    restartable_server.start()
    # The same engine and executor; the pool's dead connections are found by pre-ping.
    make_target(engine, race.b)
    make_target(engine, race.c)
    report = executor.execute()
    assert report.succeeded, report.error
    _realized(engine, race.c)
    reliability_stats.record("server_restart.between_runs", restarts=1, later_run="completed")


def _first_write(statements: list[str]) -> int:
    return next(i for i, s in enumerate(statements) if s.split()[0].upper() != "SELECT")


@pytest.mark.parametrize("point", ["after_target_check", "before_first_write", COMMIT])
def test_server_stopped_during_a_run(
    restartable_server: RestartableServer, point: str, reliability_stats: ReliabilityStats
) -> None:
    with saved_state(restartable_server.server, hand_built_race) as state:
        try:
            _stop_during_run(restartable_server, state, point)
        finally:
            restartable_server.start()
    reliability_stats.record(
        f"server_restart.during_run.{point}", restarts=1, later_run="completed"
    )


def _stop_during_run(restartable_server: RestartableServer, state: SavedState, point: str) -> None:
    with state.copy() as engine:
        # A real run on a copy of the state gives the statements of step 1's transaction.
        tracer = StepTracer(engine)
        assert tracer.executor().execute().succeeded
        statements = tracer.first_attempt.statements
        tracer.close()

    with state.copy() as engine:
        before = snapshot(engine)
        stopper = ServerStopper(restartable_server.embedded)
        tracer = StepTracer(engine)
        try:
            if point == "after_target_check":
                # The step's own hook, inside the transaction right after the target check.
                executor = tracer.executor(after_target_check=stopper)
                fault = None
            else:
                executor = tracer.executor()
                at = _first_write(statements) if point == "before_first_write" else len(statements)
                fault = tracer.arm(at, stopper)
            report = executor.execute()
        finally:
            tracer.close()
            restartable_server.stops += stopper.stops
        assert stopper.stops == 1
        if fault is not None:
            assert fault.fired_at == (COMMIT if point == COMMIT else _first_write(statements))
        assert not report.succeeded
        assert report.failed_step == EXTERNAL_NETWORKING_STEP
        assert isinstance(report.exception, OperationalError), report.exception

        restartable_server.start()
        # Nothing of the cut-off run reached the tables.
        assert snapshot(engine) == before
        again = Executor(engine).execute()
        assert again.succeeded, again.error
        _realized(engine, state.target)
        with engine.connect() as conn:
            # The cut-off run could not record its end (the server was down); the next did.
            runs = dict(
                conn.execute(text("SELECT id, outcome::text FROM bp_execution")).tuples().all()
            )
            record = last_execution(conn)
        assert runs[report.execution_id] in {"running", "failed"}
        assert record is not None and record.id == again.execution_id


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except DBAPIError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def test_background_loops_recover_from_an_outage_on_their_own(
    restartable_server: RestartableServer,
    restart_engine: Engine,
    reliability_stats: ReliabilityStats,
) -> None:
    """``recon run``'s loops keep going through an outage and realize the next target."""
    engine = restart_engine
    rack = seeded_rack(engine, seed=31)
    tasks = BackgroundTasks(engine, plan_interval_s=0.2, execute_interval_s=0.05, ids=SeededIds(32))
    stop = threading.Event()
    loops = threading.Thread(target=tasks.run, args=(stop,), name="recon-run")
    loops.start()
    try:
        _wait_for(lambda: tasks.executor.activations >= 2, 30, "the executor loop to run")
        restartable_server.stop()
        failures = tasks.executor.failures
        _wait_for(
            lambda: tasks.executor.failures > failures and tasks.planner.failures > 0,
            30,
            "both loops to hit the outage",
        )
        restartable_server.start()
        # New work after the outage: the loops must plan and realize it with no help.
        disk = rack.expungeable_disks()[0]
        rack.expunge_disk(disk.id)
        _wait_for(lambda: _realized_by_loops(engine, disk.pool_id), 60, "the loops to converge")
        assert loops.is_alive()
    finally:
        stop.set()
        loops.join(timeout=60)
    assert not loops.is_alive(), "the background loops did not stop"
    reliability_stats.record(
        "server_restart.background_loops",
        restarts=1,
        executor_activations=tasks.executor.activations,
        executor_failed_activations_during_outage=tasks.executor.failures,
        planner_failed_activations_during_outage=tasks.planner.failures,
    )


def _realized_by_loops(engine: Engine, expunged_pool: object) -> bool:
    """The loops planned the expunged disk into a target, ran it, and the tables realize it."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            target = target_blueprint(conn)
            record = last_execution(conn)
            tables = read_tables(conn)
    disks = [d for sled in target.sleds for d in sled.disks if d.pool_id == expunged_pool]
    if not disks or disks[0].is_in_service:
        return False  # not planned yet
    if record is None or record.blueprint_id != target.id or record.outcome.value != "completed":
        return False
    return realization_problems(tables, target) == []
