"""Reading the planning input (sleds, disks, service IP pool ranges) from the database."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.engine import Connection

from reconfigurator.db import schema
from reconfigurator.db.values import to_address
from reconfigurator.planning_input import (
    DiskInput,
    DiskPolicy,
    DiskState,
    IpRange,
    NicIpStack,
    PlanningInput,
    SledInput,
    SledPolicy,
    SledState,
    ZonePolicy,
)

SLED = schema.sled_table
DISK = schema.physical_disk_table
POOL = schema.ip_pool_table
RANGE = schema.ip_pool_range_table


def load_planning_input(
    conn: Connection,
    zone_policy: ZonePolicy | None = None,
    nic_ip_stack: NicIpStack | None = None,
) -> PlanningInput:
    """Every sled with its disks, and the live ranges of the live system-services pools.

    Three queries, whatever the size of the rack.
    """
    disks: dict[UUID, list[DiskInput]] = {}
    for row in conn.execute(select(DISK).order_by(DISK.c.sled_id, DISK.c.id)):
        disks.setdefault(row.sled_id, []).append(
            DiskInput(
                id=row.id,
                pool_id=row.pool_id,
                policy=DiskPolicy(row.policy),
                state=DiskState(row.state),
            )
        )
    sleds = tuple(
        SledInput(
            id=row.id,
            policy=SledPolicy(row.policy),
            state=SledState(row.state),
            disks=tuple(disks.get(row.id, ())),
        )
        for row in conn.execute(select(SLED).order_by(SLED.c.id))
    )
    ranges = tuple(
        IpRange(to_address(row.first_address), to_address(row.last_address))
        for row in conn.execute(
            select(RANGE.c.first_address, RANGE.c.last_address)
            .join(POOL, POOL.c.id == RANGE.c.ip_pool_id)
            .where(
                RANGE.c.time_deleted.is_(None),
                POOL.c.time_deleted.is_(None),
                POOL.c.assignment == schema.IpPoolAssignment.SYSTEM_SERVICES,
            )
            .order_by(RANGE.c.first_address)
        )
    )
    return PlanningInput(
        sleds=sleds,
        ip_ranges=ranges,
        zone_policy=zone_policy or ZonePolicy(),
        nic_ip_stack=nic_ip_stack,
    )
