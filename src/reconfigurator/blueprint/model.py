"""The blueprint JSON format (docs/design.md#blueprint-format) as immutable pydantic v2 models.

Unknown fields are rejected. Sleds, disks and zones are kept sorted by id, so the JSON export
is canonical: export → import → export gives the same bytes.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from reconfigurator.fixed_data import (
    FLOATING_FIRST_PORT,
    FLOATING_LAST_PORT,
    ServiceKind,
    mac_to_int,
)

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")

Port = Annotated[int, Field(ge=0, le=65535)]


def _check_mac(value: str) -> str:
    if not _MAC_RE.match(value):
        raise ValueError("not a MAC address of the form aa:bb:cc:dd:ee:ff")
    return value.lower()


MacAddress = Annotated[str, AfterValidator(_check_mac)]


def _check_no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (the database cannot store them)")
    return value


def _check_utc_range(value: datetime) -> datetime:
    """The time in UTC: the database keeps instants, not the offset they were written with."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range: in UTC it must fall within years 1 to 9999") from None


#: Free text stored in text and JSON columns, which cannot hold NUL characters.
Text = Annotated[str, AfterValidator(_check_no_nul)]
#: A timestamp the database can store and give back (timestamptz), normalised to UTC.
Timestamp = Annotated[AwareDatetime, AfterValidator(_check_utc_range)]


# Addresses repeat: a blueprint carries every zone it ever expunged, and the service subnets
# bound how many distinct addresses there can be (and there are three NIC subnets). Parsing
# each distinct text once, and sharing the immutable result, makes validating a large
# blueprint several times faster. Only text that parses is cached; anything else is passed on
# unchanged so the model's own validator reports it as usual.


def _from_text(
    parse: Callable[[str], object], kinds: type | tuple[type, ...], what: str
) -> BeforeValidator:
    """Hand the model's validator an already parsed value: ``parse`` (cached) for text, the
    value itself if it is already one of ``kinds``. Text that does not parse goes on unchanged
    for the model's validator to report; anything else is refused."""

    def before(value: object) -> object:
        if isinstance(value, str):
            try:
                return parse(value)
            except ValueError:
                return value
        if isinstance(value, kinds):
            return value
        # Without this, JSON ``true`` or ``7`` would be taken as the address 0.0.0.1 or 0.0.0.7.
        raise ValueError(f"{what} must be given as a string")

    return BeforeValidator(before)


def _check_unscoped(value: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    # ``ipaddress`` accepts scoped IPv6 addresses (fe80::1%eth0); a service address has no
    # scope, and the database's inet type has no place for one.
    if getattr(value, "scope_id", None) is not None:
        raise ValueError("a scoped IPv6 address (with %zone) is not a service address")
    return value


_address_from_text = _from_text(
    lru_cache(maxsize=16384)(ip_address), (IPv4Address, IPv6Address), "an IP address"
)
# By the time pydantic's own validator of ``IPv4Address | IPv6Address`` runs, the value is
# already one of the two; in its default ("smart") mode pydantic still tries both members to
# rank them, and the IPv6 attempt on an IPv4 address fails slowly (it formats the address and
# parses the text again). Trying the members in order accepts and refuses exactly the same
# values, with the same errors, and takes about a quarter off the work of validating a large
# blueprint.
IpAddress = Annotated[
    IPv4Address | IPv6Address,
    Field(union_mode="left_to_right"),
    _address_from_text,
    AfterValidator(_check_unscoped),
]
Ipv4Address = Annotated[IPv4Address, _address_from_text]
Ipv6Address = Annotated[IPv6Address, _address_from_text, AfterValidator(_check_unscoped)]
Ipv4Network = Annotated[
    IPv4Network,
    _from_text(lru_cache(maxsize=1024)(IPv4Network), IPv4Network, "an IPv4 network"),
]
Ipv6Network = Annotated[
    IPv6Network,
    _from_text(lru_cache(maxsize=1024)(IPv6Network), IPv6Network, "an IPv6 network"),
]
IpNetwork = Annotated[
    IPv4Network | IPv6Network,
    _from_text(lru_cache(maxsize=1024)(ip_network), (IPv4Network, IPv6Network), "an IP network"),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZoneKind(enum.StrEnum):
    """Every zone kind a blueprint may hold."""

    NEXUS = "nexus"
    EXTERNAL_DNS = "external_dns"
    BOUNDARY_NTP = "boundary_ntp"
    INTERNAL_NTP = "internal_ntp"
    INTERNAL_DNS = "internal_dns"
    CRUCIBLE = "crucible"
    CRUCIBLE_PANTRY = "crucible_pantry"
    COCKROACH_DB = "cockroach_db"
    CLICKHOUSE = "clickhouse"
    OXIMETER = "oximeter"

    @property
    def service_kind(self) -> ServiceKind | None:
        """The external-networking kind, or ``None`` for zones without external networking."""
        try:
            return ServiceKind(self.value)
        except ValueError:
            return None


# --- dispositions -------------------------------------------------------------------------


class InServiceDisposition(_Model):
    """The disposition of a disk or zone that is in service."""

    kind: Literal["in_service"] = Field(description="The tag: the disk or zone is in service.")


class ExpungedDisposition(_Model):
    """The disposition of a disk or zone that has been expunged, and as of which generation."""

    kind: Literal["expunged"] = Field(description="The tag: the disk or zone has been expunged.")
    as_of_generation: Annotated[
        int,
        Field(
            ge=1,
            description="The generation of the sled's configuration that expunged it.",
        ),
    ]
    ready_for_cleanup: bool = Field(
        default=False,
        description="Whether everything it held has been cleaned up, so its records may go.",
    )


Disposition = Annotated[InServiceDisposition | ExpungedDisposition, Field(discriminator="kind")]

IN_SERVICE = InServiceDisposition(kind="in_service")


# --- external networking -------------------------------------------------------------------


class ExternalIp(_Model):
    """A floating external IP (Nexus, external DNS): all ports."""

    id: UUID = Field(description="Row id of the address in external_ip.")
    ip: IpAddress = Field(description="The address, IPv4 or IPv6, in a live service IP range.")

    @property
    def first_port(self) -> int:
        """The first port the address covers: 0."""
        return FLOATING_FIRST_PORT

    @property
    def last_port(self) -> int:
        """The last port the address covers: 65535."""
        return FLOATING_LAST_PORT


class SnatExternalIp(_Model):
    """A SNAT external IP (boundary NTP): one block of ports."""

    id: UUID = Field(description="Row id of the address in external_ip.")
    ip: IpAddress = Field(description="The address, IPv4 or IPv6, in a live service IP range.")
    first_port: Port = Field(description="First port of the zone's block (inclusive).")
    last_port: Port = Field(description="Last port of the zone's block (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> SnatExternalIp:
        if self.first_port > self.last_port:
            raise ValueError(f"first_port {self.first_port} is after last_port {self.last_port}")
        return self


class ServiceNic(_Model):
    """A zone's service NIC (OPTE vNIC) in the services VPC.

    Its private addresses are IPv4 (``ip`` and ``subnet``), IPv6 (``ipv6`` and
    ``ipv6_subnet``) or both; each address comes with its subnet. ``transit_ips`` are the
    further networks the NIC may send and receive on, each of a family the NIC has an address
    of. Keys of an absent family, and an empty ``transit_ips``, are left out of the JSON.
    """

    id: UUID = Field(description="Row id of the NIC in network_interface.")
    name: Annotated[Text, Field(min_length=1, max_length=63)] = Field(
        description="The NIC's name; upstream uses <prefix>-<zone id>."
    )
    ip: Ipv4Address | None = Field(default=None, description="Private IPv4 address.")
    mac: MacAddress = Field(description="MAC address, in the system-service range.")
    subnet: Ipv4Network | None = Field(
        default=None, description="The IPv4 subnet of the zone kind (with ip)."
    )
    vni: Annotated[int, Field(ge=0, lt=1 << 24)] = Field(description="The services VNI, 100.")
    primary: bool = Field(description="Whether this is the zone's primary NIC.")
    slot: Annotated[int, Field(ge=0, le=7)] = Field(description="NIC slot, 0 to 7.")
    ipv6: Ipv6Address | None = Field(default=None, description="Private IPv6 address.")
    ipv6_subnet: Ipv6Network | None = Field(
        default=None, description="The IPv6 subnet of the zone kind (with ipv6)."
    )
    transit_ips: tuple[IpNetwork, ...] = Field(
        default=(), description="Further networks the NIC may use, of its address families."
    )

    @model_validator(mode="after")
    def _addresses(self) -> ServiceNic:
        if (self.ip is None) != (self.subnet is None):
            raise ValueError("ip and subnet must be given together (an IPv4 address and subnet)")
        if (self.ipv6 is None) != (self.ipv6_subnet is None):
            raise ValueError(
                "ipv6 and ipv6_subnet must be given together (an IPv6 address and subnet)"
            )
        if self.ip is None and self.ipv6 is None:
            raise ValueError("a NIC needs an IPv4 address (ip), an IPv6 address (ipv6), or both")
        for network in self.transit_ips:
            if (self.ip if network.version == 4 else self.ipv6) is None:
                raise ValueError(
                    f"transit IP {network} is IPv{network.version} but the NIC has no"
                    f" IPv{network.version} address"
                )
        return self

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in _OPTIONAL_NIC_KEYS:
            if not data.get(key):
                data.pop(key, None)
        return data

    @property
    def mac_int(self) -> int:
        """The MAC as the 48-bit integer the database stores."""
        return mac_to_int(self.mac)


#: NIC keys left out of the JSON when absent (None) or empty.
_OPTIONAL_NIC_KEYS = ("ip", "subnet", "ipv6", "ipv6_subnet", "transit_ips")


# --- zone types -------------------------------------------------------------------------------


class NexusZone(_Model):
    """A Nexus zone: a floating external IP and a service NIC."""

    kind: Literal["nexus"] = Field(description="The zone kind.")
    external_ip: ExternalIp = Field(description="The zone's floating external IP.")
    nic: ServiceNic = Field(description="The zone's service NIC.")


class ExternalDnsZone(_Model):
    """An external DNS zone: a floating external IP and a service NIC."""

    kind: Literal["external_dns"] = Field(description="The zone kind.")
    external_ip: ExternalIp = Field(description="The zone's floating external IP.")
    nic: ServiceNic = Field(description="The zone's service NIC.")


class BoundaryNtpZone(_Model):
    """A boundary NTP zone: a SNAT external IP (an address and a block of ports) and a
    service NIC.
    """

    kind: Literal["boundary_ntp"] = Field(description="The zone kind.")
    external_ip: SnatExternalIp = Field(description="The zone's SNAT address and port block.")
    nic: ServiceNic = Field(description="The zone's service NIC.")


class InternalNtpZone(_Model):
    """An internal NTP zone (no external networking)."""

    kind: Literal["internal_ntp"] = Field(description="The zone kind.")


class InternalDnsZone(_Model):
    """An internal DNS zone (no external networking)."""

    kind: Literal["internal_dns"] = Field(description="The zone kind.")


class CrucibleZone(_Model):
    """A Crucible storage zone (no external networking)."""

    kind: Literal["crucible"] = Field(description="The zone kind.")


class CruciblePantryZone(_Model):
    """A Crucible pantry zone (no external networking)."""

    kind: Literal["crucible_pantry"] = Field(description="The zone kind.")


class CockroachDbZone(_Model):
    """A CockroachDB zone (no external networking)."""

    kind: Literal["cockroach_db"] = Field(description="The zone kind.")


class ClickhouseZone(_Model):
    """A ClickHouse zone (no external networking)."""

    kind: Literal["clickhouse"] = Field(description="The zone kind.")


class OximeterZone(_Model):
    """An Oximeter zone (no external networking)."""

    kind: Literal["oximeter"] = Field(description="The zone kind.")


ExternalNetworkingZoneType = NexusZone | ExternalDnsZone | BoundaryNtpZone

ZoneType = Annotated[
    NexusZone
    | ExternalDnsZone
    | BoundaryNtpZone
    | InternalNtpZone
    | InternalDnsZone
    | CrucibleZone
    | CruciblePantryZone
    | CockroachDbZone
    | ClickhouseZone
    | OximeterZone,
    Field(discriminator="kind"),
]

#: Discriminator values, used to drop them from error paths.
ZONE_KIND_TAGS = frozenset(kind.value for kind in ZoneKind)
DISPOSITION_TAGS = frozenset({"in_service", "expunged"})


# --- sleds, disks, zones ------------------------------------------------------------------------


class BlueprintZone(_Model):
    """A service zone: its id, the pool its root filesystem lives on, its disposition, and its
    type (which carries the external IP and NIC of the kinds that have them).
    """

    id: UUID = Field(
        description="The zone's id; its rows in the networking tables have it as parent."
    )
    filesystem_pool: UUID = Field(
        description="The pool_id of the disk of this sled holding the zone's root filesystem."
    )
    disposition: Disposition = Field(description="In service, or expunged.")
    zone_type: ZoneType = Field(
        description="The zone's kind (tag 'kind') and, for kinds with external networking,"
        " its external IP and service NIC."
    )

    @property
    def kind(self) -> ZoneKind:
        """The zone's kind."""
        return ZoneKind(self.zone_type.kind)

    @property
    def is_in_service(self) -> bool:
        """Whether the zone is in service."""
        return self.disposition.kind == "in_service"

    @property
    def is_expunged(self) -> bool:
        """Whether the zone has been expunged."""
        return self.disposition.kind == "expunged"

    @property
    def networking(self) -> ExternalNetworkingZoneType | None:
        """The zone type if this zone has external networking, else ``None``."""
        zone_type = self.zone_type
        if isinstance(zone_type, NexusZone | ExternalDnsZone | BoundaryNtpZone):
            return zone_type
        return None

    @property
    def external_ip(self) -> ExternalIp | SnatExternalIp | None:
        """The zone's external IP, or ``None`` for zones without external networking."""
        networking = self.networking
        return networking.external_ip if networking is not None else None

    @property
    def nic(self) -> ServiceNic | None:
        """The zone's service NIC, or ``None`` for zones without external networking."""
        networking = self.networking
        return networking.nic if networking is not None else None


class BlueprintDisk(_Model):
    """A physical disk of a sled and the zpool on it."""

    id: UUID = Field(description="The physical disk's id.")
    pool_id: UUID = Field(description="The id of the zpool on the disk.")
    disposition: Disposition = Field(description="In service, or expunged.")

    @property
    def is_in_service(self) -> bool:
        """Whether the disk is in service."""
        return self.disposition.kind == "in_service"


class SledState(enum.StrEnum):
    """Whether a sled is active or has been decommissioned."""

    ACTIVE = "active"
    DECOMMISSIONED = "decommissioned"


_T = TypeVar("_T", BlueprintDisk, BlueprintZone)


def _sorted_by_id(items: tuple[_T, ...]) -> tuple[_T, ...]:
    return tuple(sorted(items, key=lambda item: item.id))


class BlueprintSled(_Model):
    """A sled with its disks and the zones placed on their pools (each list sorted by id)."""

    id: UUID = Field(description="The sled's id.")
    state: SledState = Field(description="Active, or decommissioned.")
    disks: tuple[BlueprintDisk, ...] = Field(
        default=(), description="The sled's physical disks, sorted by id."
    )
    zones: tuple[BlueprintZone, ...] = Field(
        default=(), description="The zones on the sled's pools, sorted by id."
    )

    _sort_disks = field_validator("disks")(_sorted_by_id)
    _sort_zones = field_validator("zones")(_sorted_by_id)

    def disk_for_pool(self, pool_id: UUID) -> BlueprintDisk | None:
        """The sled's disk holding pool ``pool_id``, or ``None``."""
        for disk in self.disks:
            if disk.pool_id == pool_id:
                return disk
        return None


class Blueprint(_Model):
    """A blueprint: the sleds, disks and zones a control plane wants, immutable.

    Read one with :func:`~reconfigurator.blueprint.parse.parse_blueprint` (JSON) and write it
    with :meth:`to_json`; sleds, disks and zones are kept sorted by id, so the JSON is
    canonical.
    """

    id: UUID = Field(description="The blueprint's id.")
    parent_blueprint_id: UUID | None = Field(
        description="The blueprint this one was planned from; null for the first."
    )
    time_created: Timestamp = Field(description="When it was made (RFC 3339, with an offset).")
    creator: Annotated[Text, Field(max_length=1024)] = Field(
        description="Who or what made it (a planner, an operator's tool)."
    )
    comment: Annotated[Text, Field(max_length=4096)] = Field(
        description="Why it was made, for people (the planner lists its changes)."
    )
    #: Bumped (parent's plus one) exactly when the external networking of the in-service
    #: zones changes. 1 when absent, and left out of the JSON when 1, so documents written
    #: before it existed export unchanged.
    external_networking_generation: Annotated[int, Field(ge=1, lt=1 << 63)] = Field(
        default=1,
        description="Generation of the in-service zones' external networking (default 1).",
    )
    sleds: tuple[BlueprintSled, ...] = Field(
        default=(), description="The sleds, with their disks and zones, sorted by id."
    )

    @field_validator("sleds")
    @classmethod
    def _sort_sleds(cls, sleds: tuple[BlueprintSled, ...]) -> tuple[BlueprintSled, ...]:
        return tuple(sorted(sleds, key=lambda sled: sled.id))

    @model_serializer(mode="wrap")
    def _without_first_generation(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("external_networking_generation") == 1:
            del data["external_networking_generation"]
        return data

    # --- reading ----------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: str | bytes) -> Blueprint:
        """Parse and validate a JSON document (raises ``pydantic.ValidationError``)."""
        return cls.model_validate_json(data)

    def to_json(self) -> str:
        """Canonical JSON: fixed key order, sorted collections, two-space indent, newline."""
        return json.dumps(self.to_document(), indent=2, ensure_ascii=False) + "\n"

    def to_document(self) -> dict[str, Any]:
        """The JSON document as plain Python data (what the database stores)."""
        return self.model_dump(mode="json")

    # --- helpers the rest of the system needs --------------------------------------------------

    def zones(self) -> Iterator[tuple[BlueprintSled, BlueprintZone]]:
        """Every zone with its sled, ordered by sled id then zone id."""
        for sled in self.sleds:
            for zone in sled.zones:
                yield sled, zone

    def all_zones(self) -> Iterator[BlueprintZone]:
        """Every zone, ordered by sled id then zone id."""
        for _sled, zone in self.zones():
            yield zone

    def in_service_zones(self) -> Iterator[BlueprintZone]:
        """The in-service zones, ordered by sled id then zone id."""
        return (zone for zone in self.all_zones() if zone.is_in_service)

    def expunged_zones(self) -> Iterator[BlueprintZone]:
        """The expunged zones, ordered by sled id then zone id."""
        return (zone for zone in self.all_zones() if zone.is_expunged)

    def zones_with_external_networking(self) -> Iterator[BlueprintZone]:
        """The zones (in service or expunged) that have an external IP and a service NIC."""
        return (zone for zone in self.all_zones() if zone.networking is not None)

    @cached_property
    def _zone_index(self) -> dict[UUID, tuple[BlueprintSled, BlueprintZone]]:
        return {zone.id: (sled, zone) for sled, zone in self.zones()}

    def zone(self, zone_id: UUID) -> BlueprintZone | None:
        """The zone with id ``zone_id``, or ``None``."""
        found = self._zone_index.get(zone_id)
        return found[1] if found is not None else None

    def sled_of_zone(self, zone_id: UUID) -> BlueprintSled | None:
        """The sled the zone with id ``zone_id`` is on, or ``None``."""
        found = self._zone_index.get(zone_id)
        return found[0] if found is not None else None

    def sled(self, sled_id: UUID) -> BlueprintSled | None:
        """The sled with id ``sled_id``, or ``None``."""
        for sled in self.sleds:
            if sled.id == sled_id:
                return sled
        return None
