"""The daemon's metrics and status document follow the activations of real runs: conflicts
by kind, failed runs with their error chain, and transaction retries."""

from __future__ import annotations

import math
import threading
import uuid
from datetime import UTC, datetime

import psycopg.errors
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from reconfigurator.background import BackgroundTasks
from reconfigurator.daemon import Daemon
from reconfigurator.daemon.metrics import DaemonMetrics
from reconfigurator.daemon.status import status_document
from reconfigurator.db.executions import last_execution
from reconfigurator.db.retry import RetryPolicy
from reconfigurator.db.schema import external_ip_table
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, EnsureExternalNetworking, Executor
from tests.blueprint_builder import RackBuilder
from tests.db_support import make_target, seed_service_range
from tests.rows import external_ip_row


def _value(metrics: DaemonMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, (name, labels)
    return value


def test_a_conflict_is_counted_by_kind_and_shown_with_its_error_chain(engine: Engine) -> None:
    seed_service_range(engine)
    rack = RackBuilder(seed=11)
    sled = rack.add_sled(disks=4)
    rack.add_zone(sled, "nexus")
    make_target(engine, rack.build())
    tasks = BackgroundTasks(engine)
    metrics = DaemonMetrics("test")
    tasks.observers.append(metrics.observe)
    assert tasks.execute_activation()["outcome"] == "completed"

    squatter = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            external_ip_table.insert(), [external_ip_row(parent_id=squatter, ip="192.0.2.200")]
        )
    zone = rack.add_zone(sled, "nexus", pool=sled.pools[3], ip="192.0.2.200")
    child = rack.build()
    make_target(engine, child)
    assert tasks.execute_activation()["outcome"] == "failed", tasks.executor.last

    assert _value(metrics, "recon_conflicts_total", kind="external_ip_held") == 1
    assert _value(metrics, "recon_executions_total", outcome="failed") == 1
    assert _value(metrics, "recon_executions_total", outcome="completed") == 1
    assert _value(metrics, "recon_activations_total", loop="executor", outcome="failed") == 1
    assert _value(metrics, "recon_target_version") == 2
    step = {"step": EXTERNAL_NETWORKING_STEP}
    assert _value(metrics, "recon_step_duration_seconds_count", **step) == 2
    assert metrics.registry.get_sample_value("recon_conflicts_total", {"kind": "mac_held"}) is None

    now = datetime.now(UTC)
    status = status_document(tasks, version="test", started_at=now, now=now)
    last = status["last_execution"]
    assert last["status"] == f"failed at: {EXTERNAL_NETWORKING_STEP} (step 1/1)"
    assert last["error_kind"] == "ExternalNetworkingConflict"
    assert last["error_chain"][0] == f"step failed: {EXTERNAL_NETWORKING_STEP}"
    assert str(zone) in " ".join(last["error_chain"])
    assert status["target"]["blueprint_id"] == str(child.id)
    assert status["loops"]["executor"]["last_activation"]["outcome"] == "failed"


def test_transaction_retries_are_counted(engine: Engine) -> None:
    seed_service_range(engine)
    rack = RackBuilder(seed=12)
    rack.add_zone(rack.add_sled(disks=2), "nexus")
    make_target(engine, rack.build())
    conflicts_left = [2]

    def conflict_twice(_conn: Connection) -> None:
        # As the database answers a write-write conflict under SERIALIZABLE.
        if conflicts_left[0]:
            conflicts_left[0] -= 1
            raise OperationalError(
                "UPDATE", {}, psycopg.errors.SerializationFailure("could not serialize access")
            )

    policy = RetryPolicy(max_attempts=5, base_delay_s=0.0, max_delay_s=0.0)
    tasks = BackgroundTasks(
        engine,
        retry_policy=policy,
        executor_factory=lambda: Executor(
            engine,
            retry_policy=policy,
            external_networking=EnsureExternalNetworking(after_target_check=conflict_twice),
        ),
    )
    metrics = DaemonMetrics("test")
    tasks.observers.append(metrics.observe)
    assert tasks.execute_activation()["outcome"] == "completed"
    assert _value(metrics, "recon_transaction_retries_total") == 2
    assert _value(metrics, "recon_networking_rows_total", table="external_ip", result="created")
    assert _value(metrics, "recon_seconds_since_last_successful_execution") >= 0


def test_a_new_daemon_knows_the_last_successful_run_from_the_database(engine: Engine) -> None:
    seed_service_range(engine)
    rack = RackBuilder(seed=13)
    rack.add_zone(rack.add_sled(disks=2), "nexus")
    make_target(engine, rack.build())
    fresh = Daemon(BackgroundTasks(engine))
    stop = threading.Event()
    stop.set()  # the loops end at once: only what start() reads from the database counts
    fresh.start(stop)
    assert fresh.shutdown()
    assert math.isnan(_value(fresh.metrics, "recon_seconds_since_last_successful_execution"))

    assert Executor(engine).execute().succeeded
    with engine.connect() as conn:
        record = last_execution(conn)
    assert record is not None and record.time_finished is not None
    restarted = Daemon(BackgroundTasks(engine))
    restarted.start(stop)
    assert restarted.shutdown()
    since = _value(restarted.metrics, "recon_seconds_since_last_successful_execution")
    elapsed = (datetime.now(UTC) - record.time_finished).total_seconds()
    assert 0 <= since <= elapsed + 1
