"""The planner and the executor as two background loops, each on its own interval (like the
upstream control plane's background tasks).

Each activation is logged as one structured line and handed, as an :class:`Activation`, to the
observers the caller registered (the daemon's status document and metrics). The executor
realizes the current target only when it is enabled; the planner makes a new target only when
something changed. One :class:`~reconfigurator.executor.Executor` serves every activation and
is rebuilt only when the target blueprint changes, so a blueprint is read from the database
once while it is the target. Setting the stop event lets the activation in progress finish (its
transaction commits or rolls back) and then ends both loops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.engine import Engine

from reconfigurator.db.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from reconfigurator.db.targets import Target, current_target
from reconfigurator.executor import ExecutionReport, Executor
from reconfigurator.networking.policy import MissingRowPolicy
from reconfigurator.planner import IdSource, RandomIds, ZonePolicy
from reconfigurator.replan import plan_once

_log = logging.getLogger("reconfigurator.background")

PLANNER = "planner"
EXECUTOR = "executor"


@dataclass(frozen=True, slots=True)
class Activation:
    """What one activation of a loop did: its outcome, when and for how long, the fields it
    logged, and (executor) the run's report and the target it saw."""

    loop: str
    outcome: str
    time_started: datetime
    duration_s: float
    fields: dict[str, Any]
    report: ExecutionReport | None = None
    target: Target | None = None


#: Called after every activation, on the loop's thread; must not raise (errors are logged).
ActivationObserver = Callable[[Activation], None]


@dataclass
class LoopStats:
    """Counts of one loop and its last activation."""

    activations: int = 0
    failures: int = 0
    last: dict[str, Any] = field(default_factory=dict)
    last_activation: Activation | None = None
    #: An activation is in progress.
    busy: bool = False


@dataclass
class _Result:
    fields: dict[str, Any]
    report: ExecutionReport | None = None
    target: Target | None = None


@dataclass
class BackgroundTasks:
    """The planner and the executor as two loops over one engine, like upstream's background
    tasks: :meth:`start` runs them in threads, :meth:`run` until a stop event is set, and the
    ``*_activation`` methods run one activation each, synchronously.
    """

    engine: Engine
    plan_interval_s: float = 10.0
    execute_interval_s: float = 5.0
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED
    ids: IdSource = field(default_factory=RandomIds)
    zone_policy: ZonePolicy | None = None
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    #: Builds the executor (control-plane code adds its steps here); default: the built-in step.
    executor_factory: Callable[[], Executor] | None = None
    observers: list[ActivationObserver] = field(default_factory=list)
    planner: LoopStats = field(default_factory=LoopStats)
    executor: LoopStats = field(default_factory=LoopStats)
    _executor: Executor | None = field(default=None, init=False, repr=False)
    _executor_blueprint: UUID | None = field(default=None, init=False, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False, repr=False)
    _last_report: ExecutionReport | None = field(default=None, init=False, repr=False)
    _last_repairing_report: ExecutionReport | None = field(default=None, init=False, repr=False)

    @property
    def executor_last_report(self) -> ExecutionReport | None:
        """The report of the executor loop's last run (``None`` before its first)."""
        return self._last_report

    @property
    def executor_last_repairing_report(self) -> ExecutionReport | None:
        """The report of the executor loop's last run that met never-created rows for the
        first time (and recorded their repairs)."""
        return self._last_repairing_report

    def executor_for(self, blueprint_id: UUID) -> Executor:
        """The executor for ``blueprint_id``: the one already built while it stays the target,
        a new one when the target changed."""
        if self._executor is None or self._executor_blueprint != blueprint_id:
            if self.executor_factory is not None:
                self._executor = self.executor_factory()
            else:
                self._executor = Executor(
                    self.engine, missing_rows=self.missing_rows, retry_policy=self.retry_policy
                )
            self._executor_blueprint = blueprint_id
            _log.debug("executor built", extra={"blueprint_id": str(blueprint_id)})
        return self._executor

    def plan_activation(self) -> dict[str, Any]:
        """One activation of the planner loop (a planning pass), counted, logged and handed
        to the observers as the loop does it; the fields of its log line."""
        return self._activate(PLANNER, self._plan, self.planner)

    def execute_activation(self) -> dict[str, Any]:
        """One activation of the executor loop (a run against the current target when it is
        enabled), as the loop does it; the fields of its log line."""
        return self._activate(EXECUTOR, self._execute, self.executor)

    def _plan(self) -> _Result:
        outcome = plan_once(
            self.engine,
            ids=self.ids,
            zone_policy=self.zone_policy,
            set_as_target=True,
            retry_policy=self.retry_policy,
        )
        fields = {
            "outcome": "new_target" if outcome.changed else "unchanged",
            "blueprint_id": str(outcome.blueprint.id) if outcome.blueprint else None,
            "parent_blueprint_id": str(outcome.parent.id) if outcome.parent else None,
            "notes": "; ".join(outcome.notes) or None,
        }
        return _Result(fields, target=outcome.target)

    def _execute(self) -> _Result:
        with self.engine.connect() as conn:
            target = current_target(conn)
        if target is None:
            return _Result({"outcome": "no_target"})
        if not target.enabled:
            return _Result(
                {"outcome": "disabled", "blueprint_id": str(target.blueprint_id)}, target=target
            )
        report = self.executor_for(target.blueprint_id).execute(target.blueprint_id)
        self._last_report = report
        if any(step.details.get("repairs") for step in report.steps):
            self._last_repairing_report = report
        fields = {
            "outcome": report.outcome,
            "blueprint_id": str(report.blueprint_id),
            "execution_id": str(report.execution_id),
            "failed_step": report.failed_step,
            "error": report.error,
        }
        return _Result(fields, report=report, target=target)

    def _activate(
        self, name: str, activation: Callable[[], _Result], stats: LoopStats
    ) -> dict[str, Any]:
        began = time.perf_counter()
        time_started = datetime.now(UTC)
        stats.busy = True
        try:
            result = activation()
        except Exception as exc:  # a loop must survive anything one activation hits
            stats.failures += 1
            result = _Result({"outcome": "error", "error": f"{type(exc).__name__}: {exc}"})
        finally:
            stats.busy = False
        fields = result.fields
        stats.activations += 1
        duration = time.perf_counter() - began
        fields["duration_s"] = round(duration, 4)
        stats.last = fields
        done = Activation(
            name, fields["outcome"], time_started, duration, fields, result.report, result.target
        )
        stats.last_activation = done
        level = logging.WARNING if fields["outcome"] in {"error", "failed"} else logging.INFO
        _log.log(level, "%s activation", name, extra={"task": name, **fields})
        for observer in self.observers:
            try:
                observer(done)
            except Exception:
                _log.exception("activation observer failed", extra={"task": name})
        return fields

    def _loop(
        self,
        name: str,
        interval_s: float,
        activation: Callable[[], _Result],
        stats: LoopStats,
        stop: threading.Event,
    ) -> None:
        while not stop.is_set():
            self._activate(name, activation, stats)
            stop.wait(interval_s)

    def start(self, stop: threading.Event) -> None:
        """Start both loops on their own threads; they end once ``stop`` is set and the
        activation in progress is over. The threads are daemon threads: a process that gives
        up waiting for a stuck activation may exit (its transaction then rolls back)."""
        if self._threads:
            raise RuntimeError("the background tasks were already started")
        loops = (
            (PLANNER, self.plan_interval_s, self._plan, self.planner),
            (EXECUTOR, self.execute_interval_s, self._execute, self.executor),
        )
        self._threads = [
            threading.Thread(
                target=self._loop,
                args=(name, interval, activation, stats, stop),
                name=f"recon-{name}",
                daemon=True,
            )
            for name, interval, activation, stats in loops
        ]
        _log.info(
            "background tasks started",
            extra={
                "plan_interval_s": self.plan_interval_s,
                "execute_interval_s": self.execute_interval_s,
            },
        )
        for thread in self._threads:
            thread.start()

    def loops_alive(self) -> bool:
        """Both loops were started and are running."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for both loops to end (at most ``timeout_s`` in all); whether they did."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        finished = not any(thread.is_alive() for thread in self._threads)
        if finished and self._threads:
            _log.info(
                "background tasks stopped",
                extra={
                    "planner_activations": self.planner.activations,
                    "executor_activations": self.executor.activations,
                },
            )
        return finished

    def run(self, stop: threading.Event) -> None:
        """Run both loops until ``stop`` is set; returns once both have finished."""
        self.start(stop)
        self.join()
