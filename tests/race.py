"""The production race (docs/design.md#the-problem) as three hand-built blueprints A → B → C."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.engine import Engine

from reconfigurator.blueprint.model import Blueprint
from tests.blueprint_builder import RackBuilder
from tests.db_support import seed_service_range


@dataclass
class Race:
    a: Blueprint
    b: Blueprint
    c: Blueprint
    n1: UUID
    n2: UUID
    n3: UUID


def build_race(engine: Engine) -> Race:
    seed_service_range(engine)
    rack = RackBuilder(seed=2024)
    doomed = rack.add_sled(disks=10)
    other = rack.add_sled(disks=4)
    third = rack.add_sled(disks=4)
    n1 = rack.add_zone(doomed, "nexus", pool=doomed.pools[8])
    rack.add_zone(other, "nexus")
    rack.add_zone(third, "nexus")
    rack.add_zone(other, "external_dns", pool=other.pools[1])
    rack.add_zone(third, "boundary_ntp", pool=third.pools[1])
    a = rack.build(comment="initial")

    n1_doc = rack.zone_doc(n1)["zone_type"]
    assert rack.expunge_disk(doomed, doomed.pools[8]) == [n1]
    # The replacement reuses the expunged Nexus's addresses, as the planner does.
    n2 = rack.add_zone(
        doomed,
        "nexus",
        pool=doomed.pools[9],
        ip=n1_doc["external_ip"]["ip"],
        nic_ip=n1_doc["nic"]["ip"],
        mac=int(n1_doc["nic"]["mac"].replace(":", ""), 16),
    )
    b = rack.build(comment="expunge disk 9")

    assert rack.expunge_disk(doomed, doomed.pools[9]) == [n2]
    n3 = rack.add_zone(
        third,
        "nexus",
        pool=third.pools[2],
        ip=n1_doc["external_ip"]["ip"],
        nic_ip=n1_doc["nic"]["ip"],
        mac=int(n1_doc["nic"]["mac"].replace(":", ""), 16),
    )
    c = rack.build(comment="expunge disk 10")
    return Race(a, b, c, n1, n2, n3)


def networking_ids(zone: UUID, race: Race) -> tuple[UUID, UUID]:
    """(external IP row id, NIC row id) that the blueprints record for a zone."""
    for blueprint in (race.c, race.b, race.a):
        found = blueprint.zone(zone)
        if found is not None and found.external_ip is not None and found.nic is not None:
            return found.external_ip.id, found.nic.id
    raise AssertionError(zone)
