"""The target history in a real database, including two setters racing each other."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db import blueprint_store, schema
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.targets import (
    Target,
    current_target,
    set_target,
    set_target_enabled,
    target_history,
)
from reconfigurator.errors import BlueprintNotFound, NoTarget, TargetParentMismatch
from tests.blueprint_builder import RackBuilder


def _store_chain(engine: Engine, seed: int, length: int) -> list[Blueprint]:
    rack = RackBuilder(seed=seed)
    sled = rack.add_sled()
    rack.add_zone(sled, "nexus")
    chain = []
    for index in range(length):
        rack.add_zone(sled, "crucible")
        blueprint = rack.build(comment=f"#{index}")
        run_transaction(engine, lambda conn, b=blueprint: blueprint_store.insert_blueprint(conn, b))
        chain.append(blueprint)
    return chain


def _set(engine: Engine, blueprint_id: uuid.UUID, enabled: bool | None = None) -> Target:
    return run_transaction(engine, lambda conn: set_target(conn, blueprint_id, enabled=enabled))


def _current(engine: Engine) -> Target | None:
    return run_transaction(engine, current_target)


def test_no_target_yet(engine: Engine) -> None:
    assert _current(engine) is None
    assert run_transaction(engine, target_history) == []
    with pytest.raises(NoTarget):
        run_transaction(engine, lambda conn: set_target_enabled(conn, False))


def test_chain_of_targets_and_history(engine: Engine) -> None:
    a, b, c = _store_chain(engine, seed=41, length=3)
    first = _set(engine, a.id)
    assert (first.version, first.blueprint_id, first.enabled) == (1, a.id, True)
    second = _set(engine, b.id, enabled=False)
    assert (second.version, second.blueprint_id, second.enabled) == (2, b.id, False)
    third = _set(engine, c.id)  # keeps the current setting
    assert (third.version, third.enabled) == (3, False)
    assert third.time_made_target >= second.time_made_target

    history = run_transaction(engine, target_history)
    assert [(t.version, t.blueprint_id) for t in history] == [(3, c.id), (2, b.id), (1, a.id)]
    assert _current(engine) == third


def test_first_target_is_disabled_on_request(engine: Engine) -> None:
    (a,) = _store_chain(engine, seed=42, length=1)
    assert _set(engine, a.id, enabled=False).enabled is False


def test_enable_and_disable_the_current_target(engine: Engine) -> None:
    (a,) = _store_chain(engine, seed=43, length=1)
    _set(engine, a.id)
    same = _set(engine, a.id)  # nothing changes: no new version
    assert same.version == 1
    disabled = _set(engine, a.id, enabled=False)
    assert (disabled.version, disabled.enabled) == (2, False)
    enabled = run_transaction(engine, lambda conn: set_target_enabled(conn, True))
    assert (enabled.version, enabled.blueprint_id, enabled.enabled) == (3, a.id, True)
    unchanged = run_transaction(engine, lambda conn: set_target_enabled(conn, True))
    assert unchanged.version == 3


def test_first_target_must_have_no_parent(engine: Engine) -> None:
    _a, b = _store_chain(engine, seed=44, length=2)
    with pytest.raises(TargetParentMismatch) as caught:
        _set(engine, b.id)
    assert caught.value.current_target_id is None
    assert str(b.id) in str(caught.value)
    assert _current(engine) is None


def test_parent_must_be_the_current_target(engine: Engine) -> None:
    a, b, c = _store_chain(engine, seed=45, length=3)
    _set(engine, a.id)
    with pytest.raises(TargetParentMismatch) as caught:
        _set(engine, c.id)
    error = caught.value
    assert (error.blueprint_id, error.parent_id, error.current_target_id) == (c.id, b.id, a.id)
    assert str(c.id) in str(error)
    assert str(a.id) in str(error)
    current = _current(engine)
    assert current is not None
    assert current.blueprint_id == a.id

    _set(engine, b.id)
    with pytest.raises(TargetParentMismatch):
        _set(engine, a.id)  # going back is not allowed either


def test_unknown_blueprint(engine: Engine) -> None:
    with pytest.raises(BlueprintNotFound):
        _set(engine, uuid.UUID(int=5))


# --- two setters at once -----------------------------------------------------------------------


@dataclass
class _Setter:
    blueprint_id: uuid.UUID
    barrier: threading.Barrier
    attempts: int = 0
    retries: int = 0
    result: Target | None = None
    error: BaseException | None = None
    saw: list[uuid.UUID] = field(default_factory=list)

    def body(self, conn: Connection) -> Target:
        self.attempts += 1
        current = current_target(conn)
        assert current is not None
        self.saw.append(current.blueprint_id)
        if self.attempts == 1:
            # Both transactions have read the current target before either writes.
            self.barrier.wait(timeout=30)
        return set_target(conn, self.blueprint_id)

    def run(self, engine: Engine) -> None:
        def on_retry(_attempt: int, _error: DBAPIError) -> None:
            self.retries += 1

        try:
            self.result = run_transaction(engine, self.body, on_retry=on_retry)
        except BaseException as exc:  # reported to the main thread
            self.error = exc


@pytest.mark.parametrize("round_", range(5))
def test_two_children_set_concurrently_exactly_one_wins(engine: Engine, round_: int) -> None:
    rack = RackBuilder(seed=100 + round_)
    sled = rack.add_sled()
    rack.add_zone(sled, "nexus")
    parent = rack.build()
    doc = rack.document(comment="left")
    left = Blueprint.model_validate(doc)
    doc = rack.document(comment="right")
    right = Blueprint.model_validate(doc)
    assert left.parent_blueprint_id == right.parent_blueprint_id == parent.id
    for blueprint in (parent, left, right):
        run_transaction(engine, lambda conn, b=blueprint: blueprint_store.insert_blueprint(conn, b))
    _set(engine, parent.id)

    barrier = threading.Barrier(2)
    setters = [_Setter(left.id, barrier), _Setter(right.id, barrier)]
    threads = [threading.Thread(target=s.run, args=(engine,)) for s in setters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()

    winners = [s for s in setters if s.result is not None]
    losers = [s for s in setters if s.error is not None]
    assert len(winners) == 1, [s.error for s in setters]
    assert len(losers) == 1
    winner, loser = winners[0], losers[0]
    assert winner.result is not None
    assert (winner.result.version, winner.result.blueprint_id) == (2, winner.blueprint_id)
    assert winner.saw[0] == parent.id
    assert loser.saw[0] == parent.id  # it did read the old target before the winner wrote

    error = loser.error
    assert isinstance(error, TargetParentMismatch), repr(error)
    assert error.blueprint_id == loser.blueprint_id
    assert error.parent_id == parent.id
    assert error.current_target_id == winner.blueprint_id
    assert str(loser.blueprint_id) in str(error)
    assert str(winner.blueprint_id) in str(error)
    assert loser.retries >= 1  # the database made it start over, seeing the new target

    history = run_transaction(engine, target_history)
    assert [(t.version, t.blueprint_id) for t in history] == [
        (2, winner.blueprint_id),
        (1, parent.id),
    ]
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(schema.bp_target_table)).scalar_one()
    assert rows == 2
