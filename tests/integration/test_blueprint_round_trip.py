"""Every blueprint the planner and the simulation make survives storage as rows: exported,
imported into another database and exported again, it is the same bytes, and it lints clean
against its parent there."""

from __future__ import annotations

from ipaddress import ip_network
from uuid import UUID

from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.blueprint.parse import parse_blueprint
from reconfigurator.db.blueprint_store import get_blueprint, insert_blueprint, list_blueprints
from reconfigurator.db.retry import run_transaction
from reconfigurator.sim.expunge_race import run_expunge_race
from reconfigurator.sim.scale import scaled_state
from reconfigurator.testing import DatabaseServer, fresh_database
from tests.blueprint_builder import RackBuilder
from tests.unit.test_planner import child_of, expunge_disk, input_of, make_rack


def _exports(engine: Engine) -> dict[UUID, str]:
    def body(conn: Connection) -> dict[UUID, str]:
        return {
            summary.id: get_blueprint(conn, summary.id).to_json()
            for summary in list_blueprints(conn)
        }

    return run_transaction(engine, body)


def _store(engine: Engine, blueprints: list[Blueprint]) -> None:
    for blueprint in blueprints:
        assert run_transaction(engine, lambda conn, b=blueprint: insert_blueprint(conn, b))


def _round_trip(db_server: DatabaseServer, exported: dict[UUID, str]) -> None:
    """Import every export (parents first) into a fresh database and export again."""
    parsed = {i: parse_blueprint(text) for i, text in exported.items()}
    ordered = sorted(parsed.values(), key=lambda b: (b.time_created, str(b.id)))
    with fresh_database(db_server) as other:
        _store(other, ordered)
        assert _exports(other) == exported
    for blueprint in ordered:
        parent_id = blueprint.parent_blueprint_id
        parent = parsed.get(parent_id) if parent_id is not None else None
        assert lint(blueprint, parent) == [], blueprint.id


def test_the_simulations_blueprints_round_trip(engine: Engine, db_server: DatabaseServer) -> None:
    result = run_expunge_race(engine, seed=5)
    assert result.converged
    exported = _exports(engine)
    assert len(exported) >= 3
    # The race changes external networking: the generation moved.
    generations = {
        parse_blueprint(text).external_networking_generation for text in exported.values()
    }
    assert len(generations) > 1
    _round_trip(db_server, exported)


def test_the_planners_blueprints_round_trip(engine: Engine, db_server: DatabaseServer) -> None:
    planning_input = make_rack(sleds=3, disks=3)
    chain = [child_of(None, planning_input)]
    for _ in range(3):
        parent = chain[-1]
        nexus = next(z for z in parent.in_service_zones() if z.kind.value == "nexus")
        chain.append(child_of(parent, expunge_disk(input_of(parent), nexus.filesystem_pool)))
    _store(engine, chain)
    exported = _exports(engine)
    assert exported == {b.id: b.to_json() for b in chain}
    _round_trip(db_server, exported)


def test_large_dual_stack_and_transit_blueprints_round_trip(
    engine: Engine, db_server: DatabaseServer
) -> None:
    large = scaled_state(2000, seed=2).blueprint
    rack = RackBuilder(seed=8)
    sled = rack.add_sled()
    dual = rack.add_zone(sled, "nexus", stack="dual")
    rack.add_zone(sled, "external_dns", stack="v6")
    built = rack.build()
    zone = built.zone(dual)
    assert zone is not None and zone.nic is not None
    nic = zone.nic.model_copy(
        update={"transit_ips": (ip_network("10.9.0.0/16"), ip_network("fd77::/48"))}
    )
    with_transit = built.model_copy(
        update={
            "sleds": tuple(
                s.model_copy(
                    update={
                        "zones": tuple(
                            z.model_copy(
                                update={"zone_type": z.zone_type.model_copy(update={"nic": nic})}
                            )
                            if z.id == dual
                            else z
                            for z in s.zones
                        )
                    }
                )
                for s in built.sleds
            )
        }
    )
    # Validated again from its JSON, so the copy is a blueprint the format accepts.
    with_transit = parse_blueprint(with_transit.to_json())
    assert '"transit_ips"' in with_transit.to_json()
    _store(engine, [large, with_transit])
    exported = _exports(engine)
    assert exported == {large.id: large.to_json(), with_transit.id: with_transit.to_json()}
    _round_trip(db_server, exported)
