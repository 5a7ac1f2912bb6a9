"""Large, realistic rack states for measuring and testing the executor at scale.

Blueprints are never pruned, so expunged zones pile up while the live rows stay bounded by the
service subnets (a /24 per zone kind). :func:`scaled_state` builds a blueprint of ``zones``
zones with external networking in that shape, and the table rows that go with it:

* up to 180 in-service zones of each kind, whose rows do not exist yet (a converging run
  creates them);
* up to 20 expunged zones of each kind whose rows are still live (a converging run
  soft-deletes them);
* the rest expunged: 80% with rows already soft-deleted, 20% never created;
* as many unrelated soft-deleted rows again, so the tables are not unrealistically small.

Everything is derived from a seed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from typing import Any, Final

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.db.schema import external_ip_table, network_interface_table
from reconfigurator.db.service_pools import add_pool_range, ensure_service_pool
from reconfigurator.fixed_data import (
    MAC_RANGE_FIRST,
    RESERVED_LEADING_ADDRESSES,
    SERVICE_SUBNETS,
    SERVICES_VPC_ID,
    SERVICES_VPC_VNI,
    SNAT_BLOCK_PORTS,
    IpVersion,
    ServiceKind,
    int_to_mac,
)

KINDS: Final = (ServiceKind.NEXUS, ServiceKind.EXTERNAL_DNS, ServiceKind.BOUNDARY_NTP)
#: The service pool range scaled states use (a /12: room for a million addresses).
POOL_FIRST: Final = IPv4Address("10.64.0.1")
POOL_LAST: Final = IPv4Address("10.79.255.254")
#: The ids of that pool and range (fixed, so seeded rows can refer to them).
POOL_ID: Final = uuid.uuid5(uuid.NAMESPACE_OID, "reconfigurator-scale-pool")
RANGE_ID: Final = uuid.uuid5(uuid.NAMESPACE_OID, "reconfigurator-scale-range")
IN_SERVICE_PER_KIND: Final = 180
RECENTLY_EXPUNGED_PER_KIND: Final = 20
DISKS_PER_SLED: Final = 10
ZONES_PER_SLED: Final = 40

_EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class ScaledState:
    """A blueprint and the rows to seed before executing it."""

    blueprint: Blueprint
    external_ip_rows: list[dict[str, Any]] = field(default_factory=list)
    nic_rows: list[dict[str, Any]] = field(default_factory=list)
    in_service: int = 0
    recently_expunged: int = 0
    soft_deleted: int = 0
    never_created: int = 0


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


def _split(zones: int) -> tuple[int, int, int, int]:
    """(in service, recently expunged, soft-deleted, never created) counts.

    From 1,000 zones up: 540 in service, 60 recently expunged, the rest 80/20. Smaller racks
    keep the same proportions (and at least one zone of each category where possible), so
    every run shape exists at every size.
    """
    in_service = min(IN_SERVICE_PER_KIND * len(KINDS), max(len(KINDS), zones * 54 // 100))
    rest = zones - in_service
    recent = min(RECENTLY_EXPUNGED_PER_KIND * len(KINDS), max(1, zones * 6 // 100), rest)
    rest -= recent
    never = max(1, rest // 5) if rest >= 2 else 0
    return in_service, recent, rest - never, never


def _zone_doc(
    zone_id: uuid.UUID,
    kind: ServiceKind,
    pool: uuid.UUID,
    ids: _Ids,
    *,
    expunged_at: int | None,
    ip: IPv4Address,
    nic_offset: int,
    mac: int,
) -> dict[str, Any]:
    subnet = SERVICE_SUBNETS[kind]
    external: dict[str, Any] = {"id": str(ids()), "ip": str(ip)}
    if kind is ServiceKind.BOUNDARY_NTP:
        external.update(first_port=0, last_port=SNAT_BLOCK_PORTS - 1)
    disposition: dict[str, Any] = (
        {"kind": "in_service"}
        if expunged_at is None
        else {"kind": "expunged", "as_of_generation": expunged_at, "ready_for_cleanup": False}
    )
    return {
        "id": str(zone_id),
        "filesystem_pool": str(pool),
        "disposition": disposition,
        "zone_type": {
            "kind": kind.value,
            "external_ip": external,
            "nic": {
                "id": str(ids()),
                "name": kind.row_name(zone_id),
                "ip": str(subnet.ipv4.network_address + nic_offset),
                "mac": int_to_mac(mac),
                "subnet": str(subnet.ipv4),
                "vni": SERVICES_VPC_VNI,
                "primary": True,
                "slot": 0,
            },
        },
    }


def _rows_for(zone: dict[str, Any], *, deleted: datetime | None) -> tuple[dict[str, Any], ...]:
    zone_type = zone["zone_type"]
    kind = ServiceKind(zone_type["kind"])
    external, nic = zone_type["external_ip"], zone_type["nic"]
    snat = kind is ServiceKind.BOUNDARY_NTP
    created = _EPOCH
    ip_row = {
        "id": uuid.UUID(external["id"]),
        "name": kind.row_name(uuid.UUID(zone["id"])),
        "description": kind.value,
        "time_created": created,
        "time_modified": created,
        "time_deleted": deleted,
        "ip_pool_id": POOL_ID,
        "ip_pool_range_id": RANGE_ID,
        "is_service": True,
        "parent_id": uuid.UUID(zone["id"]),
        "kind": "snat" if snat else "floating",
        "ip": external["ip"],
        "first_port": external.get("first_port", 0),
        "last_port": external.get("last_port", 65535),
        "project_id": None,
        "state": "attached",
        "is_probe": False,
    }
    nic_row = {
        "id": uuid.UUID(nic["id"]),
        "name": nic["name"],
        "description": f"{kind.value} service vNIC",
        "time_created": created,
        "time_modified": created,
        "time_deleted": deleted,
        "kind": "service",
        "parent_id": uuid.UUID(zone["id"]),
        "vpc_id": SERVICES_VPC_ID,
        "subnet_id": SERVICE_SUBNETS[kind].id,
        "mac": int(nic["mac"].replace(":", ""), 16),
        "ip": nic["ip"],
        "ipv6": None,
        "slot": 0,
        "is_primary": True,
        "transit_ips": [],
        "transit_ips_v6": [],
    }
    return ip_row, nic_row


def _sleds(count: int, ids: _Ids) -> list[dict[str, Any]]:
    return [
        {
            "id": str(ids()),
            "state": "active",
            "disks": [
                {"id": str(ids()), "pool_id": str(ids()), "disposition": {"kind": "in_service"}}
                for _ in range(DISKS_PER_SLED)
            ],
            "zones": [],
        }
        for _ in range(count)
    ]


def scaled_state(zones: int, *, seed: int = 0) -> ScaledState:
    """A blueprint with ``zones`` zones with external networking, and its seed rows."""
    if zones < len(KINDS):
        raise ValueError(f"need at least {len(KINDS)} zones")
    rng = random.Random(seed)
    ids = _Ids(rng)
    in_service, recent, soft_deleted, never = _split(zones)
    sleds = _sleds((zones + ZONES_PER_SLED - 1) // ZONES_PER_SLED, ids)
    state = ScaledState(
        blueprint=None,  # type: ignore[arg-type]  # set below
        in_service=in_service,
        recently_expunged=recent,
        soft_deleted=soft_deleted,
        never_created=never,
    )
    deleted_at = _EPOCH + timedelta(days=1)
    next_ip = int(POOL_FIRST)
    usable = SERVICE_SUBNETS[ServiceKind.NEXUS].ipv4.num_addresses - RESERVED_LEADING_ADDRESSES - 1

    def categories() -> Iterator[str]:
        yield from ["in_service"] * in_service
        yield from ["recent"] * recent
        yield from ["soft_deleted"] * soft_deleted
        yield from ["never"] * never

    for index, category in enumerate(categories()):
        kind = KINDS[index % len(KINDS)]
        sled = sleds[index // ZONES_PER_SLED]
        pool = uuid.UUID(sled["disks"][index % DISKS_PER_SLED]["pool_id"])
        ordinal = index // len(KINDS)
        zone = _zone_doc(
            ids(),
            kind,
            pool,
            ids,
            expunged_at=None if category == "in_service" else 2,
            ip=IPv4Address(next_ip),
            nic_offset=RESERVED_LEADING_ADDRESSES + ordinal % usable,
            mac=MAC_RANGE_FIRST + 1 + index,
        )
        next_ip += 1
        sled["zones"].append(zone)
        if category in {"recent", "soft_deleted"}:
            ip_row, nic_row = _rows_for(zone, deleted=None if category == "recent" else deleted_at)
            state.external_ip_rows.append(ip_row)
            state.nic_rows.append(nic_row)
    # Unrelated history: as many soft-deleted rows again, of zones no blueprint lists.
    unrelated = len(state.external_ip_rows)
    for index in range(unrelated):
        kind = KINDS[index % len(KINDS)]
        ghost = _zone_doc(
            ids(),
            kind,
            uuid.UUID(int=0),
            ids,
            expunged_at=1,
            ip=IPv4Address(int(POOL_FIRST) + index % max(1, zones)),
            nic_offset=RESERVED_LEADING_ADDRESSES + index % usable,
            mac=MAC_RANGE_FIRST + 1 + index % 60000,
        )
        ip_row, nic_row = _rows_for(ghost, deleted=deleted_at)
        state.external_ip_rows.append(ip_row)
        state.nic_rows.append(nic_row)
    state.blueprint = Blueprint.model_validate(
        {
            "id": str(ids()),
            "parent_blueprint_id": None,
            "time_created": "2026-06-01T00:00:00Z",
            "creator": "scale",
            "comment": f"{zones} zones with external networking",
            "sleds": sleds,
        }
    )
    return state


def seed_service_pool(conn: Connection) -> None:
    """Add the scaled states' service pool and range (once)."""
    ensure_service_pool(conn, IpVersion.V4, new_id=lambda: POOL_ID)
    add_pool_range(conn, POOL_FIRST, POOL_LAST, new_id=lambda: RANGE_ID)


def seed_rows(conn: Connection, state: ScaledState, *, batch: int = 5000) -> None:
    """Insert the state's rows in bulk (executemany in batches)."""
    for table, rows in (
        (external_ip_table, state.external_ip_rows),
        (network_interface_table, state.nic_rows),
    ):
        for start in range(0, len(rows), batch):
            conn.execute(insert(table), rows[start : start + batch])
