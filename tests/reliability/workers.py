"""Processes of the concurrency test (started with the ``spawn`` method, so each is a fresh
interpreter that imports this module).

* :func:`executor_process` loops ``Executor.execute()`` on the current target until the
  deadline, classifying every run's outcome.
* :func:`planner_process` changes the planning input (expunge a disk or a sled, add a sled,
  keeping room for the zone policy), plans and sets the target, until the deadline.

Each writes its figures as JSON to ``result_path`` when it is done. Anything unexpected is
recorded with its message (and a short traceback) rather than raised, so the test can report
it; the process still exits 0 unless it crashes outright.
"""

from __future__ import annotations

import json
import logging
import random
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy.exc import DBAPIError

from reconfigurator.db.engine import make_engine
from reconfigurator.db.retry import RetryPolicy, is_retryable
from reconfigurator.errors import NotCurrentTarget, TransactionRetriesExhausted
from reconfigurator.executor import Executor
from reconfigurator.planner import SeededIds
from tests.reliability.scenarios import RackOperator

COMPLETED: Final = "completed"
NOT_CURRENT_TARGET: Final = "not_current_target"
RETRIES_EXHAUSTED: Final = "retries_exhausted"
SERIALIZATION_FAILURE: Final = "serialization_failure"
UNEXPECTED: Final = "unexpected"

#: Outcomes a run may have under concurrency; anything else fails the test.
ALLOWED_OUTCOMES: Final = frozenset(
    {COMPLETED, NOT_CURRENT_TARGET, RETRIES_EXHAUSTED, SERIALIZATION_FAILURE}
)

#: Executors under test retry like the default policy, but give up sooner so that runs
#: stay short under heavy contention on a small machine.
EXECUTOR_RETRY: Final = RetryPolicy(max_attempts=8, base_delay_s=0.005, max_delay_s=0.2)

_MAX_RECORDED_ERRORS: Final = 20
START_TIMEOUT_S: Final = 120.0


def classify(exc: BaseException | None) -> str:
    if exc is None:
        return COMPLETED
    if isinstance(exc, NotCurrentTarget):
        return NOT_CURRENT_TARGET
    if isinstance(exc, TransactionRetriesExhausted):
        return RETRIES_EXHAUSTED
    if isinstance(exc, DBAPIError) and is_retryable(exc):
        return SERIALIZATION_FAILURE
    return UNEXPECTED


def _describe(exc: BaseException) -> str:
    brief = traceback.format_exception_only(type(exc), exc)[-1].strip()
    where = "".join(traceback.format_tb(exc.__traceback__)[-3:]) if exc.__traceback__ else ""
    return f"{brief}\n{where}"


def _write(result_path: str, data: dict[str, Any]) -> None:
    path = Path(result_path)
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(json.dumps(data, indent=2))
    scratch.replace(path)


@dataclass(frozen=True)
class Start:
    """How a process starts: it reports ``ready``, waits for ``go``, and runs until the
    deadline the test has written into ``deadline`` (a ``time.time()`` value)."""

    ready: Any  # multiprocessing Queue
    go: Any  # multiprocessing Event
    deadline: Any  # multiprocessing Value('d')

    def wait(self, name: str) -> float:
        self.ready.put(name)
        if not self.go.wait(START_TIMEOUT_S):
            raise TimeoutError(f"{name}: never told to start")
        return float(self.deadline.value)


def executor_process(url: str, seed: int, result_path: str, start: Start) -> None:
    """Execute the current target again and again until the deadline."""
    logging.disable(logging.WARNING)  # failed runs are expected here; they are counted
    rng = random.Random(seed)
    engine = make_engine(url)
    executor = Executor(engine, retry_policy=EXECUTOR_RETRY)
    deadline = start.wait(f"executor-{seed}")
    outcomes: Counter[str] = Counter()
    errors: list[str] = []
    attempts = 0
    repairs = 0
    blueprints: set[str] = set()
    try:
        while time.time() < deadline:
            try:
                report = executor.execute()
            except Exception as exc:  # a run that could not even start
                outcome = classify(exc)
                if outcome == UNEXPECTED and len(errors) < _MAX_RECORDED_ERRORS:
                    errors.append(f"raised: {_describe(exc)}")
            else:
                outcome = classify(report.exception)
                blueprints.add(str(report.blueprint_id))
                if report.succeeded:
                    attempts += int(report.steps[0].details.get("attempts", 1))
                    repairs += len(report.steps[0].details.get("repairs", ()))
                elif outcome == UNEXPECTED and len(errors) < _MAX_RECORDED_ERRORS:
                    assert report.exception is not None
                    errors.append(f"run failed: {_describe(report.exception)}")
            outcomes[outcome] += 1
            time.sleep(rng.uniform(0, 0.01))
    finally:
        engine.dispose()
        _write(
            result_path,
            {
                "outcomes": dict(outcomes),
                "errors": errors,
                "step_attempts_of_completed_runs": attempts,
                "repairs": repairs,
                "blueprints_executed": len(blueprints),
            },
        )


def planner_process(url: str, seed: int, result_path: str, start: Start) -> None:
    """Change the planning input and plan a new target, again and again, until the deadline."""
    logging.disable(logging.WARNING)
    rng = random.Random(seed)
    engine = make_engine(url)
    rack = RackOperator(engine, SeededIds(seed))
    deadline = start.wait("planner")
    errors: list[str] = []
    new_targets = 0
    try:
        while time.time() < deadline:
            try:
                roll = rng.random()
                disks = rack.expungeable_disks()
                sleds = rack.expungeable_sleds()
                if roll < 0.2 and disks:
                    # Two targets at once: the first is never executed (zones never created).
                    new_targets += rack.race(rng.randrange(1 << 16))
                else:
                    if roll < 0.7 and disks:
                        rack.expunge_disk(rng.choice(disks).id)
                    elif roll < 0.8 and sleds:
                        rack.expunge_sled(rng.choice(sleds).id)
                    else:
                        rack.add_sled(rng.randint(2, 4))
                    new_targets += int(rack.plan().changed)
            except Exception as exc:
                if len(errors) < _MAX_RECORDED_ERRORS:
                    errors.append(_describe(exc))
            # Sometimes plan again at once (the executors skip a target), sometimes let them run.
            time.sleep(rng.choice([0.0, 0.0, rng.uniform(0.05, 0.3)]))
    finally:
        engine.dispose()
        _write(
            result_path,
            {"actions": dict(rack.actions), "new_targets": new_targets, "errors": errors},
        )
