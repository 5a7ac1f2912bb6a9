"""The background executor loop keeps one executor while the target stays the same."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from reconfigurator.background import BackgroundTasks
from reconfigurator.testing import statements_sent
from tests.db_support import make_target
from tests.race import build_race


def _blueprint_reads(statements: list[str]) -> int:
    """Statements that read a stored blueprint document."""
    return sum(1 for s in statements if "blueprint.document" in s)


def test_the_target_blueprint_is_read_once_over_many_activations(engine: Engine) -> None:
    race = build_race(engine)
    make_target(engine, race.a)
    tasks = BackgroundTasks(engine)

    with statements_sent(engine) as statements:
        outcomes = [tasks.execute_activation()["outcome"] for _ in range(4)]
    assert outcomes == ["completed"] * 4
    assert _blueprint_reads(statements) == 1
    first = tasks.executor_for(race.a.id)

    # A new target: the executor is built again, and the new blueprint read once.
    make_target(engine, race.b)
    with statements_sent(engine) as statements:
        outcomes = [tasks.execute_activation()["outcome"] for _ in range(3)]
    assert outcomes == ["completed"] * 3
    assert _blueprint_reads(statements) == 1
    assert tasks.executor_for(race.b.id) is not first


def test_a_disabled_target_is_not_executed_and_keeps_the_executor(engine: Engine) -> None:
    race = build_race(engine)
    make_target(engine, race.a)
    tasks = BackgroundTasks(engine)
    assert tasks.execute_activation()["outcome"] == "completed"
    kept = tasks.executor_for(race.a.id)
    make_target(engine, race.a, enabled=False)
    assert tasks.execute_activation()["outcome"] == "disabled"
    make_target(engine, race.a, enabled=True)
    with statements_sent(engine) as statements:
        assert tasks.execute_activation()["outcome"] == "completed"
    assert _blueprint_reads(statements) == 0
    assert tasks.executor_for(race.a.id) is kept
