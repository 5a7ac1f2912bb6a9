"""The background executor loop keeps one executor while the target stays the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from reconfigurator.background import BackgroundTasks
from reconfigurator.executor import external_networking
from tests.db_support import make_target
from tests.race import build_race


@pytest.fixture
def blueprint_reads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The blueprint ids step 1 reads what a blueprint asks for from the database."""
    reads: list[Any] = []
    real: Callable[..., Any] = external_networking.load_blueprint_networking

    def counting(conn: Any, blueprint_id: Any) -> Any:
        reads.append(blueprint_id)
        return real(conn, blueprint_id)

    monkeypatch.setattr(external_networking, "load_blueprint_networking", counting)
    return reads


def test_the_target_blueprint_is_read_once_over_many_activations(
    engine: Engine, blueprint_reads: list[Any]
) -> None:
    race = build_race(engine)
    make_target(engine, race.a)
    tasks = BackgroundTasks(engine)

    outcomes = [tasks.execute_activation()["outcome"] for _ in range(4)]
    assert outcomes == ["completed"] * 4
    assert blueprint_reads == [race.a.id]
    first = tasks.executor_for(race.a.id)

    # A new target: the executor is built again, and the new blueprint read once.
    make_target(engine, race.b)
    outcomes = [tasks.execute_activation()["outcome"] for _ in range(3)]
    assert outcomes == ["completed"] * 3
    assert blueprint_reads == [race.a.id, race.b.id]
    assert tasks.executor_for(race.b.id) is not first


def test_a_disabled_target_is_not_executed_and_keeps_the_executor(
    engine: Engine, blueprint_reads: list[Any]
) -> None:
    race = build_race(engine)
    make_target(engine, race.a)
    tasks = BackgroundTasks(engine)
    assert tasks.execute_activation()["outcome"] == "completed"
    kept = tasks.executor_for(race.a.id)
    make_target(engine, race.a, enabled=False)
    assert tasks.execute_activation()["outcome"] == "disabled"
    make_target(engine, race.a, enabled=True)
    assert tasks.execute_activation()["outcome"] == "completed"
    assert blueprint_reads == [race.a.id]
    assert tasks.executor_for(race.a.id) is kept
