"""Blueprint diff: sleds, disks and zones matched by id, with the changed fields."""

from __future__ import annotations

import json
import uuid
from typing import Any

from reconfigurator.blueprint.diff import FieldChange, diff_blueprints
from reconfigurator.blueprint.model import Blueprint
from tests.blueprint_builder import RackBuilder


def _ids(entries: tuple[Any, ...], attr: str) -> list[uuid.UUID]:
    return [getattr(entry, attr) for entry in entries]


def test_a_blueprint_against_itself_is_empty() -> None:
    rack = RackBuilder(seed=21)
    sled = rack.add_sled()
    rack.add_zone(sled, "nexus")
    blueprint = rack.build()
    result = diff_blueprints(blueprint, blueprint)
    assert result.is_empty
    assert result.metadata == ()
    assert result.to_json()["zones"] == {"added": [], "removed": [], "expunged": [], "changed": []}


def test_parent_to_child_lists_expunged_added_and_changed_zones() -> None:
    rack = RackBuilder(seed=22)
    first = rack.add_sled()
    second = rack.add_sled()
    nexus = rack.add_zone(first, "nexus")
    ntp = rack.add_zone(second, "boundary_ntp")
    crucible = rack.add_zone(second, "crucible")
    parent = rack.build(comment="before")

    rack.expunge_zone(nexus)
    replacement = rack.add_zone(second, "nexus")
    old_nic_ip = rack.zone_doc(ntp)["zone_type"]["nic"]["ip"]
    rack.zone_doc(ntp)["zone_type"]["nic"]["ip"] = "172.30.3.77"
    child = rack.build(comment="after")

    result = diff_blueprints(parent, child)
    assert not result.is_empty
    assert _ids(result.zones_expunged, "zone_id") == [nexus]
    assert result.zones_expunged[0].sled_id == first.id
    assert result.zones_expunged[0].kind == "nexus"
    assert _ids(result.zones_added, "zone_id") == [replacement]
    assert result.zones_added[0].sled_id == second.id
    assert result.zones_removed == ()
    assert _ids(result.zones_changed, "zone_id") == [ntp]
    assert result.zones_changed[0].changes == (
        FieldChange("zone_type.nic.ip", old_nic_ip, "172.30.3.77"),
    )
    assert crucible not in _ids(result.zones_changed, "zone_id")
    assert result.sleds_added == result.sleds_removed == result.sleds_changed == ()
    assert {change.path for change in result.metadata} == {
        "parent_blueprint_id",
        "time_created",
        "comment",
    }
    comment = next(c for c in result.metadata if c.path == "comment")
    assert (comment.old, comment.new) == ("before", "after")


def test_a_later_disposition_change_of_an_expunged_zone_is_a_change() -> None:
    rack = RackBuilder(seed=23)
    sled = rack.add_sled()
    nexus = rack.add_zone(sled, "nexus")
    rack.expunge_zone(nexus)
    before = rack.build()
    rack.zone_doc(nexus)["disposition"]["ready_for_cleanup"] = True
    after = rack.build()

    result = diff_blueprints(before, after)
    assert result.zones_expunged == ()
    (changed,) = result.zones_changed
    assert changed.zone_id == nexus
    assert changed.changes == (FieldChange("disposition.ready_for_cleanup", False, True),)


def test_expunging_a_zone_that_also_changed_lists_it_in_both() -> None:
    rack = RackBuilder(seed=24)
    sled = rack.add_sled()
    dns = rack.add_zone(sled, "external_dns")
    before = rack.build()
    rack.expunge_zone(dns)
    rack.zone_doc(dns)["filesystem_pool"] = str(sled.pools[2])
    after = rack.build()

    result = diff_blueprints(before, after)
    assert _ids(result.zones_expunged, "zone_id") == [dns]
    (changed,) = result.zones_changed
    assert changed.changes == (
        FieldChange("filesystem_pool", str(sled.pools[0]), str(sled.pools[2])),
    )


def test_disks_expunged_added_and_removed_and_sled_state() -> None:
    rack = RackBuilder(seed=25)
    first = rack.add_sled(disks=3)
    rack.add_zone(first, "crucible", pool=first.pools[1])
    before = rack.build()
    expunged = rack.expunge_disk(first, first.pools[1])
    second = rack.add_sled(disks=2)
    after_doc = rack.document()
    removed_disk = after_doc["sleds"][0]["disks"].pop(0)
    sled_doc = next(s for s in after_doc["sleds"] if s["id"] == str(first.id))
    sled_doc["state"] = "decommissioned"
    after = Blueprint.model_validate(after_doc)

    result = diff_blueprints(before, after)
    assert result.sleds_added == (second.id,)
    assert result.sleds_removed == ()
    (state,) = result.sleds_changed
    assert (state.sled_id, state.old_state, state.new_state) == (
        first.id,
        "active",
        "decommissioned",
    )
    assert [d.pool_id for d in result.disks_expunged] == [first.pools[1]]
    assert sorted(d.pool_id for d in result.disks_added) == second.pools
    assert [str(d.disk_id) for d in result.disks_removed] == [removed_disk["id"]]
    assert result.disks_changed == ()
    assert _ids(result.zones_expunged, "zone_id") == expunged


def test_removed_sled_and_zone_moved_between_sleds() -> None:
    rack = RackBuilder(seed=26)
    first = rack.add_sled()
    second = rack.add_sled()
    oximeter = rack.add_zone(first, "oximeter")
    before_doc = rack.document()
    extra = rack.add_sled()
    before_doc["sleds"].append(rack.document()["sleds"][-1])
    before = Blueprint.model_validate(before_doc)

    after_doc = rack.document()
    after_doc["sleds"] = [s for s in after_doc["sleds"] if s["id"] != str(extra.id)]
    moved = after_doc["sleds"][0]["zones"].pop()
    moved["filesystem_pool"] = str(second.pools[0])
    after_doc["sleds"][1]["zones"].append(moved)
    after = Blueprint.model_validate(after_doc)

    result = diff_blueprints(before, after)
    assert result.sleds_removed == (extra.id,)
    assert [d.sled_id for d in result.disks_removed] == [extra.id] * 4
    (changed,) = result.zones_changed
    assert changed.zone_id == oximeter
    assert changed.sled_id == second.id
    assert changed.changes == (
        FieldChange("sled_id", str(first.id), str(second.id)),
        FieldChange("filesystem_pool", str(first.pools[0]), str(second.pools[0])),
    )


def test_zone_kind_change_lists_every_leaf_field() -> None:
    rack = RackBuilder(seed=27)
    sled = rack.add_sled()
    zone_id = rack.add_zone(sled, "crucible")
    before = rack.build()
    rack.zone_doc(zone_id)["zone_type"] = {"kind": "internal_dns"}
    after = rack.build()
    (changed,) = diff_blueprints(before, after).zones_changed
    assert changed.kind == "internal_dns"
    assert changed.changes == (FieldChange("zone_type.kind", "crucible", "internal_dns"),)

    rack2 = RackBuilder(seed=27)
    sled2 = rack2.add_sled()
    plain = rack2.add_zone(sled2, "crucible")
    first = rack2.build()
    networking = RackBuilder(seed=99)
    other = networking.add_sled()
    nexus_doc = networking.zone_doc(networking.add_zone(other, "nexus"))
    rack2.zone_doc(plain)["zone_type"] = nexus_doc["zone_type"]
    second = rack2.build()
    (grown,) = diff_blueprints(first, second).zones_changed
    paths = [change.path for change in grown.changes]
    assert paths[0] == "zone_type.kind"
    assert "zone_type.external_ip.ip" in paths
    assert "zone_type.nic.mac" in paths
    assert all(change.old is None for change in grown.changes[1:])
    (shrunk,) = diff_blueprints(second, first).zones_changed
    assert [change.path for change in shrunk.changes] == paths
    assert all(change.new is None for change in shrunk.changes[1:])


def test_json_form_is_serializable_and_ordered() -> None:
    rack = RackBuilder(seed=28)
    sleds = [rack.add_sled() for _ in range(3)]
    zones = [rack.add_zone(sled, kind) for sled in sleds for kind in ("nexus", "crucible")]
    before = rack.build()
    for zone in zones:
        rack.expunge_zone(zone)
    after = rack.build()

    result = diff_blueprints(before, after)
    data = result.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["before"] == str(before.id)
    assert data["after"] == str(after.id)
    expunged = [(e["sled_id"], e["zone_id"]) for e in data["zones"]["expunged"]]
    assert expunged == sorted(expunged)
    assert len(expunged) == 6
    assert set(data) == {"before", "after", "metadata", "sleds", "disks", "zones"}
    assert set(data["disks"]) == {"added", "removed", "expunged", "changed"}


def test_a_nic_gaining_and_losing_an_ipv6_address_lists_the_fields() -> None:
    rack = RackBuilder(seed=29)
    sled = rack.add_sled()
    nexus = rack.add_zone(sled, "nexus")
    before = rack.build()
    nic = rack.zone_doc(nexus)["zone_type"]["nic"]
    nic.update(ipv6="fd77:e9d2:9cd9:2::5", ipv6_subnet="fd77:e9d2:9cd9:2::/64")
    after = rack.build()

    (gained,) = diff_blueprints(before, after).zones_changed
    assert gained.zone_id == nexus
    assert gained.changes == (
        FieldChange("zone_type.nic.ipv6", None, "fd77:e9d2:9cd9:2::5"),
        FieldChange("zone_type.nic.ipv6_subnet", None, "fd77:e9d2:9cd9:2::/64"),
    )
    (lost,) = diff_blueprints(after, before).zones_changed
    assert lost.changes == (
        FieldChange("zone_type.nic.ipv6", "fd77:e9d2:9cd9:2::5", None),
        FieldChange("zone_type.nic.ipv6_subnet", "fd77:e9d2:9cd9:2::/64", None),
    )
    assert json.loads(json.dumps(diff_blueprints(before, after).to_json()))["zones"]["changed"]


def test_a_nic_moving_from_ipv4_to_ipv6_lists_both_families() -> None:
    rack = RackBuilder(seed=30)
    sled = rack.add_sled()
    dns = rack.add_zone(sled, "external_dns")
    before = rack.build()
    nic = rack.zone_doc(dns)["zone_type"]["nic"]
    del nic["ip"], nic["subnet"]
    nic.update(ipv6="fd77:e9d2:9cd9:1::5", ipv6_subnet="fd77:e9d2:9cd9:1::/64")
    after = rack.build()
    (changed,) = diff_blueprints(before, after).zones_changed
    assert {c.path: (c.old, c.new) for c in changed.changes} == {
        "zone_type.nic.ip": ("172.30.1.5", None),
        "zone_type.nic.subnet": ("172.30.1.0/24", None),
        "zone_type.nic.ipv6": (None, "fd77:e9d2:9cd9:1::5"),
        "zone_type.nic.ipv6_subnet": (None, "fd77:e9d2:9cd9:1::/64"),
    }
