"""Reading the rows the decision needs, with a fixed number of statements.

Ids, zone ids and addresses are sent as array parameters (``= ANY(:ids)``), so one SELECT
per table covers any number of zones and its text does not grow with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from uuid import UUID

from sqlalchemy import ARRAY, Uuid, and_, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.engine import Connection
from sqlalchemy.types import BigInteger

from reconfigurator.db.networking.decide import NetworkingState, PoolRange
from reconfigurator.db.networking.rows import BlueprintNetworking, ExternalIpRow, NicRow, Table
from reconfigurator.db.schema import (
    external_ip_table,
    ip_pool_range_table,
    ip_pool_table,
    service_network_interface_table,
)
from reconfigurator.fixed_data import SERVICE_IP_POOL_ASSIGNMENT, SERVICES_VPC_ID

EXT = external_ip_table
NIC = service_network_interface_table

_UUIDS = ARRAY(Uuid())
_INETS = ARRAY(INET())
_INTS = ARRAY(BigInteger())

EXTERNAL_IP_QUERY = select(
    EXT.c.id,
    EXT.c.parent_id,
    EXT.c.ip,
    EXT.c.first_port,
    EXT.c.last_port,
    EXT.c.kind,
    EXT.c.is_service,
    EXT.c.time_deleted,
).where(
    or_(
        EXT.c.id == any_(bindparam("row_ids", type_=_UUIDS)),
        and_(
            EXT.c.time_deleted.is_(None),
            or_(
                EXT.c.parent_id == any_(bindparam("zone_ids", type_=_UUIDS)),
                EXT.c.ip == any_(bindparam("ips", type_=_INETS)),
            ),
        ),
    )
)

NIC_QUERY = select(
    NIC.c.id,
    NIC.c.service_id,
    NIC.c.name,
    NIC.c.vpc_id,
    NIC.c.subnet_id,
    NIC.c.mac,
    NIC.c.ipv4,
    NIC.c.slot,
    NIC.c.is_primary,
    NIC.c.time_deleted,
).where(
    or_(
        NIC.c.id == any_(bindparam("row_ids", type_=_UUIDS)),
        and_(
            NIC.c.time_deleted.is_(None),
            or_(
                NIC.c.service_id == any_(bindparam("zone_ids", type_=_UUIDS)),
                and_(
                    NIC.c.subnet_id == any_(bindparam("subnet_ids", type_=_UUIDS)),
                    NIC.c.ipv4 == any_(bindparam("ips", type_=_INETS)),
                ),
                and_(
                    NIC.c.vpc_id == bindparam("vpc_id", type_=Uuid()),
                    NIC.c.mac == any_(bindparam("macs", type_=_INTS)),
                ),
            ),
        ),
    )
)

POOL_RANGE_QUERY = (
    select(
        ip_pool_range_table.c.id,
        ip_pool_range_table.c.first_address,
        ip_pool_range_table.c.last_address,
    )
    .join(ip_pool_table, ip_pool_table.c.id == ip_pool_range_table.c.ip_pool_id)
    .where(
        ip_pool_table.c.assignment == SERVICE_IP_POOL_ASSIGNMENT,
        ip_pool_table.c.time_deleted.is_(None),
        ip_pool_range_table.c.time_deleted.is_(None),
    )
    .order_by(ip_pool_range_table.c.first_address)
)


def load_pool_ranges(conn: Connection) -> list[PoolRange]:
    return [
        PoolRange(row.id, ip_address(row.first_address), ip_address(row.last_address))
        for row in conn.execute(POOL_RANGE_QUERY)
    ]


def load_state(conn: Connection, wanted: BlueprintNetworking) -> NetworkingState:
    """Three SELECTs, whatever the size of the blueprint."""
    zone_ids: list[UUID] = [d.zone_id for d in wanted.external_ips]
    external_ips: dict[UUID, ExternalIpRow] = {}
    ext_params = {
        "row_ids": [z.external_ip_id for z in wanted.expunged]
        + [d.id for d in wanted.external_ips],
        "zone_ids": zone_ids,
        "ips": sorted({str(d.ip) for d in wanted.external_ips}),
    }
    for row in conn.execute(EXTERNAL_IP_QUERY, ext_params):
        external_ips[row.id] = ExternalIpRow(
            id=row.id,
            parent_id=row.parent_id,
            ip=ip_address(row.ip),
            first_port=row.first_port,
            last_port=row.last_port,
            kind=str(row.kind),
            is_service=row.is_service,
            time_deleted=row.time_deleted,
        )
    nics: dict[UUID, NicRow] = {}
    nic_params = {
        "row_ids": [z.nic_id for z in wanted.expunged] + [d.id for d in wanted.nics],
        "zone_ids": zone_ids,
        "subnet_ids": sorted({d.subnet_id for d in wanted.nics}),
        "ips": sorted({str(d.ipv4) for d in wanted.nics}),
        "vpc_id": SERVICES_VPC_ID,
        "macs": sorted({d.mac for d in wanted.nics}),
    }
    for row in conn.execute(NIC_QUERY, nic_params):
        address = ip_address(row.ipv4)
        nics[row.id] = NicRow(
            id=row.id,
            service_id=row.service_id,
            name=row.name,
            vpc_id=row.vpc_id,
            subnet_id=row.subnet_id,
            mac=row.mac,
            ipv4=address,  # type: ignore[arg-type]  # the schema CHECKs family 4
            slot=row.slot,
            is_primary=row.is_primary,
            time_deleted=row.time_deleted,
        )
    return NetworkingState(external_ips, nics, load_pool_ranges(conn))


ORPHAN_EXTERNAL_IP_QUERY = select(EXT.c.id, EXT.c.parent_id, EXT.c.ip).where(
    EXT.c.time_deleted.is_(None),
    EXT.c.is_service.is_(True),
    ~(EXT.c.parent_id == any_(bindparam("zone_ids", type_=_UUIDS))),
)
ORPHAN_NIC_QUERY = select(NIC.c.id, NIC.c.service_id, NIC.c.ipv4).where(
    NIC.c.time_deleted.is_(None),
    ~(NIC.c.service_id == any_(bindparam("zone_ids", type_=_UUIDS))),
)


@dataclass(frozen=True, slots=True)
class LiveServiceRow:
    table: Table
    id: UUID
    parent_id: UUID | None
    address: str


def load_live_rows_outside(conn: Connection, zone_ids: list[UUID]) -> list[LiveServiceRow]:
    """Live service rows whose parent is none of ``zone_ids`` (two SELECTs)."""
    rows = [
        LiveServiceRow(Table.EXTERNAL_IP, row.id, row.parent_id, str(row.ip))
        for row in conn.execute(ORPHAN_EXTERNAL_IP_QUERY, {"zone_ids": zone_ids})
    ]
    rows.extend(
        LiveServiceRow(Table.NIC, row.id, row.service_id, str(row.ipv4))
        for row in conn.execute(ORPHAN_NIC_QUERY, {"zone_ids": zone_ids})
    )
    return rows
