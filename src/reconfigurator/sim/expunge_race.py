"""Replay the disk-expungement race end to end on a real database.

A rack is built and its initial blueprint planned and executed. Then one sled hosting a Nexus
has its disks expunged one at a time, in pool-id order; after each, the planner makes a child,
the child becomes the target, and the executor runs — except when the child has just placed a
zone with external networking on the disk that is expunged next. Then the executor does not
get to run before the next plan, which is what happened in production: the planner's
placement rules put the replacement Nexus on the next disk of the same sled, that disk was
expunged before the executor ran, and the replacement's rows were never created.

Nothing here is scripted to a particular zone: the skip is detected from the plans.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final
from uuid import UUID

from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.diff import diff_blueprints
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.rack import add_sled, expunge_disk
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.service_pools import add_pool_range
from reconfigurator.errors import InputError, RecordNotFound
from reconfigurator.executor import Executor
from reconfigurator.executor.report import ExecutionReport
from reconfigurator.networking.policy import MissingRowPolicy
from reconfigurator.planner import SeededIds
from reconfigurator.replan import PlanOutcome, plan_once

SERVICE_RANGE: Final = ("192.0.2.1", "192.0.2.62")
DEFAULT_SLEDS: Final = 3
DEFAULT_DISKS_PER_SLED: Final = 10
#: How many more executor runs to show once the executor is stuck.
STUCK_RUNS: Final = 3


@dataclass(frozen=True, slots=True)
class ZoneChange:
    """A zone the planner placed or expunged: its kind, sled and pool."""

    zone_id: UUID
    kind: str
    sled_id: UUID
    pool_id: UUID

    def to_json(self) -> dict[str, str]:
        return {
            "zone_id": str(self.zone_id),
            "kind": self.kind,
            "sled_id": str(self.sled_id),
            "pool_id": str(self.pool_id),
        }


@dataclass(slots=True)
class TimelineEntry:
    """One step: what was expunged, what the planner did, what the executor did."""

    step: int
    action: str
    disk_pool_id: UUID | None = None
    blueprint_id: UUID | None = None
    zones_expunged: list[ZoneChange] = field(default_factory=list)
    zones_added: list[ZoneChange] = field(default_factory=list)
    executor: str = "not run"
    execution_error: str | None = None
    repairs: int = 0
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "action": self.action,
            "disk_pool_id": str(self.disk_pool_id) if self.disk_pool_id else None,
            "blueprint_id": str(self.blueprint_id) if self.blueprint_id else None,
            "zones_expunged": [z.to_json() for z in self.zones_expunged],
            "zones_added": [z.to_json() for z in self.zones_added],
            "executor": self.executor,
            "execution_error": self.execution_error,
            "repairs": self.repairs,
            "note": self.note,
        }


@dataclass(slots=True)
class RaceResult:
    """The replayed race: its timeline, the zones whose rows were never created, and where
    an executor under the ``fail`` policy got stuck.
    """

    seed: int
    missing_rows: MissingRowPolicy
    sled_id: UUID | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    #: Zones placed and expunged again before any executor run created their rows.
    never_executed_zones: list[UUID] = field(default_factory=list)
    #: The zone a stuck executor keeps failing on (``fail`` policy), if it got stuck.
    stuck_on_zone: UUID | None = None
    converged: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "missing_rows": self.missing_rows.value,
            "sled_id": str(self.sled_id) if self.sled_id else None,
            "timeline": [entry.to_json() for entry in self.timeline],
            "never_executed_zones": [str(z) for z in self.never_executed_zones],
            "stuck_on_zone": str(self.stuck_on_zone) if self.stuck_on_zone else None,
            "converged": self.converged,
        }


def _zone_change(blueprint: Blueprint, zone_id: UUID) -> ZoneChange:
    zone = blueprint.zone(zone_id)
    sled = blueprint.sled_of_zone(zone_id)
    if zone is None or sled is None:  # pragma: no cover - ids come from the same blueprint
        raise KeyError(zone_id)
    return ZoneChange(zone_id, zone.kind.value, sled.id, zone.filesystem_pool)


def _changes(
    parent: Blueprint | None, child: Blueprint
) -> tuple[list[ZoneChange], list[ZoneChange]]:
    if parent is None:
        return [], [_zone_change(child, zone.id) for zone in child.all_zones()]
    diff = diff_blueprints(parent, child)
    return (
        [_zone_change(child, entry.zone_id) for entry in diff.zones_expunged],
        [_zone_change(child, entry.zone_id) for entry in diff.zones_added],
    )


def _doomed_sled(blueprint: Blueprint) -> UUID:
    """The first sled (by id) hosting an in-service Nexus."""
    for sled, zone in blueprint.zones():
        if zone.is_in_service and zone.kind.value == "nexus":
            return sled.id
    raise InputError("the initial blueprint has no Nexus zone to race against")


class _Race:
    def __init__(
        self,
        engine: Engine,
        seed: int,
        missing_rows: MissingRowPolicy,
        on_step: Callable[[TimelineEntry], None] | None,
    ) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        self.ids = SeededIds(seed)
        self.result = RaceResult(seed, missing_rows)
        self.executor = Executor(engine, missing_rows=missing_rows)
        self.on_step = on_step
        self.last_report: ExecutionReport | None = None

    def emit(self, entry: TimelineEntry) -> None:
        self.result.timeline.append(entry)
        if self.on_step is not None:
            self.on_step(entry)

    def execute(self, entry: TimelineEntry, blueprint_id: UUID) -> ExecutionReport:
        report = self.executor.execute(blueprint_id)
        entry.executor = report.outcome
        entry.execution_error = report.error
        if report.steps:
            entry.repairs = len(report.steps[0].details.get("repairs", []))
        self.last_report = report
        return report

    def new_id(self) -> UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def build_rack(self, sleds: int, disks_per_sled: int) -> Blueprint:
        def body(conn: Connection) -> None:
            if conn.exec_driver_sql("SELECT count(*) FROM blueprint").scalar():
                raise InputError("the database already holds blueprints: use a fresh database")
            add_pool_range(conn, *SERVICE_RANGE)
            for _ in range(sleds):
                add_sled(conn, disks=disks_per_sled, new_id=self.new_id)

        run_transaction(self.engine, body)
        initial = plan_once(self.engine, ids=self.ids, set_as_target=True)
        if initial.blueprint is None:  # pragma: no cover - a new rack always changes
            raise InputError("the planner made no initial blueprint")
        entry = TimelineEntry(0, "initial rack", blueprint_id=initial.blueprint.id)
        entry.zones_expunged, entry.zones_added = _changes(None, initial.blueprint)
        self.execute(entry, initial.blueprint.id)
        self.emit(entry)
        return initial.blueprint

    def expunge_disks(self, current: Blueprint) -> Blueprint:
        doomed = _doomed_sled(current)
        self.result.sled_id = doomed
        sled = current.sled(doomed)
        assert sled is not None
        pools = sorted(disk.pool_id for disk in sled.disks)
        unexecuted: set[UUID] = set()
        for index, pool in enumerate(pools, start=1):
            run_transaction(self.engine, partial(expunge_disk, disk_or_pool_id=pool))
            outcome: PlanOutcome = plan_once(self.engine, ids=self.ids, set_as_target=True)
            entry = TimelineEntry(index, f"expunge disk {index}/{len(pools)}", disk_pool_id=pool)
            if outcome.blueprint is None:
                entry.note = "the planner found nothing to change"
                self.emit(entry)
                continue
            child = outcome.blueprint
            entry.blueprint_id = child.id
            entry.zones_expunged, entry.zones_added = _changes(current, child)
            self.result.never_executed_zones.extend(
                z.zone_id for z in entry.zones_expunged if z.zone_id in unexecuted
            )
            next_pool = pools[index] if index < len(pools) else None
            racing = [
                z for z in entry.zones_added if z.pool_id == next_pool and _networked(child, z)
            ]
            if racing:
                unexecuted.update(z.zone_id for z in racing)
                entry.note = (
                    f"{racing[0].kind} {str(racing[0].zone_id)[:8]} landed on the next disk"
                )
            else:
                self.execute(entry, child.id)
                unexecuted.clear()
            current = child
            self.emit(entry)
        return current

    def show_stuck(self, current: Blueprint, runs: int) -> None:
        report = self.last_report
        if report is None or not isinstance(report.exception, RecordNotFound):
            return
        stuck_on = UUID(str(report.exception.zone_id))
        for attempt in range(1, runs + 1):
            entry = TimelineEntry(
                len(self.result.timeline),
                f"executor run again ({attempt})",
                blueprint_id=current.id,
            )
            again = self.execute(entry, current.id)
            self.emit(entry)
            error = again.exception
            if not isinstance(error, RecordNotFound) or UUID(str(error.zone_id)) != stuck_on:
                return
        self.result.stuck_on_zone = stuck_on


def _networked(blueprint: Blueprint, change: ZoneChange) -> bool:
    zone = blueprint.zone(change.zone_id)
    return zone is not None and zone.networking is not None


def run_expunge_race(
    engine: Engine,
    *,
    sleds: int = DEFAULT_SLEDS,
    disks_per_sled: int = DEFAULT_DISKS_PER_SLED,
    seed: int = 0,
    missing_rows: MissingRowPolicy = MissingRowPolicy.TREAT_AS_DELETED,
    stuck_runs: int = STUCK_RUNS,
    on_step: Callable[[TimelineEntry], None] | None = None,
) -> RaceResult:
    """Run the simulation on a migrated database that holds no blueprints yet."""
    if sleds < 2:
        raise InputError("the race needs at least 2 sleds (one to expunge, one to move to)")
    if disks_per_sled < 2:
        raise InputError("the race needs at least 2 disks per sled")
    race = _Race(engine, seed, missing_rows, on_step)
    current = race.expunge_disks(race.build_rack(sleds, disks_per_sled))
    if missing_rows is MissingRowPolicy.FAIL:
        race.show_stuck(current, stuck_runs)
    last = race.last_report
    race.result.converged = last is not None and last.succeeded
    return race.result
