"""Build realistic blueprints in tests, deterministically (seeded ids and addresses).

A builder holds the evolving rack; each ``build()`` returns a new blueprint whose parent is the
previous one built, which is how a chain of targets A → B → C is made::

    rack = RackBuilder(seed=1)
    sled = rack.add_sled(disks=4)
    nexus = rack.add_zone(sled, "nexus")
    a = rack.build()
    rack.expunge_zone(nexus)
    b = rack.build()          # b.parent_blueprint_id == a.id
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from typing import Any

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.blueprint.networking_generation import expected_generation
from reconfigurator.fixed_data import (
    MAC_RANGE_FIRST,
    RESERVED_LEADING_ADDRESSES,
    SERVICE_SUBNETS,
    SERVICES_VPC_VNI,
    SNAT_BLOCK_PORTS,
    ServiceKind,
    int_to_mac,
)

#: The service pool range the builder hands external IPs out of (seed it with this range).
EXTERNAL_RANGE = ("192.0.2.1", "192.0.2.254")

EXTERNAL_KINDS = {"nexus", "external_dns", "boundary_ntp"}


@dataclass
class SledHandle:
    id: uuid.UUID
    pools: list[uuid.UUID] = field(default_factory=list)


class RackBuilder:
    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._sleds: dict[uuid.UUID, dict[str, Any]] = {}
        self._zone_sled: dict[uuid.UUID, uuid.UUID] = {}
        self._generation = 1
        self._parent: uuid.UUID | None = None
        self._last: Blueprint | None = None
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)
        self._next_external = int(IPv4Address(EXTERNAL_RANGE[0]))
        self._next_snat: dict[str, int] = {}
        self._next_nic: dict[ServiceKind, int] = {}
        self._next_mac = MAC_RANGE_FIRST + 1

    # --- ids ------------------------------------------------------------------------------

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    # --- rack -----------------------------------------------------------------------------

    def add_sled(self, disks: int = 4) -> SledHandle:
        sled_id = self.new_id()
        handle = SledHandle(sled_id)
        sled: dict[str, Any] = {"id": str(sled_id), "state": "active", "disks": [], "zones": []}
        for _ in range(disks):
            pool = self.new_id()
            sled["disks"].append(
                {
                    "id": str(self.new_id()),
                    "pool_id": str(pool),
                    "disposition": {"kind": "in_service"},
                }
            )
            handle.pools.append(pool)
        handle.pools.sort()
        self._sleds[sled_id] = sled
        return handle

    def next_external_ip(self) -> str:
        address = str(IPv4Address(self._next_external))
        self._next_external += 1
        return address

    def add_zone(
        self,
        sled: SledHandle,
        kind: str,
        *,
        pool: uuid.UUID | None = None,
        ip: str | None = None,
        ports: tuple[int, int] | None = None,
        nic_ip: str | None = None,
        mac: int | None = None,
        zone_id: uuid.UUID | None = None,
        stack: str = "v4",
        nic_ipv6: str | None = None,
    ) -> uuid.UUID:
        """Add an in-service zone; external networking is allocated unless given.

        ``stack`` is the NIC's addressing: ``"v4"``, ``"v6"`` or ``"dual"``.
        """
        zid = zone_id or self.new_id()
        zone_type: dict[str, Any] = {"kind": kind}
        if kind in EXTERNAL_KINDS:
            service = ServiceKind(kind)
            subnet = SERVICE_SUBNETS[service]
            external: dict[str, Any] = {"id": str(self.new_id())}
            if kind == "boundary_ntp":
                address = ip or self.next_external_ip()
                if ports is None:
                    block = self._next_snat.get(address, 0)
                    self._next_snat[address] = block + 1
                    ports = (block * SNAT_BLOCK_PORTS, (block + 1) * SNAT_BLOCK_PORTS - 1)
                external.update(ip=address, first_port=ports[0], last_port=ports[1])
            else:
                external["ip"] = ip or self.next_external_ip()
            offset = self._next_nic.get(service, RESERVED_LEADING_ADDRESSES)
            self._next_nic[service] = offset + 1
            if nic_ip is None and stack != "v6":
                nic_ip = str(subnet.ipv4.network_address + offset)
            if nic_ipv6 is None and stack != "v4":
                nic_ipv6 = str(subnet.ipv6.network_address + offset)
            if mac is None:
                mac = self._next_mac
                self._next_mac += 1
            zone_type["external_ip"] = external
            nic: dict[str, Any] = {
                "id": str(self.new_id()),
                "name": service.row_name(zid),
                "mac": int_to_mac(mac),
                "vni": SERVICES_VPC_VNI,
                "primary": True,
                "slot": 0,
            }
            if nic_ip is not None:
                nic.update(ip=nic_ip, subnet=str(subnet.ipv4))
            if nic_ipv6 is not None:
                nic.update(ipv6=nic_ipv6, ipv6_subnet=str(subnet.ipv6))
            zone_type["nic"] = nic
        self._sleds[sled.id]["zones"].append(
            {
                "id": str(zid),
                "filesystem_pool": str(pool or sled.pools[0]),
                "disposition": {"kind": "in_service"},
                "zone_type": zone_type,
            }
        )
        self._zone_sled[zid] = sled.id
        return zid

    def _zone(self, zone_id: uuid.UUID) -> dict[str, Any]:
        sled = self._sleds[self._zone_sled[zone_id]]
        for zone in sled["zones"]:
            if zone["id"] == str(zone_id):
                return zone  # type: ignore[no-any-return]
        raise KeyError(zone_id)

    def zone_doc(self, zone_id: uuid.UUID) -> dict[str, Any]:
        """The zone's JSON document (mutable: tests may edit it to make bad blueprints)."""
        return self._zone(zone_id)

    def expunge_zone(self, zone_id: uuid.UUID) -> None:
        self._generation += 1
        self._zone(zone_id)["disposition"] = {
            "kind": "expunged",
            "as_of_generation": self._generation,
            "ready_for_cleanup": False,
        }

    def expunge_disk(self, sled: SledHandle, pool: uuid.UUID) -> list[uuid.UUID]:
        """Expunge a disk and every in-service zone on it; returns the zones expunged."""
        self._generation += 1
        doc = self._sleds[sled.id]
        for disk in doc["disks"]:
            if disk["pool_id"] == str(pool):
                disk["disposition"] = {
                    "kind": "expunged",
                    "as_of_generation": self._generation,
                    "ready_for_cleanup": False,
                }
        expunged = []
        for zone in doc["zones"]:
            if zone["filesystem_pool"] == str(pool) and zone["disposition"]["kind"] == "in_service":
                zone["disposition"] = {
                    "kind": "expunged",
                    "as_of_generation": self._generation,
                    "ready_for_cleanup": False,
                }
                expunged.append(uuid.UUID(zone["id"]))
        return expunged

    # --- output -----------------------------------------------------------------------------

    def document(self, *, comment: str = "") -> dict[str, Any]:
        """The next blueprint as a JSON document, without advancing the chain."""
        self._clock += timedelta(minutes=1)
        return {
            "id": str(self.new_id()),
            "parent_blueprint_id": str(self._parent) if self._parent else None,
            "time_created": self._clock.isoformat().replace("+00:00", "Z"),
            "creator": "test",
            "comment": comment,
            "sleds": copy.deepcopy(list(self._sleds.values())),
        }

    def build(self, *, comment: str = "") -> Blueprint:
        """The next blueprint in the chain (its parent is the previous one built), with the
        external networking generation the planner would give it."""
        blueprint = Blueprint.model_validate(self.document(comment=comment))
        generation = expected_generation(self._last, blueprint.sleds)
        if generation != blueprint.external_networking_generation:
            blueprint = blueprint.model_copy(update={"external_networking_generation": generation})
        self._parent = blueprint.id
        self._last = blueprint
        return blueprint
