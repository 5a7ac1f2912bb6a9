"""In-memory rows for tests of the networking decision: the row a blueprint asks for, as the
executor would create it, with any field changed."""

from __future__ import annotations

import dataclasses

from reconfigurator.networking import DesiredExternalIp, DesiredNic, ExternalIpRow, NicRow


def live_external_ip(wanted: DesiredExternalIp, **changes: object) -> ExternalIpRow:
    """The live ``external_ip`` row the blueprint asks for, with ``changes``."""
    row = ExternalIpRow(
        id=wanted.id,
        parent_id=wanted.zone_id,
        ip=wanted.ip,
        first_port=wanted.first_port,
        last_port=wanted.last_port,
        kind=wanted.kind,
        is_service=True,
        time_deleted=None,
    )
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


def live_nic(wanted: DesiredNic, **changes: object) -> NicRow:
    """The live service NIC the blueprint asks for, with ``changes``."""
    row = NicRow(
        id=wanted.id,
        parent_id=wanted.zone_id,
        kind="service",
        name=wanted.name,
        vpc_id=wanted.vpc_id,
        subnet_id=wanted.subnet_id,
        mac=wanted.mac,
        ipv4=wanted.ipv4,
        ipv6=wanted.ipv6,
        slot=wanted.slot,
        is_primary=wanted.is_primary,
        transit_ips=wanted.transit_ips,
        time_deleted=None,
    )
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]
