"""Set-based execution: the number of SQL statements does not grow with the zones."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from reconfigurator.db.retry import run_transaction
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from reconfigurator.sim.scale import ScaledState, scaled_state, seed_rows, seed_service_pool
from reconfigurator.testing import DatabaseServer, fresh_database, statements_sent
from tests.db_support import make_target


def _prepare(engine: Engine, state: ScaledState) -> None:
    def body(conn: Any) -> None:
        seed_service_pool(conn)
        seed_rows(conn, state)

    run_transaction(engine, body)
    make_target(engine, state.blueprint)


def _run_counts(
    db_server: DatabaseServer, zones: int
) -> tuple[list[str], list[str], dict[str, Any]]:
    state = scaled_state(zones, seed=zones)
    with fresh_database(db_server) as engine:
        _prepare(engine, state)
        executor = Executor(engine)
        with statements_sent(engine) as converging:
            report = executor.execute()
        assert report.succeeded, report.error
        details = report.step(EXTERNAL_NETWORKING_STEP).details
        with statements_sent(engine) as noop:
            again = executor.execute()
        assert again.succeeded
        assert again.step(EXTERNAL_NETWORKING_STEP).details["external_ips"]["created"] == 0
        return converging, noop, details


def test_statement_count_is_the_same_at_10_and_1000_zones(db_server: DatabaseServer) -> None:
    small_converging, small_noop, small = _run_counts(db_server, 10)
    large_converging, large_noop, large = _run_counts(db_server, 1000)
    # Every kind of work happens at both sizes...
    for details in (small, large):
        counts = details["external_ips"]
        assert counts["created"] > 0
        assert counts["soft_deleted"] > 0
        assert counts["already_soft_deleted"] > 0
        assert counts["not_found"] > 0
    assert large["external_ips"]["created"] == 540
    assert large["external_ips"]["soft_deleted"] == 60
    # ...with exactly the same statements.
    assert len(small_converging) == len(large_converging)
    assert small_converging == large_converging
    assert len(small_noop) == len(large_noop)
    # The target, whether the blueprint exists, the run's record (start, end), the target
    # check, what the blueprint asks for (three reads, once per target), three reads of the
    # tables, two soft-deletes, two inserts, the ranges' generations and the repair record.
    assert len(large_converging) <= 17
    # The same executor again: no existence check, nothing read of the blueprint, no writes.
    assert len(large_noop) <= 7
    # The whole blueprint is never read (its sleds are only in bp_sled_metadata).
    assert not [s for s in large_converging + large_noop if "bp_sled_metadata" in s]


@pytest.mark.parametrize("zones", [3, 4, 10])
def test_small_scaled_states_converge(db_server: DatabaseServer, zones: int) -> None:
    _converging, _noop, details = _run_counts(db_server, zones)
    assert details["external_ips"]["unchanged"] == 0


def test_what_the_target_asks_for_is_read_once_per_executor(engine: Engine) -> None:
    state = scaled_state(30, seed=3)
    _prepare(engine, state)
    executor = Executor(engine)
    with statements_sent(engine) as first:
        assert executor.execute().succeeded
    with statements_sent(engine) as second:
        assert executor.execute().succeeded
    assert executor.external_networking.wanted_reads == 1

    def reads_of_in_service_zones(statements: list[str]) -> list[str]:
        return [s for s in statements if "JOIN bp_omicron_zone_nic ON" in s]

    assert len(reads_of_in_service_zones(first)) == 1
    assert not reads_of_in_service_zones(second)
    # A fresh executor (another process, say) reads it again.
    with statements_sent(engine) as other:
        fresh = Executor(engine)
        assert fresh.execute().succeeded
    assert len(reads_of_in_service_zones(other)) == 1
    assert fresh.external_networking.wanted_reads == 1
