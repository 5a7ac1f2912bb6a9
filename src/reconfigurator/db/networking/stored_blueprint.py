"""What a stored blueprint asks of the networking tables, read from its rows.

Only the in-service zones with external networking come back (a few hundred on a rack,
however many zones the blueprint has expunged over the years), with two numbers about the
expunged ones: how many there are, and which of them record a row id an in-service zone
records too. The expunged zones themselves stay in the database, where the query that reads
the networking tables joins them (:mod:`reconfigurator.db.networking.read`). Three SELECTs,
whatever the size of the blueprint; a blueprint never changes, so an executor reads this once
per target.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_network
from typing import Any
from uuid import UUID

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.engine import Connection

from reconfigurator.db.schema import (
    BpDisposition,
    bp_omicron_zone_nic_table,
    bp_omicron_zone_nic_transit_ip_table,
    bp_omicron_zone_table,
)
from reconfigurator.db.values import to_address
from reconfigurator.errors import BlueprintRowsInconsistent
from reconfigurator.fixed_data import (
    FLOATING_FIRST_PORT,
    FLOATING_LAST_PORT,
    SERVICE_SUBNETS,
    ServiceKind,
)
from reconfigurator.networking.desired import (
    BlueprintNetworking,
    DesiredExternalIp,
    DesiredNic,
    StoredExpungedZones,
)
from reconfigurator.networking.rows import IpNetwork, Table

ZONE = bp_omicron_zone_table
NIC = bp_omicron_zone_nic_table
TRANSIT = bp_omicron_zone_nic_transit_ip_table

_NETWORKING_KINDS = tuple(kind.value for kind in ServiceKind)


def _in_service_query() -> Any:
    return (
        select(
            ZONE.c.sled_id,
            ZONE.c.id.label("zone_id"),
            ZONE.c.zone_type,
            ZONE.c.external_ip_id,
            ZONE.c.second_service_ip,
            ZONE.c.snat_ip,
            ZONE.c.snat_first_port,
            ZONE.c.snat_last_port,
            ZONE.c.bp_nic_id,
            NIC.c.id.label("nic_id"),
            NIC.c.name,
            NIC.c.ip,
            NIC.c.ipv6,
            NIC.c.mac,
            NIC.c.slot,
            NIC.c.is_primary,
        )
        .select_from(
            ZONE.outerjoin(
                NIC, and_(NIC.c.blueprint_id == ZONE.c.blueprint_id, NIC.c.id == ZONE.c.bp_nic_id)
            )
        )
        .where(
            ZONE.c.blueprint_id == _blueprint_id(),
            ZONE.c.disposition == BpDisposition.IN_SERVICE.value,
            ZONE.c.zone_type.in_(_NETWORKING_KINDS),
        )
        .order_by(ZONE.c.sled_id, ZONE.c.id)
    )


def _blueprint_id() -> Any:
    return bindparam("blueprint_id", type_=ZONE.c.blueprint_id.type)


def _expunged_query() -> Any:
    """The number of expunged zones with external networking, with those of them that record
    a row id an in-service zone records too (one row with null zone columns when none does)."""
    expunged = (
        select(ZONE.c.sled_id, ZONE.c.id, ZONE.c.external_ip_id, ZONE.c.bp_nic_id)
        .where(
            ZONE.c.blueprint_id == _blueprint_id(),
            ZONE.c.disposition == BpDisposition.EXPUNGED.value,
            ZONE.c.external_ip_id.is_not(None),
        )
        .cte("expunged")
    )
    in_service = (
        select(ZONE.c.external_ip_id, ZONE.c.bp_nic_id)
        .where(
            ZONE.c.blueprint_id == _blueprint_id(),
            ZONE.c.disposition == BpDisposition.IN_SERVICE.value,
            ZONE.c.external_ip_id.is_not(None),
        )
        .cte("in_service")
    )
    counted = select(func.count().label("total")).select_from(expunged).subquery("counted")
    claimed = or_(
        expunged.c.external_ip_id.in_(select(in_service.c.external_ip_id)),
        expunged.c.bp_nic_id.in_(select(in_service.c.bp_nic_id)),
    )
    return (
        select(
            counted.c.total,
            expunged.c.sled_id,
            expunged.c.id,
            expunged.c.external_ip_id,
            expunged.c.bp_nic_id,
        )
        .select_from(counted.outerjoin(expunged, claimed))
        .order_by(expunged.c.sled_id, expunged.c.id)
    )


IN_SERVICE_QUERY = _in_service_query()
EXPUNGED_QUERY = _expunged_query()
TRANSIT_QUERY = (
    select(TRANSIT.c.nic_id, TRANSIT.c.network)
    .where(TRANSIT.c.blueprint_id == _blueprint_id())
    .order_by(TRANSIT.c.nic_id, TRANSIT.c.position)
)


def _network(value: Any) -> IpNetwork:
    network = getattr(value, "network", None)
    if network is None:  # pragma: no cover - psycopg gives INET as an interface
        return ip_network(str(value))
    return network  # type: ignore[no-any-return]


def load_blueprint_networking(
    conn: Connection, blueprint_id: UUID, *, transit_ips: bool = True
) -> BlueprintNetworking:
    """What the stored blueprint asks of the tables (three SELECTs). With ``transit_ips``
    false (a database without this project's table of them) its NICs have none."""
    params = {"blueprint_id": blueprint_id}
    transit: dict[UUID, list[IpNetwork]] = {}
    if transit_ips:
        for row in conn.execute(TRANSIT_QUERY, params):
            transit.setdefault(row.nic_id, []).append(_network(row.network))
    external_ips: list[DesiredExternalIp] = []
    nics: list[DesiredNic] = []
    for row in conn.execute(IN_SERVICE_QUERY, params):
        external, nic = _desired(blueprint_id, row, transit)
        external_ips.append(external)
        nics.append(nic)
    count = 0
    claims: dict[tuple[Table, UUID], UUID] = {}
    for row in conn.execute(EXPUNGED_QUERY, params):
        count = int(row.total)
        if row.id is None:
            continue
        claims[(Table.EXTERNAL_IP, row.external_ip_id)] = row.id
        claims[(Table.NIC, row.bp_nic_id)] = row.id
    return BlueprintNetworking(
        blueprint_id,
        (),
        tuple(external_ips),
        tuple(nics),
        StoredExpungedZones(count, claims),
    )


def _desired(
    blueprint_id: UUID, row: Any, transit: dict[UUID, list[IpNetwork]]
) -> tuple[DesiredExternalIp, DesiredNic]:
    kind = ServiceKind(str(row.zone_type))
    if row.external_ip_id is None or row.nic_id is None:
        raise BlueprintRowsInconsistent(
            blueprint_id,
            f"{kind.value} zone {row.zone_id} has no external IP or no NIC in its rows",
        )
    snat = row.snat_ip is not None
    address = row.snat_ip if snat else row.second_service_ip
    if address is None:
        raise BlueprintRowsInconsistent(
            blueprint_id, f"{kind.value} zone {row.zone_id} has no external IP address"
        )
    external = DesiredExternalIp(
        zone_id=row.zone_id,
        zone_kind=kind,
        id=row.external_ip_id,
        ip=to_address(address),
        first_port=row.snat_first_port if snat else FLOATING_FIRST_PORT,
        last_port=row.snat_last_port if snat else FLOATING_LAST_PORT,
        kind="snat" if snat else "floating",
    )
    ipv4 = to_address(row.ip) if row.ip is not None else None
    ipv6 = to_address(row.ipv6) if row.ipv6 is not None else None
    nic = DesiredNic(
        zone_id=row.zone_id,
        zone_kind=kind,
        id=row.nic_id,
        name=row.name,
        subnet_id=SERVICE_SUBNETS[kind].id,
        mac=row.mac,
        ipv4=ipv4 if isinstance(ipv4, IPv4Address) else None,
        ipv6=ipv6 if isinstance(ipv6, IPv6Address) else None,
        slot=row.slot,
        is_primary=row.is_primary,
        transit_ips=tuple(transit.get(row.nic_id, ())),
    )
    return external, nic
