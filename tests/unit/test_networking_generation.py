"""``external_networking_generation``: the planner bumps it exactly when the in-service
zones' external networking changes, and lint says when a child carries the wrong value."""

from __future__ import annotations

from reconfigurator.blueprint.lint import LintCode, lint
from reconfigurator.blueprint.networking_generation import expected_generation
from tests.blueprint_builder import RackBuilder
from tests.unit.test_planner import child_of, expunge_disk, input_of, make_rack


def test_a_first_blueprint_has_generation_one() -> None:
    first = child_of(None, make_rack())
    assert first.external_networking_generation == 1
    assert "external_networking_generation" not in first.to_document()


def test_the_planner_bumps_it_when_networking_changes_and_only_then() -> None:
    planning_input = make_rack(sleds=3, disks=3)
    first = child_of(None, planning_input)
    # Expunging a disk that holds a Nexus zone expunges the zone: networking changes.
    zone = next(z for z in first.in_service_zones() if z.kind.value == "nexus")
    second = child_of(first, expunge_disk(input_of(first), zone.filesystem_pool))
    assert second.external_networking_generation == 2
    assert second.to_document()["external_networking_generation"] == 2
    assert lint(second, first) == []

    # Expunging a disk that holds no zone with external networking keeps the value.
    networking_pools = {z.filesystem_pool for z in second.in_service_zones() if z.networking}
    quiet_pool = next(
        disk.pool_id
        for sled in second.sleds
        for disk in sled.disks
        if disk.is_in_service and disk.pool_id not in networking_pools
    )
    third = child_of(second, expunge_disk(input_of(second), quiet_pool))
    assert third.external_networking_generation == 2
    assert lint(third, second) == []


def test_lint_reports_a_wrong_value_against_the_parent() -> None:
    rack = RackBuilder(seed=3)
    sled = rack.add_sled(disks=2)
    nexus = rack.add_zone(sled, "nexus")
    parent = rack.build()
    rack.expunge_zone(nexus)
    child = rack.build()
    assert expected_generation(parent, child.sleds) == 2

    stale = child.model_copy(update={"external_networking_generation": 1})
    findings = lint(stale, parent)
    assert [f.code for f in findings] == [LintCode.EXTERNAL_NETWORKING_GENERATION]
    assert "expected 2" in findings[0].message
    assert lint(stale) == []  # without the parent there is nothing to compare with

    bumped = child.model_copy(update={"external_networking_generation": 2})
    assert lint(bumped, parent) == []

    unchanged = rack.build()  # nothing changed since the child
    assert expected_generation(bumped, unchanged.sleds) == 2
    wrongly_bumped = unchanged.model_copy(
        update={"parent_blueprint_id": bumped.id, "external_networking_generation": 3}
    )
    assert [f.code for f in lint(wrongly_bumped, bumped)] == [
        LintCode.EXTERNAL_NETWORKING_GENERATION
    ]
