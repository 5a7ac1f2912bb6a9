"""Model-based test: random sequences of operator, planner, executor and fault actions.

Hypothesis drives a rack on a fresh database per example (a template clone): expunge a disk
or a sled (only while the zone policy can still be met), add a sled, plan and set the target,
expunge the disk the planner has just placed a zone on and plan again before any run (the
production race; also with both plans in one transaction), execute, and execute with the
connection killed before a random statement of step 1 (or its COMMIT). Executions may be
skipped for any number of targets.

Invariants, checked after every action:

* no row is ever lost, revived or changed once soft-deleted; no live address has two owners;
* a row of an expunged zone that was never created is never written: it has no row, and the
  repair record lists it at most once and never forgets it;
* the executor is never stuck: the audit (the executor's own decision, reported) finds
  nothing blocking for the current target, so the next execution will succeed;
* after every successful execution the tables realize the target exactly (a never-created row
  of an expunged zone has no row and is listed once in the repair record) and the run's report
  counts and lists what it met; a killed execution leaves every table the step writes exactly
  as it was.

At the end of every example one more execution must succeed and realize the target.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.exc import OperationalError

from reconfigurator.audit import audit
from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import get_blueprint
from reconfigurator.db.engine import make_engine
from reconfigurator.executor import EXTERNAL_NETWORKING_STEP, Executor
from reconfigurator.planner import SeededIds
from reconfigurator.testing import DatabaseServer
from tests.db_support import snapshot
from tests.reliability.faults import BackendKiller, StepTracer
from tests.reliability.invariants import (
    RowLedger,
    audit_work_left,
    duplicate_live_addresses,
    read_tables_consistently,
    realization_problems,
    repair_record_problems,
    step_report_problems,
)
from tests.reliability.scenarios import RackOperator, new_zones
from tests.reliability.stats import ReliabilityStats

pytestmark = pytest.mark.reliability

SHORT = {"max_examples": 20, "stateful_step_count": 25}
SOAK = {"max_examples": 150, "stateful_step_count": 50}

#: Kill points drawn for a killed execution; past the step's last statement means its COMMIT.
MAX_KILL_INDEX = 9


class ReconfiguratorModel(RuleBasedStateMachine):
    server: ClassVar[DatabaseServer]
    counts: ClassVar[Counter[str]]

    def __init__(self) -> None:
        super().__init__()
        self.url = self.server.create_database()
        self.engine = make_engine(self.url)
        self.rack = RackOperator(self.engine, SeededIds(0))
        self.ledger = RowLedger()
        self.killer = BackendKiller(self.server.admin_url)
        self.tracer = StepTracer(self.engine)
        self.counts["examples"] += 1

    # --- set-up ---------------------------------------------------------------------------------

    @initialize(sleds=st.integers(3, 5), disks=st.integers(2, 4))
    def build_rack(self, sleds: int, disks: int) -> None:
        self.rack.add_pool_range()
        for _ in range(sleds):
            self.rack.add_sled(disks)
        assert self.rack.plan().changed

    def target(self) -> Blueprint:
        target = self.rack.target()
        assert target is not None
        return target

    # --- operator and planner -------------------------------------------------------------------

    @rule(pick=st.integers(0, 1 << 16))
    def expunge_disk(self, pick: int) -> None:
        disks = self.rack.expungeable_disks()
        if disks:
            self.rack.expunge_disk(disks[pick % len(disks)].id)
            self.counts["disks_expunged"] += 1

    @rule(pick=st.integers(0, 1 << 16))
    def expunge_sled(self, pick: int) -> None:
        sleds = self.rack.expungeable_sleds()
        if sleds:
            self.rack.expunge_sled(sleds[pick % len(sleds)].id)
            self.counts["sleds_expunged"] += 1

    @rule(disks=st.integers(1, 4))
    def add_sled(self, disks: int) -> None:
        self.rack.add_sled(disks)
        self.counts["sleds_added"] += 1

    @rule()
    def plan(self) -> None:
        outcome = self.rack.plan()
        self.counts["plans"] += 1
        if outcome.blueprint is not None:
            assert [f.message for f in lint(outcome.blueprint)] == []
            self.counts["targets_set"] += 1

    @rule()
    def expunge_where_the_planner_just_placed_and_plan(self) -> None:
        """The production race: the disk that just got a new zone is expunged and planned
        again before any executor runs the target that placed the zone."""
        target = self.target()
        parent_id = target.parent_blueprint_id
        parent = None
        if parent_id is not None:
            with self.engine.connect() as conn:
                parent = get_blueprint(conn, parent_id)
        placed = new_zones(parent, target)
        expungeable = {disk.pool_id for disk in self.rack.expungeable_disks()}
        for zone_id in placed:
            zone = target.zone(zone_id)
            assert zone is not None
            if zone.filesystem_pool in expungeable:
                self.rack.expunge_disk(zone.filesystem_pool)
                self.counts["race_expunges"] += 1
                self.plan()
                return

    @rule(pick=st.integers(0, 1 << 16))
    def two_targets_in_one_transaction(self, pick: int) -> None:
        """The race with no chance for an executor in between: the first target is never
        executed, so the zone it placed never gets rows."""
        self.counts["targets_set"] += self.rack.race(pick)

    # --- executor -------------------------------------------------------------------------------

    @rule()
    def execute(self) -> None:
        report = Executor(self.engine).execute()
        assert report.succeeded, report.error
        self.counts["executions"] += 1
        details: dict[str, Any] = report.steps[0].details
        self.counts["repairs"] += len(details["repairs"])
        self.counts["rows_created"] += (
            details["external_ips"]["created"] + details["nics"]["created"]
        )
        self.counts["rows_soft_deleted"] += (
            details["external_ips"]["soft_deleted"] + details["nics"]["soft_deleted"]
        )
        # The database equals the target, and the report says what the run met.
        tables = read_tables_consistently(self.engine)
        target = self.target()
        problems = realization_problems(tables, target)
        problems += step_report_problems(tables, target, details, report.execution_id)
        assert problems == [], problems

    @rule(at=st.integers(0, MAX_KILL_INDEX))
    def execute_killed(self, at: int) -> None:
        before = snapshot(self.engine)
        fault = self.tracer.arm(at, self.killer)
        report = self.tracer.executor().execute()
        self.tracer.reset()
        assert fault.fired_at is not None, "the step ended before the injection point"
        assert not report.succeeded
        assert report.failed_step == EXTERNAL_NETWORKING_STEP
        assert isinstance(report.exception, OperationalError), report.exception
        assert snapshot(self.engine) == before, f"killed before {fault.statement}: tables changed"
        self.counts["killed_executions"] += 1

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def rows_are_never_lost_or_revived(self) -> None:
        problems = self.ledger.observe_engine(self.engine)
        assert problems == [], problems

    @invariant()
    def no_address_has_two_live_owners(self) -> None:
        problems = duplicate_live_addresses(read_tables_consistently(self.engine))
        assert problems == [], problems

    @invariant()
    def never_created_rows_are_recorded_once_and_stay_uncreated(self) -> None:
        problems = repair_record_problems(read_tables_consistently(self.engine))
        assert problems == [], problems

    @invariant()
    def executor_is_never_stuck(self) -> None:
        target = self.rack.target()
        if target is None:
            return
        report = audit(self.engine, target)
        assert not report.blocking, [f.to_json() for f in report.findings if f.blocking]
        self.counts["invariant_checks"] += 1

    def teardown(self) -> None:
        try:
            target = self.rack.target()
            if target is not None:
                report = Executor(self.engine).execute()
                assert report.succeeded, report.error
                problems = realization_problems(read_tables_consistently(self.engine), target)
                assert problems == [], problems
                assert audit_work_left(self.engine, target) == []
                self.counts["final_executions"] += 1
            self.counts["rows_seen"] += self.ledger.rows_seen
            self.counts["rows_lost"] += len(self.ledger.lost)
        finally:
            self.tracer.close()
            self.killer.close()
            self.engine.dispose()
            self.server.drop_database(self.url)


def test_planner_executor_and_faults_in_any_order(
    pg_server: DatabaseServer, soak: bool, reliability_stats: ReliabilityStats
) -> None:
    counts: Counter[str] = Counter()

    class Model(ReconfiguratorModel):
        server = pg_server

    Model.counts = counts
    budget = SOAK if soak else SHORT
    run_state_machine_as_test(
        Model,
        settings=settings(
            max_examples=budget["max_examples"],
            stateful_step_count=budget["stateful_step_count"],
            derandomize=True,
            database=None,
            deadline=None,
            print_blob=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert counts["examples"] >= budget["max_examples"]
    assert counts["executions"] > 0 and counts["killed_executions"] > 0, counts
    reliability_stats.record(
        "model",
        max_examples=budget["max_examples"],
        max_steps_per_example=budget["stateful_step_count"],
        **dict(sorted(counts.items())),
    )
