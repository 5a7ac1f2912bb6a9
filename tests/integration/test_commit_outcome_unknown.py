"""The step's COMMIT reaches the server, but the client is told the result is ambiguous
(SQLSTATE 40003, as CockroachDB says when it cannot know): the run reports the outcome as
unknown without retrying, and the next run confirms it — nothing is written twice."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.errors import CommitOutcomeUnknown
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from tests.blueprint_builder import RackBuilder
from tests.cli_runner import recon
from tests.db_support import make_target, seed_service_range, snapshot

AMBIGUOUS = psycopg.errors.lookup("40003")


class LostCommitOutcome:
    """Once a transaction has inserted external IPs, its COMMIT goes through on the server
    and then raises an ambiguous-result error at the client, as a connection cut after the
    server committed would (a fault in the driver layer, below SQLAlchemy)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.armed = False
        self.inserts = 0
        self.lost = 0
        self._commit = engine.dialect.do_commit

    def _watch(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith("INSERT INTO external_ip"):
            self.inserts += 1
            self.armed = True

    def _do_commit(self, dbapi_connection: Any) -> None:
        self._commit(dbapi_connection)
        if self.armed and not self.lost:
            self.armed = False
            self.lost += 1
            raise AMBIGUOUS("result is ambiguous (error=rpc error: connection reset)")

    def __enter__(self) -> LostCommitOutcome:
        event.listen(self.engine, "before_cursor_execute", self._watch)
        self.engine.dialect.do_commit = self._do_commit  # type: ignore[method-assign]
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._watch)
        self.engine.dialect.do_commit = self._commit  # type: ignore[method-assign]


@pytest.fixture
def target(engine: Engine) -> Blueprint:
    seed_service_range(engine)
    rack = RackBuilder(seed=40003)
    for _ in range(3):
        sled = rack.add_sled(disks=3)
        for i, kind in enumerate(("nexus", "external_dns", "boundary_ntp")):
            rack.add_zone(sled, kind, pool=sled.pools[i])
    blueprint = rack.build()
    make_target(engine, blueprint)
    return blueprint


def _live(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    f"SELECT parent_id, count(*) FROM {table} WHERE time_deleted IS NULL"
                    " GROUP BY parent_id"
                )
            )
        ]


def test_an_ambiguous_commit_is_reported_unknown_and_the_next_run_confirms_it(
    engine: Engine, target: Blueprint
) -> None:
    zones = len(list(target.in_service_zones()))
    with LostCommitOutcome(engine) as fault:
        first = Executor(engine).execute()
    # Not retried: the step's transaction ran once, and its commit was lost once.
    assert (fault.inserts, fault.lost) == (1, 1)
    assert not first.succeeded
    assert first.failed_step == EXTERNAL_NETWORKING_STEP
    assert isinstance(first.exception, CommitOutcomeUnknown)
    assert first.outcome_unknown
    data = first.to_json()
    assert data["error_kind"] == "CommitOutcomeUnknown"
    assert data["outcome_unknown"] is True
    assert any("outcome unknown" in line for line in data["error_chain"])
    # The server did commit: every zone has its rows already.
    assert len(_live(engine, "external_ip")) == zones

    status = recon(
        "status", env={"RECON_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    )
    assert status.code == 0, status.stderr
    assert f"outcome unknown at: {EXTERNAL_NETWORKING_STEP} (step 1/1)" in status.stdout
    assert "the next run will confirm" in status.stdout

    after_lost_commit = snapshot(engine)
    second = Executor(engine).execute()
    assert second.succeeded, second.error
    details = second.step(EXTERNAL_NETWORKING_STEP).details
    assert details["external_ips"]["created"] == details["nics"]["created"] == 0
    assert details["external_ips"]["unchanged"] == details["nics"]["unchanged"] == zones
    # Nothing written twice: one live row per zone in each table, ranges bumped once.
    assert snapshot(engine) == after_lost_commit
    assert all(count == 1 for _zone, count in _live(engine, "external_ip"))
    assert all(count == 1 for _zone, count in _live(engine, "network_interface"))
    with engine.connect() as conn:
        rcgen = conn.execute(text("SELECT sum(rcgen) FROM ip_pool_range")).scalar()
    assert rcgen == zones
