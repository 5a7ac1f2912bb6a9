"""The executor: runs ordered steps against one blueprint and records the run.

Step 1 is always *Ensure external networking resources* and is fatal: when it fails no later
step runs. Control-plane code adds its own later steps with :meth:`Executor.add_step`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import blueprint_exists, get_blueprint_and_target_history
from reconfigurator.db.executions import (
    DEFAULT_HEARTBEAT_INTERVAL_S,
    DEFAULT_STALE_AFTER_S,
    beat,
    record_finish,
    record_start,
)
from reconfigurator.db.retry import DEFAULT_RETRY_POLICY, RetryPolicy, run_transaction
from reconfigurator.db.schema import ExecutionOutcome
from reconfigurator.db.targets import current_target
from reconfigurator.errors import BlueprintNotFound, NoTarget
from reconfigurator.executor.external_networking import STEP_NAME, EnsureExternalNetworking
from reconfigurator.executor.log_context import run_fields
from reconfigurator.executor.report import (
    ExecutionReport,
    StepOutcome,
    StepReport,
    error_chain,
    error_details,
)
from reconfigurator.executor.steps import RunLogger, Step, StepContext, StepFunction
from reconfigurator.networking.policy import MissingRowPolicy

_log = logging.getLogger("reconfigurator.executor")

#: Parsed blueprints an executor keeps (the target, and the one before it).
BLUEPRINT_CACHE_SIZE = 2


@dataclass
class Executor:
    """Realizes a blueprint. Reusable: each :meth:`execute` call is one recorded run.

    While a run goes on, a thread renews its ``bp_execution`` heartbeat every
    ``heartbeat_interval_s``; a run starting marks ``interrupted`` every ``running`` run
    without a heartbeat for ``stale_after_s`` (its process died).
    """

    engine: Engine
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    external_networking: EnsureExternalNetworking = field(default_factory=EnsureExternalNetworking)
    _extra_steps: list[Step] = field(default_factory=list)
    #: Parsed blueprints that have been targets (immutable from then on), newest last.
    _blueprints: OrderedDict[UUID, Blueprint] = field(default_factory=OrderedDict)
    #: Blueprints found to exist (a blueprint is deleted only if it never was a target).
    _known: set[UUID] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_interval_s < self.stale_after_s:
            raise ValueError(
                "need 0 < heartbeat_interval_s < stale_after_s (a live run must not look dead)"
            )

    def add_step(self, name: str, run: StepFunction, *, fatal: bool = False) -> None:
        """Append a step after the built-in ones. ``run(ctx)`` returns report details
        (a JSON-able mapping, or ``None``) or raises to fail the step."""
        if any(step.name == name for step in self.steps):
            raise ValueError(f"a step named {name!r} is already registered")
        self._extra_steps.append(Step(name, run, fatal))

    def step(self, name: str, *, fatal: bool = False) -> Callable[[StepFunction], StepFunction]:
        """Decorator form of :meth:`add_step`."""

        def register(run: StepFunction) -> StepFunction:
            self.add_step(name, run, fatal=fatal)
            return run

        return register

    @property
    def steps(self) -> list[Step]:
        """The steps of a run, in order: the networking step, then those added."""
        return [Step(STEP_NAME, self.external_networking, fatal=True), *self._extra_steps]

    def target_blueprint_id(self) -> UUID:
        """The id of the current target; raises :class:`NoTarget` when there is none."""
        with self.engine.connect() as conn:
            target = current_target(conn)
        if target is None:
            raise NoTarget()
        return target.blueprint_id

    def load_blueprint(self, blueprint_id: UUID) -> Blueprint:
        """The whole stored blueprint, for steps that ask for it (:attr:`StepContext.blueprint`),
        read once: a blueprint that has ever been a target can no longer be deleted or
        replaced, so it is kept for the next runs."""
        cached = self._blueprints.get(blueprint_id)
        if cached is not None:
            self._blueprints.move_to_end(blueprint_id)
            return cached
        with self.engine.connect() as conn:
            blueprint, was_target = get_blueprint_and_target_history(conn, blueprint_id)
        if was_target:
            self._blueprints[blueprint_id] = blueprint
            while len(self._blueprints) > BLUEPRINT_CACHE_SIZE:
                self._blueprints.popitem(last=False)
        return blueprint

    def execute(self, blueprint_id: UUID | None = None) -> ExecutionReport:
        """One run against ``blueprint_id`` (default: the current target).

        The blueprint must be the current target; step 1 checks it inside its transaction.
        Failures are recorded in the report (and in ``bp_execution``), not raised; errors
        that stop the run before any step (no target, unknown blueprint, database down) are
        raised.
        """
        if blueprint_id is None:
            blueprint_id = self.target_blueprint_id()
        execution_id = uuid.uuid4()
        ids = {"blueprint_id": str(blueprint_id), "execution_id": str(execution_id)}
        with run_fields(**ids):
            started = run_transaction(
                self.engine,
                lambda conn: self._record_start(conn, execution_id, blueprint_id),
                policy=self.retry_policy,
            )
            report = ExecutionReport(blueprint_id, execution_id, started)
            log = RunLogger(_log, ids)
            ctx = StepContext(
                self.engine,
                blueprint_id,
                execution_id,
                self.missing_rows,
                self.retry_policy,
                log,
                self.load_blueprint,
            )
            with (
                _recorded(self.engine, report, self.retry_policy),
                _heartbeat(self.engine, execution_id, self.heartbeat_interval_s),
            ):
                self._run_steps(ctx, report)
            log.log(
                logging.INFO if report.succeeded else logging.WARNING,
                "execution %s",
                report.outcome,
                extra={"failed_step": report.failed_step, "error": report.error},
            )
        return report

    def _record_start(self, conn: Connection, execution_id: UUID, blueprint_id: UUID) -> datetime:
        """Record the run's start; a blueprint not seen before must exist (else nothing is
        recorded and :class:`~reconfigurator.errors.BlueprintNotFound` is raised)."""
        if blueprint_id not in self._known and not blueprint_exists(conn, blueprint_id):
            raise BlueprintNotFound(blueprint_id)
        self._known.add(blueprint_id)
        started, interrupted = record_start(
            conn, execution_id, blueprint_id, stale_after_s=self.stale_after_s
        )
        for earlier in interrupted:
            _log.warning(
                "an earlier run stopped without recording its end; marked interrupted",
                extra={"interrupted_execution_id": str(earlier)},
            )
        return started

    def _run_steps(self, ctx: StepContext, report: ExecutionReport) -> None:
        steps = self.steps
        for index, step in enumerate(steps):
            if report.failed_step is not None:
                report.steps.append(StepReport(step.name, StepOutcome.SKIPPED, 0.0))
                continue
            began = time.perf_counter()
            try:
                details = dict(step.run(ctx) or {})
            except Exception as exc:
                elapsed = time.perf_counter() - began
                outcome = StepOutcome.FAILED if step.fatal else StepOutcome.WARNING
                report.steps.append(
                    StepReport(step.name, outcome, elapsed, error_details(exc), str(exc))
                )
                ctx.log.warning(
                    "step failed",
                    extra={"step": step.name, "step_index": index + 1, "error": str(exc)},
                )
                if step.fatal:
                    report.failed_step = step.name
                    report.error = str(exc)
                    report.error_chain = error_chain(step.name, exc)
                    report.exception = exc
                else:
                    report.warnings.append(f"{step.name}: {exc}")
                continue
            report.steps.append(
                StepReport(step.name, StepOutcome.COMPLETED, time.perf_counter() - began, details)
            )


@contextmanager
def _heartbeat(engine: Engine, execution_id: UUID, interval_s: float) -> Iterator[None]:
    """Renew the run's heartbeat every ``interval_s`` from a thread while the block runs."""
    stopped = threading.Event()

    def renew() -> None:
        while not stopped.wait(interval_s):
            try:
                with engine.begin() as conn:
                    beat(conn, execution_id)
            except Exception as exc:  # the steps report database trouble themselves
                _log.warning("could not renew the run's heartbeat", extra={"error": str(exc)})

    thread = threading.Thread(target=renew, name=f"recon-heartbeat-{execution_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()


@contextmanager
def _recorded(engine: Engine, report: ExecutionReport, policy: RetryPolicy) -> Iterator[None]:
    """Record the run's end in ``bp_execution``, whatever happens inside."""
    try:
        yield
    finally:
        outcome = ExecutionOutcome.COMPLETED if report.succeeded else ExecutionOutcome.FAILED
        try:
            report.time_finished = run_transaction(
                engine,
                lambda conn: record_finish(
                    conn,
                    report.execution_id,
                    outcome=outcome,
                    failed_step=report.failed_step,
                    error=report.error,
                    report=report.to_json(),
                ),
                policy=policy,
            )
        except Exception:
            # The run's own outcome matters more than its record; the row stays "running".
            _log.exception(
                "could not record the end of an execution",
                extra={
                    "blueprint_id": str(report.blueprint_id),
                    "execution_id": str(report.execution_id),
                },
            )
