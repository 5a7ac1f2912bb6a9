"""Builders of raw table rows for tests that seed the database directly, shaped as upstream
writes them (names ``<prefix>-<zone id>``, ``kind = 'service'`` NICs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from reconfigurator.fixed_data import SERVICE_SUBNETS, SERVICES_VPC_ID, ServiceKind

NOW = datetime(2026, 1, 1, tzinfo=UTC)

#: Pool and range ids for rows seeded without a real pool (``external_ip`` has no foreign key).
SEEDED_POOL_ID = uuid.UUID("5eed0000-0000-4000-8000-000000000001")
SEEDED_RANGE_ID = uuid.UUID("5eed0000-0000-4000-8000-000000000002")


def external_ip_row(**overrides: Any) -> dict[str, Any]:
    """A live floating service IP of a Nexus zone; any column may be overridden."""
    parent = overrides.pop("parent_id", uuid.uuid4())
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": ServiceKind.NEXUS.row_name(parent),
        "description": "nexus",
        "time_created": NOW,
        "time_modified": NOW,
        "time_deleted": None,
        "ip_pool_id": SEEDED_POOL_ID,
        "ip_pool_range_id": SEEDED_RANGE_ID,
        "is_service": True,
        "parent_id": parent,
        "kind": "floating",
        "ip": "192.0.2.10",
        "first_port": 0,
        "last_port": 65535,
        "project_id": None,
        "state": "attached",
        "is_probe": False,
    }
    row.update(overrides)
    return row


def nic_row(**overrides: Any) -> dict[str, Any]:
    """A live ``network_interface`` row of a Nexus zone's service NIC.

    ``service_id`` and ``ipv4`` (the view's names) are accepted for ``parent_id`` and ``ip``.
    """
    if "service_id" in overrides:
        overrides["parent_id"] = overrides.pop("service_id")
    if "ipv4" in overrides:
        overrides["ip"] = overrides.pop("ipv4")
    parent = overrides.pop("parent_id", uuid.uuid4())
    subnet = SERVICE_SUBNETS[ServiceKind.NEXUS]
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": ServiceKind.NEXUS.row_name(parent),
        "description": "nexus service vNIC",
        "time_created": NOW,
        "time_modified": NOW,
        "time_deleted": None,
        "kind": "service",
        "parent_id": parent,
        "vpc_id": SERVICES_VPC_ID,
        "subnet_id": subnet.id,
        "mac": 0xA840_25FF_8001,
        "ip": "172.30.2.5",
        "ipv6": None,
        "slot": 0,
        "is_primary": True,
        "transit_ips": [],
        "transit_ips_v6": [],
    }
    row.update(overrides)
    return row
