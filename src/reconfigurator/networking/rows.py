"""What the database holds: plain records of ``external_ip``, ``network_interface`` and
service ``ip_pool_range`` rows, in the columns the decision reads (all of them columns that
upstream's tables have). Small frozen dataclasses with slots, so tens of thousands stay cheap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from uuid import UUID

IpAddress = IPv4Address | IPv6Address
IpNetwork = IPv4Network | IPv6Network

#: ``network_interface.kind`` of a service NIC.
SERVICE_NIC_KIND = "service"


class Table(enum.StrEnum):
    """The two tables of the step, named as the report names them."""

    EXTERNAL_IP = "external_ip"
    #: Service NICs: rows of ``network_interface`` with ``kind = 'service'``, which upstream
    #: reads through its ``service_network_interface`` view.
    NIC = "service_network_interface"


@dataclass(frozen=True, slots=True)
class ExternalIpRow:
    """An ``external_ip`` row."""

    id: UUID
    parent_id: UUID | None
    ip: IpAddress
    first_port: int
    last_port: int
    kind: str
    is_service: bool
    time_deleted: datetime | None

    @property
    def live(self) -> bool:
        """Whether the row is not soft-deleted."""
        return self.time_deleted is None


@dataclass(frozen=True, slots=True)
class NicRow:
    """A ``network_interface`` row (``ipv4`` is the table's ``ip`` column)."""

    id: UUID
    parent_id: UUID
    kind: str
    name: str
    vpc_id: UUID
    subnet_id: UUID
    mac: int
    ipv4: IPv4Address | None
    ipv6: IPv6Address | None
    slot: int
    is_primary: bool
    transit_ips: tuple[IpNetwork, ...]
    time_deleted: datetime | None

    @property
    def live(self) -> bool:
        """Whether the row is not soft-deleted."""
        return self.time_deleted is None

    @property
    def addresses(self) -> str:
        """The NIC's addresses, for messages."""
        return " ".join(str(a) for a in (self.ipv4, self.ipv6) if a is not None)


@dataclass(frozen=True, slots=True)
class PoolRange:
    """A live range of a live service IP pool."""

    id: UUID
    pool_id: UUID
    first: IpAddress
    last: IpAddress

    def contains(self, address: IpAddress) -> bool:
        """Whether ``address`` is in the range (of the same family, between its ends)."""
        if address.version != self.first.version:
            return False
        return int(self.first) <= int(address) <= int(self.last)
