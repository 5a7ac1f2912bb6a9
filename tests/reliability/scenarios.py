"""Racks and converging states for the reliability tests, all seeded (deterministic ids).

:class:`RackOperator` does what an operator and the planner do through the library: add sleds,
expunge disks and sleds (only while the zone policy can still be met), plan and set targets.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.blueprint_store import get_blueprint, insert_blueprint
from reconfigurator.db.engine import make_engine
from reconfigurator.db.planning_input import load_planning_input
from reconfigurator.db.rack import (
    DiskRecord,
    SledRecord,
    add_sled,
    expunge_disk,
    expunge_sled,
    list_sleds,
)
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.service_pools import add_pool_range
from reconfigurator.db.targets import current_target, set_target
from reconfigurator.executor import Executor
from reconfigurator.planner import SeededIds, plan
from reconfigurator.replan import PlanOutcome, plan_once
from reconfigurator.testing import DatabaseServer
from tests.db_support import make_target
from tests.race import build_race

SERVICE_RANGE: Final = ("192.0.2.1", "192.0.2.62")

#: After any expunge at least this many sleds must keep an in-service disk, and this many
#: in-service pools must remain: the default zone policy (3 Nexus, 3 external DNS, 2 boundary
#: NTP, at most one boundary NTP per sled) then always has room, with a margin of one.
MIN_ELIGIBLE_SLEDS: Final = 3
MIN_IN_SERVICE_POOLS: Final = 4


def _in_service_pools(sled: SledRecord) -> list[DiskRecord]:
    return [d for d in sled.disks if d.policy == "in_service" and d.state == "active"]


def _eligible(sleds: Iterable[SledRecord]) -> list[SledRecord]:
    return [
        s
        for s in sleds
        if s.policy == "in_service" and s.state == "active" and _in_service_pools(s)
    ]


@dataclass
class RackOperator:
    """Planning input changes and planning passes, with seeded ids."""

    engine: Engine
    ids: SeededIds
    actions: dict[str, int] = field(default_factory=dict)

    def _count(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1

    def sleds(self) -> list[SledRecord]:
        with self.engine.connect() as conn:
            return list_sleds(conn)

    def add_pool_range(self, first: str = SERVICE_RANGE[0], last: str = SERVICE_RANGE[1]) -> None:
        run_transaction(
            self.engine, lambda conn: add_pool_range(conn, first, last, new_id=self.ids.new_id)
        )

    def add_sled(self, disks: int) -> SledRecord:
        self._count("add_sled")
        return run_transaction(
            self.engine, lambda conn: add_sled(conn, disks=disks, new_id=self.ids.new_id)
        )

    def expungeable_disks(self) -> list[DiskRecord]:
        """In-service disks whose loss keeps the zone policy reachable (ordered by id)."""
        return _expungeable_disks(self.sleds())

    def expungeable_sleds(self) -> list[SledRecord]:
        sleds = self.sleds()
        return [s for s in _eligible(sleds) if _capacity_ok(sleds, without_sled=s.id)]

    def expunge_disk(self, disk_or_pool_id: UUID) -> None:
        self._count("expunge_disk")
        run_transaction(self.engine, lambda conn: expunge_disk(conn, disk_or_pool_id))

    def expunge_sled(self, sled_id: UUID) -> None:
        self._count("expunge_sled")
        run_transaction(self.engine, lambda conn: expunge_sled(conn, sled_id))

    def plan(self) -> PlanOutcome:
        outcome = plan_once(self.engine, ids=self.ids, set_as_target=True)
        self._count("plan_new_target" if outcome.changed else "plan_unchanged")
        return outcome

    def race(self, pick: int) -> int:
        """The production race in one transaction, so no executor can run in between: expunge
        a disk and plan; expunge the disk the planner just placed a zone on and plan again.
        The first of the two targets is never executed. Returns the targets set."""

        def body(conn: Connection) -> int:
            disks = _expungeable_disks(list_sleds(conn))
            if not disks:
                return 0
            expunge_disk(conn, disks[pick % len(disks)].id)
            parent, first = _plan_in(conn, self.ids)
            if first is None:
                return 0
            expungeable = {d.pool_id for d in _expungeable_disks(list_sleds(conn))}
            for zone_id in new_zones(parent, first):
                pool = _zone_pool(first, zone_id)
                if pool in expungeable:
                    expunge_disk(conn, pool)
                    _, second = _plan_in(conn, self.ids)
                    return 1 + (second is not None)
            return 1

        targets = run_transaction(self.engine, body)
        self._count("race")
        self.actions["plan_new_target"] = self.actions.get("plan_new_target", 0) + targets
        return targets

    def target(self) -> Blueprint | None:
        with self.engine.connect() as conn:
            target = current_target(conn)
            return get_blueprint(conn, target.blueprint_id) if target is not None else None


def _expungeable_disks(sleds: list[SledRecord]) -> list[DiskRecord]:
    found = [
        disk
        for sled in _eligible(sleds)
        for disk in _in_service_pools(sled)
        if _capacity_ok(sleds, without_disk=disk.id)
    ]
    return sorted(found, key=lambda d: d.id)


def _plan_in(conn: Connection, ids: SeededIds) -> tuple[Blueprint | None, Blueprint | None]:
    """Plan the child of the target and make it the target, in the caller's transaction;
    returns (parent, child or ``None`` when nothing changed)."""
    target = current_target(conn)
    parent = get_blueprint(conn, target.blueprint_id) if target is not None else None
    child = plan(parent, load_planning_input(conn), ids).blueprint
    if child is not None:
        insert_blueprint(conn, child)
        set_target(conn, child.id)
    return parent, child


def _capacity_ok(
    sleds: list[SledRecord], *, without_disk: UUID | None = None, without_sled: UUID | None = None
) -> bool:
    eligible = 0
    pools = 0
    for sled in sleds:
        if sled.id == without_sled or sled.policy != "in_service" or sled.state != "active":
            continue
        left = [d for d in _in_service_pools(sled) if d.id != without_disk]
        if left:
            eligible += 1
            pools += len(left)
    return eligible >= MIN_ELIGIBLE_SLEDS and pools >= MIN_IN_SERVICE_POOLS


def new_zones(parent: Blueprint | None, child: Blueprint) -> list[UUID]:
    """In-service zones with external networking that ``child`` adds to ``parent``."""
    known = {zone.id for zone in parent.all_zones()} if parent is not None else set()
    return [
        zone.id
        for zone in child.in_service_zones()
        if zone.networking is not None and zone.id not in known
    ]


def seeded_rack(engine: Engine, seed: int, *, sleds: int = 4, disks: int = 3) -> RackOperator:
    """A service pool range and ``sleds`` sleds; the initial blueprint planned and executed."""
    rack = RackOperator(engine, SeededIds(seed))
    rack.add_pool_range()
    for _ in range(sleds):
        rack.add_sled(disks)
    rack.plan()
    report = Executor(engine).execute()
    assert report.succeeded, report.error
    return rack


def _zone_pool(blueprint: Blueprint, zone_id: UUID) -> UUID:
    zone = blueprint.zone(zone_id)
    assert zone is not None
    return zone.filesystem_pool


def planner_race(engine: Engine, seed: int = 11) -> Blueprint:
    """The production race driven by the real planner; returns the converging target.

    A Nexus's disk is expunged and the planner places a replacement; before any executor
    runs, the replacement's disk is expunged too and the planner places another. The target
    then holds a live row to soft-delete (the first Nexus), rows never created (the first
    replacement: repairs) and rows to create (the second replacement).
    """
    rack = seeded_rack(engine, seed)
    initial = rack.target()
    assert initial is not None
    nexus = next(z for z in initial.in_service_zones() if z.kind.value == "nexus")
    rack.expunge_disk(nexus.filesystem_pool)
    first = rack.plan()
    assert first.blueprint is not None
    replacements = new_zones(initial, first.blueprint)
    assert replacements, "the planner placed no replacement"
    rack.expunge_disk(_zone_pool(first.blueprint, replacements[0]))
    second = rack.plan()
    assert second.blueprint is not None
    assert new_zones(first.blueprint, second.blueprint), "the planner placed no replacement"
    return second.blueprint


def hand_built_race(engine: Engine) -> Blueprint:
    """The production race as three hand-built blueprints A → B → C (C is the target;
    A was executed, B never was)."""
    race = build_race(engine)
    make_target(engine, race.a)
    report = Executor(engine).execute()
    assert report.succeeded, report.error
    make_target(engine, race.b)
    make_target(engine, race.c)
    return race.c


def target_blueprint(conn: Connection) -> Blueprint:
    target = current_target(conn)
    assert target is not None
    return get_blueprint(conn, target.blueprint_id)


@dataclass(frozen=True)
class SavedState:
    """A database holding a built state, cloned (PostgreSQL ``TEMPLATE``) for every use, so
    each copy starts from exactly the same rows."""

    server: DatabaseServer
    template: URL
    target: Blueprint

    def _admin(self, statement: str) -> None:
        admin = make_engine(self.server.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with admin.connect() as conn:
                conn.execute(text(statement))
        finally:
            admin.dispose()

    @contextlib.contextmanager
    def copy(self) -> Iterator[Engine]:
        name = f"recon_rel_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template.database}"')
        url = self.template.set(database=name)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
            self.server.drop_database(url)


@contextlib.contextmanager
def saved_state(
    server: DatabaseServer, build: Callable[[Engine], Blueprint]
) -> Iterator[SavedState]:
    """Build a state once (``build`` returns the target) and hand out copies of it."""
    url = server.create_database()
    engine = make_engine(url)
    try:
        target = build(engine)
    finally:
        engine.dispose()  # a template database must have no open connections
    try:
        yield SavedState(server, url, target)
    finally:
        server.drop_database(url)
