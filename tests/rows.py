"""Builders of raw table rows for tests that seed the database directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from reconfigurator.fixed_data import (
    SERVICE_IP_POOL_ID,
    SERVICE_SUBNETS,
    SERVICES_VPC_ID,
    ServiceKind,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def external_ip_row(**overrides: Any) -> dict[str, Any]:
    parent = overrides.pop("parent_id", uuid.uuid4())
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": f"floating-{parent}",
        "description": "nexus",
        "time_created": NOW,
        "time_modified": NOW,
        "time_deleted": None,
        "ip_pool_id": SERVICE_IP_POOL_ID,
        "ip_pool_range_id": uuid.uuid4(),
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
    service = overrides.pop("service_id", uuid.uuid4())
    subnet = SERVICE_SUBNETS[ServiceKind.NEXUS]
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": f"nexus-{service}",
        "description": "nexus service vNIC",
        "time_created": NOW,
        "time_modified": NOW,
        "time_deleted": None,
        "service_id": service,
        "vpc_id": SERVICES_VPC_ID,
        "subnet_id": subnet.id,
        "mac": 0xA840_25FF_8001,
        "ipv4": "172.30.2.5",
        "ipv6": None,
        "slot": 0,
        "is_primary": True,
    }
    row.update(overrides)
    return row
