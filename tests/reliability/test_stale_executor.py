"""An executor paused inside its transaction while the target moves on.

Executor X starts realizing target T1 and is paused (the step's ``after_target_check`` hook)
right after its target check, inside its SERIALIZABLE transaction: its snapshot says T1 is
the target. Meanwhile another thread makes T2 (a child of T1) the target and executes it to
completion. Then X is released. Whatever T1 asks of the rows T2's run wrote — soft-deleting a
row T2's run already soft-deleted, creating rows for a zone T2 expunged, on addresses T2 gave
to another zone or on fresh ones — X must not commit: its attempt fails with a serialization
failure, the retry sees T2 and stops with ``NotCurrentTarget``, and the tables stay exactly
as T2's run left them.

When T2 is only made the target (nobody executes it while X is paused), X may commit: the
database orders X before the target change, so X realized the target of its snapshot. The
next run of T2 then realizes T2 exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.engine import make_engine
from reconfigurator.errors import NotCurrentTarget
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, ExecutionReport, Executor
from reconfigurator.fixed_data import mac_to_int
from tests.blueprint_builder import RackBuilder, SledHandle
from tests.db_support import make_target, seed_service_range, snapshot
from tests.reliability.faults import StepTracer
from tests.reliability.invariants import (
    audit_work_left,
    read_tables_consistently,
    realization_problems,
)
from tests.reliability.stats import ReliabilityStats

pytestmark = pytest.mark.reliability

SERIALIZATION_FAILURE = "40001"
PAUSE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Targets:
    t0: Blueprint
    t1: Blueprint
    t2: Blueprint


def _add_nexus(
    rack: RackBuilder, sled: SledHandle, pool: UUID, *, addresses_of: UUID | None = None
) -> UUID:
    """A new Nexus; with ``addresses_of``, on that zone's addresses (as the planner reuses
    the addresses of expunged zones)."""
    if addresses_of is None:
        return rack.add_zone(sled, "nexus", pool=pool)
    zone_type = rack.zone_doc(addresses_of)["zone_type"]
    return rack.add_zone(
        sled,
        "nexus",
        pool=pool,
        ip=zone_type["external_ip"]["ip"],
        nic_ip=zone_type["nic"]["ip"],
        mac=mac_to_int(zone_type["nic"]["mac"]),
    )


def _targets(engine: Engine, variant: str) -> Targets:
    """T0 (executed), T1 and T2 for one way T1's writes contradict T2.

    * ``soft_delete``: T1 expunges Nexus N1 and gives its addresses to a new Nexus W; T2
      expunges W and gives the addresses to W2. X would soft-delete N1's rows (which T2's run
      already did) and create W's rows.
    * ``create_on_reused_addresses``: T1 adds W; T2 expunges W and gives its addresses to W2.
      X would create W's rows, which T2's run recorded as never created, on W2's addresses.
    * ``create_on_fresh_addresses``: T1 adds W; T2 expunges W and adds W2 elsewhere on new
      addresses. X would create W's rows, with ids T2's run recorded as never created.
    """
    seed_service_range(engine)
    rack = RackBuilder(seed=77)
    s1, s2, s3 = rack.add_sled(4), rack.add_sled(4), rack.add_sled(4)
    n1 = rack.add_zone(s1, "nexus")
    rack.add_zone(s2, "nexus")
    rack.add_zone(s3, "external_dns")
    rack.add_zone(s2, "boundary_ntp", pool=s2.pools[1])
    t0 = rack.build(comment="T0")
    if variant == "soft_delete":
        rack.expunge_zone(n1)
        w = _add_nexus(rack, s3, s3.pools[2], addresses_of=n1)
    else:
        w = _add_nexus(rack, s3, s3.pools[2])
    t1 = rack.build(comment="T1")
    rack.expunge_zone(w)
    reuse = None if variant == "create_on_fresh_addresses" else w
    _add_nexus(rack, s2, s2.pools[2], addresses_of=reuse)
    t2 = rack.build(comment="T2")
    make_target(engine, t0)
    assert Executor(engine).execute().succeeded
    make_target(engine, t1)
    return Targets(t0, t1, t2)


class PausedExecutor:
    """Executor X on its own engine, in a thread, paused after its first target check."""

    def __init__(self, engine: Engine) -> None:
        self.engine = make_engine(engine.url)
        self.tracer = StepTracer(self.engine)
        self.paused = threading.Event()
        self.release = threading.Event()
        self.hook_calls = 0
        self.report: ExecutionReport | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="stale-executor")

    def _hook(self, conn: Connection) -> None:
        self.hook_calls += 1
        if self.hook_calls == 1:
            self.paused.set()
            if not self.release.wait(PAUSE_TIMEOUT_S):
                raise TimeoutError("the stale executor was never released")

    def _run(self) -> None:
        try:
            self.report = self.tracer.executor(after_target_check=self._hook).execute()
        except BaseException as exc:
            self.error = exc

    def start(self) -> None:
        self.thread.start()
        assert self.paused.wait(PAUSE_TIMEOUT_S), "the executor never reached its target check"

    def finish(self) -> ExecutionReport:
        self.release.set()
        self.thread.join(PAUSE_TIMEOUT_S)
        assert not self.thread.is_alive(), "the stale executor hung"
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report

    def close(self) -> None:
        self.release.set()
        self.thread.join(PAUSE_TIMEOUT_S)
        self.tracer.close()
        self.engine.dispose()


@pytest.fixture
def paused_factory(engine: Engine) -> Iterator[type[PausedExecutor]]:
    made: list[PausedExecutor] = []

    class Factory(PausedExecutor):
        def __init__(self, engine: Engine) -> None:
            super().__init__(engine)
            made.append(self)

    yield Factory
    for paused in made:
        paused.close()


@pytest.mark.parametrize(
    "variant", ["soft_delete", "create_on_reused_addresses", "create_on_fresh_addresses"]
)
def test_paused_executor_cannot_commit_after_the_new_target_ran(
    engine: Engine,
    variant: str,
    paused_factory: type[PausedExecutor],
    reliability_stats: ReliabilityStats,
) -> None:
    targets = _targets(engine, variant)
    stale = paused_factory(engine)
    stale.start()

    # While X holds its snapshot: T2 becomes the target and another executor realizes it.
    make_target(engine, targets.t2)
    fresh = Executor(engine).execute()
    assert fresh.succeeded, fresh.error
    realized_t2 = snapshot(engine)
    assert realization_problems(read_tables_consistently(engine), targets.t2) == []

    report = stale.finish()
    # X failed: a serialization failure on its first attempt, then the retry saw T2.
    assert not report.succeeded
    assert report.failed_step == EXTERNAL_NETWORKING_STEP
    assert isinstance(report.exception, NotCurrentTarget), report.exception
    assert report.exception.blueprint_id == targets.t1.id
    assert report.exception.current_target_id == targets.t2.id
    attempts = stale.tracer.attempts
    assert len(attempts) == 2, attempts
    assert attempts[0].error_sqlstate == SERIALIZATION_FAILURE, attempts[0]
    assert not attempts[0].committed and not attempts[1].committed
    assert stale.hook_calls == 1  # the retry stopped at its target check

    # The tables are exactly what T2's run produced.
    assert snapshot(engine) == realized_t2
    assert realization_problems(read_tables_consistently(engine), targets.t2) == []
    assert audit_work_left(engine, targets.t2) == []
    reliability_stats.record(
        f"stale_executor.{variant}",
        stale_outcome=type(report.exception).__name__,
        first_attempt_sqlstate=attempts[0].error_sqlstate,
        attempts=len(attempts),
        tables_equal_new_target_run=True,
    )


def test_paused_executor_may_finish_when_the_new_target_has_not_run(
    engine: Engine, paused_factory: type[PausedExecutor], reliability_stats: ReliabilityStats
) -> None:
    targets = _targets(engine, "create_on_reused_addresses")
    stale = paused_factory(engine)
    stale.start()
    make_target(engine, targets.t2)  # set, not executed
    report = stale.finish()

    if report.succeeded:
        # Serialized before the target change: X realized T1, the target of its snapshot.
        assert realization_problems(read_tables_consistently(engine), targets.t1) == []
    else:
        assert isinstance(report.exception, NotCurrentTarget), report.exception
    again = Executor(engine).execute()
    assert again.succeeded, again.error
    assert realization_problems(read_tables_consistently(engine), targets.t2) == []
    assert audit_work_left(engine, targets.t2) == []
    reliability_stats.record(
        "stale_executor.target_set_not_run",
        stale_outcome="completed" if report.succeeded else type(report.exception).__name__,
        next_run="completed",
    )
