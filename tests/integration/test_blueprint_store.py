"""Storing blueprints in a real database: round trips, idempotence, prefixes, deletion."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.blueprint.parse import parse_blueprint
from reconfigurator.db import blueprint_store, schema
from reconfigurator.db.retry import run_transaction
from reconfigurator.db.targets import set_target
from reconfigurator.errors import (
    AmbiguousBlueprintId,
    BlueprintContentConflict,
    BlueprintInTargetHistory,
    BlueprintIsTarget,
    BlueprintNotFound,
    InputError,
)
from tests.blueprint_builder import RackBuilder


def _chain(seed: int, length: int) -> list[Blueprint]:
    rack = RackBuilder(seed=seed)
    sled = rack.add_sled()
    zones = [rack.add_zone(sled, "nexus"), rack.add_zone(sled, "boundary_ntp")]
    chain = [rack.build(comment="first")]
    for index in range(1, length):
        if index - 1 < len(zones):
            rack.expunge_zone(zones[index - 1])
        rack.add_zone(sled, "external_dns")
        chain.append(rack.build(comment=f"step {index}"))
    return chain


def _insert(engine: Engine, blueprint: Blueprint) -> bool:
    return run_transaction(engine, lambda conn: blueprint_store.insert_blueprint(conn, blueprint))


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(schema.blueprint_table)).scalar_one()
        )


def _with_id(blueprint: Blueprint, new_id: str) -> Blueprint:
    doc = blueprint.to_document()
    doc["id"] = new_id
    return Blueprint.model_validate(doc)


def test_round_trip_through_the_database_is_byte_identical(engine: Engine) -> None:
    (blueprint,) = _chain(seed=31, length=1)
    text = blueprint.to_json()
    assert _insert(engine, parse_blueprint(text))
    stored = run_transaction(engine, lambda conn: blueprint_store.get_blueprint(conn, blueprint.id))
    assert stored == blueprint
    assert stored.to_json() == text
    with engine.connect() as conn:
        row = conn.execute(
            select(schema.blueprint_table).where(schema.blueprint_table.c.id == blueprint.id)
        ).one()
    assert row.parent_blueprint_id is None
    assert row.creator == "test"
    assert row.comment == "first"
    assert row.time_created == blueprint.time_created
    assert row.external_networking_generation == 1
    with engine.connect() as conn:
        zones = conn.execute(
            select(func.count())
            .select_from(schema.bp_omicron_zone_table)
            .where(schema.bp_omicron_zone_table.c.blueprint_id == blueprint.id)
        ).scalar_one()
        nics = conn.execute(
            select(func.count())
            .select_from(schema.bp_omicron_zone_nic_table)
            .where(schema.bp_omicron_zone_nic_table.c.blueprint_id == blueprint.id)
        ).scalar_one()
    assert zones == sum(1 for _ in blueprint.all_zones())
    assert nics == sum(1 for _ in blueprint.zones_with_external_networking())


def test_insert_is_idempotent_and_refuses_different_content(engine: Engine) -> None:
    (blueprint,) = _chain(seed=32, length=1)
    assert _insert(engine, blueprint) is True
    assert _insert(engine, Blueprint.from_json(blueprint.to_json())) is False
    assert _count(engine) == 1

    doc = blueprint.to_document()
    doc["comment"] = "something else"
    with pytest.raises(BlueprintContentConflict) as caught:
        _insert(engine, Blueprint.model_validate(doc))
    assert caught.value.blueprint_id == blueprint.id
    assert str(blueprint.id) in str(caught.value)
    assert _count(engine) == 1
    stored = run_transaction(engine, lambda conn: blueprint_store.get_blueprint(conn, blueprint.id))
    assert stored.comment == "first"


def test_list_is_newest_first_and_marks_the_target(engine: Engine) -> None:
    chain = _chain(seed=33, length=3)
    for blueprint in reversed(chain):
        _insert(engine, blueprint)
    run_transaction(engine, lambda conn: set_target(conn, chain[0].id))
    run_transaction(engine, lambda conn: set_target(conn, chain[1].id))

    listed = run_transaction(engine, blueprint_store.list_blueprints)
    assert [s.id for s in listed] == [b.id for b in reversed(chain)]
    assert [s.is_target for s in listed] == [False, True, False]
    assert listed[0].parent_blueprint_id == chain[1].id
    assert listed[0].comment == "step 2"


def test_resolve_full_ids_and_unique_prefixes(engine: Engine) -> None:
    (base,) = _chain(seed=34, length=1)
    first = _with_id(base, "abcd0000-0000-4000-8000-000000000001")
    second = _with_id(base, "abcd0000-0000-4000-8000-000000000002")
    third = _with_id(base, "abce0000-0000-4000-8000-000000000003")
    for blueprint in (first, second, third):
        _insert(engine, blueprint)

    def resolve(reference: str) -> uuid.UUID:
        return run_transaction(
            engine, lambda conn: blueprint_store.resolve_blueprint_id(conn, reference)
        )

    assert resolve(str(first.id)) == first.id
    assert resolve(str(first.id).upper()) == first.id
    assert resolve("abce") == third.id
    assert resolve("ABCD0000-0000-4000-8000-000000000002") == second.id
    with pytest.raises(AmbiguousBlueprintId) as ambiguous:
        resolve("abcd")
    assert str(first.id) in str(ambiguous.value)
    assert str(second.id) in str(ambiguous.value)
    with pytest.raises(BlueprintNotFound):
        resolve("ffff")
    with pytest.raises(BlueprintNotFound):
        resolve(str(uuid.UUID(int=7)))
    for bad in ("abc", "abcd%", "ab_d", "not-hex!"):
        with pytest.raises(InputError):
            resolve(bad)


def test_a_prefix_is_not_a_pattern(engine: Engine) -> None:
    (base,) = _chain(seed=35, length=1)
    _insert(engine, _with_id(base, "abcd0000-0000-4000-8000-000000000001"))
    with pytest.raises(BlueprintNotFound):
        run_transaction(engine, lambda conn: blueprint_store.resolve_blueprint_id(conn, "bcd0"))


def test_delete_refuses_current_and_past_targets(engine: Engine) -> None:
    chain = _chain(seed=36, length=3)
    for blueprint in chain:
        _insert(engine, blueprint)
    run_transaction(engine, lambda conn: set_target(conn, chain[0].id))
    run_transaction(engine, lambda conn: set_target(conn, chain[1].id))

    def delete(blueprint_id: uuid.UUID) -> None:
        run_transaction(engine, lambda conn: blueprint_store.delete_blueprint(conn, blueprint_id))

    with pytest.raises(BlueprintIsTarget) as current:
        delete(chain[1].id)
    assert str(chain[1].id) in str(current.value)
    with pytest.raises(BlueprintInTargetHistory) as past:
        delete(chain[0].id)
    assert past.value.versions == [1]
    assert str(chain[0].id) in str(past.value)
    assert _count(engine) == 3

    delete(chain[2].id)
    assert _count(engine) == 2
    with pytest.raises(BlueprintNotFound):
        delete(chain[2].id)


def test_get_of_a_missing_blueprint(engine: Engine) -> None:
    missing = uuid.UUID(int=42)

    def body(conn: Connection) -> Blueprint:
        return blueprint_store.get_blueprint(conn, missing)

    with pytest.raises(BlueprintNotFound) as caught:
        run_transaction(engine, body)
    assert str(missing) in str(caught.value)
