"""Upstream's blueprint JSON (omicron's internal API ``Blueprint``) converted into this format.

The conversion follows the ``Blueprint`` schema of ``openapi/nexus-lockstep.json`` at omicron
commit :data:`OMICRON_COMMIT`. It keeps what this project models — the blueprint's identity,
history and external networking generation, sleds and their state, disks and their pools,
zones with their kind, pool and disposition, and the external IP and service NIC of Nexus,
external DNS and boundary NTP zones — and drops the rest, which :data:`DROPPED_FIELDS` lists
by upstream object.

Whole objects are never dropped: a sled, disk or zone that this format cannot hold (a zone
kind it does not model, a NIC that is not its zone's service NIC, a zone root on an internal
zpool) refuses the document, because a stored blueprint missing a zone would describe
another rack, and every later plan and diff would be built on that. Keys that upstream's
schema does not have are refused too: they belong to a version of upstream's format this
conversion does not know, and could carry something the executor must not ignore.

Every refusal is an :class:`~reconfigurator.errors.OmicronBlueprintRefused` naming a JSON
path into the *upstream* document, e.g. ``sleds.<sled id>.zones[3].zone_type.type``. The
converted document is then validated exactly as a native document is (so a value this
format refuses, such as a NIC slot of 9, is reported at its upstream path too). Lint is not
run here: callers run it as for any parsed blueprint. Pure: no database, no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from ipaddress import ip_address, ip_network
from typing import Any, Final
from uuid import UUID

from reconfigurator.blueprint.model import Blueprint, ZoneKind
from reconfigurator.blueprint.parse import ROOT_PATH, parse_blueprint
from reconfigurator.errors import BlueprintInvalid, OmicronBlueprintRefused, OmicronRefusal

#: The omicron commit whose schema the conversion follows.
OMICRON_COMMIT: Final = "b848b6df85531e85aaaa6d434dfb5bfd45bb42ce"
#: The document at that commit that holds the schema (``components.schemas.Blueprint``).
OMICRON_SCHEMA_DOCUMENT: Final = "openapi/nexus-lockstep.json"

#: Upstream fields read and carried over, by upstream object.
KEPT_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "Blueprint": frozenset(
        {
            "id",
            "parent_blueprint_id",
            "time_created",
            "creator",
            "comment",
            "external_networking_generation",
            "sleds",
        }
    ),
    "BlueprintSledConfig": frozenset({"state", "disks", "zones"}),
    "BlueprintPhysicalDiskConfig": frozenset({"id", "pool_id", "disposition"}),
    "BlueprintZoneConfig": frozenset({"id", "filesystem_pool", "disposition", "zone_type"}),
    "BlueprintZoneType.nexus": frozenset({"type", "external_ip", "nic"}),
    "BlueprintZoneType.external_dns": frozenset({"type", "dns_address", "nic"}),
    "BlueprintZoneType.boundary_ntp": frozenset({"type", "external_ip", "nic"}),
    # Zones without external networking: only their kind (the tag).
    **{
        f"BlueprintZoneType.{kind.value}": frozenset({"type"})
        for kind in ZoneKind
        if kind.service_kind is None
    },
}

#: Upstream fields accepted and left out of the converted blueprint, by upstream object.
#: Nothing in this project reads them: the executor's step needs only external IPs and
#: service NICs, the planner only sleds, disks, zones and their dispositions.
DROPPED_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "Blueprint": frozenset(
        {
            "clickhouse_cluster_config",
            "cockroachdb_fingerprint",
            "cockroachdb_setting_preserve_downgrade",
            "external_dns_version",
            "internal_dns_version",
            "nexus_generation",
            "oximeter_read_mode",
            "oximeter_read_version",
            "pending_mgs_updates",
            "source",
            "target_release_minimum_generation",
        }
    ),
    "BlueprintSledConfig": frozenset(
        {
            "datasets",
            "host_phase_2",
            "last_allocated_ip_subnet_offset",
            "measurements",
            "remove_mupdate_override",
            "sled_agent_generation",
            "subnet",
            "update_disposition",
        }
    ),
    "BlueprintPhysicalDiskConfig": frozenset({"identity"}),
    "BlueprintZoneConfig": frozenset({"image_source"}),
    "BlueprintZoneType.nexus": frozenset(
        {
            "external_dns_servers",
            "external_tls",
            "internal_address",
            "lockstep_port",
            "nexus_generation",
        }
    ),
    "BlueprintZoneType.external_dns": frozenset({"dataset", "http_address"}),
    "BlueprintZoneType.boundary_ntp": frozenset(
        {"address", "dns_servers", "domain", "ntp_servers"}
    ),
    "BlueprintZoneType.internal_ntp": frozenset({"address"}),
    "BlueprintZoneType.internal_dns": frozenset(
        {"dataset", "dns_address", "gz_address", "gz_address_index", "http_address"}
    ),
    "BlueprintZoneType.crucible": frozenset({"address", "dataset"}),
    "BlueprintZoneType.crucible_pantry": frozenset({"address"}),
    "BlueprintZoneType.cockroach_db": frozenset({"address", "dataset"}),
    "BlueprintZoneType.clickhouse": frozenset({"address", "dataset"}),
    "BlueprintZoneType.oximeter": frozenset({"address"}),
}

#: Zone kinds upstream has and this format does not model: a document with one is refused.
UNMODELLED_ZONE_KINDS: Final = frozenset({"clickhouse_keeper", "clickhouse_server"})

#: The one kind of upstream NIC this format holds: a service's, whose id is the zone's.
_SERVICE_NIC_KIND = "service"
_NIC_KINDS = frozenset({"instance", "service", "probe"})
_SLED_STATES = frozenset({"active", "decommissioned"})
_DISPOSITION_KINDS = frozenset({"in_service", "expunged"})
_EXTERNAL_POOL_PREFIX = "oxp_"
_INTERNAL_POOL_PREFIX = "oxi_"
_MAX_PORT = 65535

_Object = dict[str, Any]


def from_omicron(document: object) -> Blueprint:
    """Convert an upstream blueprint, already decoded from JSON, into a :class:`Blueprint`.

    Raises :class:`~reconfigurator.errors.OmicronBlueprintRefused`, naming a JSON path into
    ``document``, for anything it cannot convert. Deterministic: equal input (whatever the
    order of sleds and zones) gives an equal blueprint.
    """
    converter = _Converter()
    converted = converter.blueprint(document)
    try:
        return parse_blueprint(json.dumps(converted))
    except BlueprintInvalid as exc:
        raise OmicronBlueprintRefused(
            converter.upstream_path(exc.path),
            exc.message,
            reason=OmicronRefusal.INVALID,
            more=exc.more,
        ) from exc


def parse_omicron_blueprint(data: str | bytes) -> Blueprint:
    """Decode upstream blueprint JSON and convert it (see :func:`from_omicron`)."""
    try:
        document = json.loads(data, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise OmicronBlueprintRefused(
            ROOT_PATH, f"not valid JSON: {exc}", reason=OmicronRefusal.MALFORMED
        ) from exc
    return from_omicron(document)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


# --- JSON paths --------------------------------------------------------------------------------


#: A key written as is in a path; any other is written quoted, in brackets (``["a.b"]``).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(path: str, key: str) -> str:
    if not _PLAIN_KEY.fullmatch(key):
        return f"{path}[{json.dumps(key)}]"
    return key if path == ROOT_PATH else f"{path}.{key}"


def _index(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _malformed(path: str, message: str) -> OmicronBlueprintRefused:
    return OmicronBlueprintRefused(path, message, reason=OmicronRefusal.MALFORMED)


def _unrepresentable(path: str, message: str) -> OmicronBlueprintRefused:
    return OmicronBlueprintRefused(path, message, reason=OmicronRefusal.UNREPRESENTABLE)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# --- the conversion -------------------------------------------------------------------------


class _Converter:
    """Builds this format's document and remembers where each of its parts came from."""

    def __init__(self) -> None:
        #: Path in the converted document → path in the upstream document.
        self._origins: dict[str, str] = {}

    def upstream_path(self, path: str) -> str:
        """The upstream path of ``path`` (a path into the converted document)."""
        probe = path
        while True:
            origin = self._origins.get(probe)
            if origin is not None:
                return origin + path[len(probe) :]
            cut = max(probe.rfind("."), probe.rfind("["))
            if cut <= 0:
                return ROOT_PATH
            probe = probe[:cut]

    def _from(self, path: str, upath: str) -> None:
        self._origins[path] = upath

    # --- shapes ---------------------------------------------------------------------------

    def _object(self, value: object, upath: str, schema: str) -> _Object:
        """``value`` as an object whose keys are all known for ``schema``."""
        if not isinstance(value, dict):
            raise _malformed(upath, f"expected an object, found {_json_type(value)}")
        known = KEPT_FIELDS.get(schema, frozenset()) | DROPPED_FIELDS.get(schema, frozenset())
        return self._known_keys(value, upath, known, schema)

    @staticmethod
    def _known_keys(value: _Object, upath: str, known: frozenset[str], schema: str) -> _Object:
        for key in value:
            if key not in known:
                raise _malformed(
                    _key(upath, key),
                    f"unknown field of {schema} (not in upstream's schema at commit"
                    f" {OMICRON_COMMIT[:12]})",
                )
        return value

    @staticmethod
    def _plain_object(value: object, upath: str, keys: frozenset[str], schema: str) -> _Object:
        if not isinstance(value, dict):
            raise _malformed(upath, f"expected an object, found {_json_type(value)}")
        return _Converter._known_keys(value, upath, keys, schema)

    @staticmethod
    def _required(value: _Object, key: str, upath: str) -> Any:
        if key not in value:
            raise _malformed(_key(upath, key), "required field is missing")
        return value[key]

    @staticmethod
    def _string(value: object, upath: str) -> str:
        if not isinstance(value, str):
            raise _malformed(upath, f"expected a string, found {_json_type(value)}")
        return value

    @staticmethod
    def _array(value: object, upath: str) -> list[Any]:
        if not isinstance(value, list):
            raise _malformed(upath, f"expected an array, found {_json_type(value)}")
        return value

    def _copy(
        self, source: _Object, key: str, upath: str, target: _Object, path: str, *, name: str = ""
    ) -> None:
        """Carry ``source[key]`` (required) over as ``target[name or key]``, unchanged."""
        name = name or key
        target[name] = self._required(source, key, upath)
        self._from(_key(path, name), _key(upath, key))

    # --- blueprint, sleds, disks -----------------------------------------------------------

    def blueprint(self, document: object) -> _Object:
        upath = path = ROOT_PATH
        source = self._object(document, upath, "Blueprint")
        result: _Object = {}
        for key in ("id", "time_created", "creator", "comment", "external_networking_generation"):
            self._copy(source, key, upath, result, path)
        # Optional upstream (a blueprint built by rack setup has no parent); null when absent.
        result["parent_blueprint_id"] = source.get("parent_blueprint_id")
        self._from("parent_blueprint_id", "parent_blueprint_id")

        sleds_upath = _key(upath, "sleds")
        sleds = self._required(source, "sleds", upath)
        if not isinstance(sleds, dict):
            raise _malformed(
                sleds_upath, f"expected an object keyed by sled id, found {_json_type(sleds)}"
            )
        self._from("sleds", sleds_upath)
        result["sleds"] = [
            self._sled(sled_id, sled, _key(sleds_upath, sled_id), _index("sleds", index))
            for index, (sled_id, sled) in enumerate(sleds.items())
        ]
        return result

    def _sled(self, sled_id: str, value: object, upath: str, path: str) -> _Object:
        source = self._object(value, upath, "BlueprintSledConfig")
        self._from(path, upath)
        self._from(_key(path, "id"), upath)
        state = self._string(self._required(source, "state", upath), _key(upath, "state"))
        if state not in _SLED_STATES:
            raise _malformed(_key(upath, "state"), f"unknown sled state {state!r}")
        self._from(_key(path, "state"), _key(upath, "state"))
        disks = self._array(self._required(source, "disks", upath), _key(upath, "disks"))
        zones = self._array(self._required(source, "zones", upath), _key(upath, "zones"))
        self._from(_key(path, "disks"), _key(upath, "disks"))
        self._from(_key(path, "zones"), _key(upath, "zones"))
        return {
            "id": sled_id,
            "state": state,
            "disks": [
                self._disk(disk, _index(_key(upath, "disks"), i), _index(_key(path, "disks"), i))
                for i, disk in enumerate(disks)
            ],
            "zones": [
                self._zone(zone, _index(_key(upath, "zones"), i), _index(_key(path, "zones"), i))
                for i, zone in enumerate(zones)
            ],
        }

    def _disk(self, value: object, upath: str, path: str) -> _Object:
        source = self._object(value, upath, "BlueprintPhysicalDiskConfig")
        self._from(path, upath)
        result: _Object = {}
        # Upstream spells a disk's pool as a bare uuid (a ZpoolUuid), as this format does.
        for key in ("id", "pool_id"):
            self._copy(source, key, upath, result, path)
        result["disposition"] = self._disposition(
            self._required(source, "disposition", upath),
            _key(upath, "disposition"),
            _key(path, "disposition"),
        )
        return result

    def _disposition(self, value: object, upath: str, path: str) -> _Object:
        """Disks' and zones' dispositions have the same shape upstream as here."""
        keys = frozenset({"kind", "as_of_generation", "ready_for_cleanup"})
        source = self._plain_object(value, upath, keys, "disposition")
        self._from(path, upath)
        kind = self._string(self._required(source, "kind", upath), _key(upath, "kind"))
        if kind not in _DISPOSITION_KINDS:
            raise _malformed(_key(upath, "kind"), f"unknown disposition {kind!r}")
        result: _Object = {"kind": kind}
        self._from(_key(path, "kind"), _key(upath, "kind"))
        if kind == "expunged":
            for key in ("as_of_generation", "ready_for_cleanup"):
                self._copy(source, key, upath, result, path)
        else:
            for key in ("as_of_generation", "ready_for_cleanup"):
                if key in source:
                    raise _malformed(_key(upath, key), "only an expunged disposition has it")
        return result

    # --- zones -----------------------------------------------------------------------------

    def _zone(self, value: object, upath: str, path: str) -> _Object:
        source = self._object(value, upath, "BlueprintZoneConfig")
        self._from(path, upath)
        result: _Object = {}
        self._copy(source, "id", upath, result, path)
        result["filesystem_pool"] = self._pool_id(
            self._required(source, "filesystem_pool", upath), _key(upath, "filesystem_pool")
        )
        self._from(_key(path, "filesystem_pool"), _key(upath, "filesystem_pool"))
        result["disposition"] = self._disposition(
            self._required(source, "disposition", upath),
            _key(upath, "disposition"),
            _key(path, "disposition"),
        )
        result["zone_type"] = self._zone_type(
            self._required(source, "zone_type", upath),
            _key(upath, "zone_type"),
            _key(path, "zone_type"),
            zone_id=source["id"],
        )
        return result

    def _pool_id(self, value: object, upath: str) -> str:
        """The pool uuid of a zpool name ``oxp_<uuid>`` (a pool on one of the sled's disks)."""
        name = self._string(value, upath)
        if name.startswith(_INTERNAL_POOL_PREFIX):
            raise _unrepresentable(
                upath,
                f"{name!r} is an internal (M.2) zpool; this format places zones on the pools"
                " of the sled's disks only",
            )
        if not name.startswith(_EXTERNAL_POOL_PREFIX):
            raise _malformed(upath, f"{name!r} is not a zpool name (oxp_<uuid> or oxi_<uuid>)")
        return name.removeprefix(_EXTERNAL_POOL_PREFIX)

    def _zone_type(self, value: object, upath: str, path: str, *, zone_id: object) -> _Object:
        if not isinstance(value, dict):
            raise _malformed(upath, f"expected an object, found {_json_type(value)}")
        tag_upath = _key(upath, "type")
        tag = self._string(self._required(value, "type", upath), tag_upath)
        if tag in UNMODELLED_ZONE_KINDS:
            raise _unrepresentable(
                tag_upath,
                f"zone type {tag!r} is not one this format models (refused rather than"
                " dropped: the stored blueprint would lack a zone the rack has)",
            )
        schema = f"BlueprintZoneType.{tag}"
        if tag not in {kind.value for kind in ZoneKind}:
            raise _malformed(tag_upath, f"unknown zone type {tag!r}")
        source = self._object(value, upath, schema)
        self._from(path, upath)
        self._from(_key(path, "kind"), tag_upath)
        result: _Object = {"kind": tag}
        if tag in {ZoneKind.NEXUS, ZoneKind.BOUNDARY_NTP, ZoneKind.EXTERNAL_DNS}:
            result["external_ip"] = self._external_ip(tag, source, upath, _key(path, "external_ip"))
            result["nic"] = self._nic(
                self._required(source, "nic", upath),
                _key(upath, "nic"),
                _key(path, "nic"),
                zone_id=zone_id,
            )
        return result

    def _external_ip(self, tag: str, zone_type: _Object, upath: str, path: str) -> _Object:
        if tag == ZoneKind.EXTERNAL_DNS:
            return self._floating_addr(
                self._required(zone_type, "dns_address", upath), _key(upath, "dns_address"), path
            )
        ip_upath = _key(upath, "external_ip")
        value = self._required(zone_type, "external_ip", upath)
        if tag == ZoneKind.BOUNDARY_NTP:
            return self._snat_ip(value, ip_upath, path)
        source = self._plain_object(
            value, ip_upath, frozenset({"id", "ip"}), "OmicronZoneExternalFloatingIp"
        )
        self._from(path, ip_upath)
        result: _Object = {}
        for key in ("id", "ip"):
            self._copy(source, key, ip_upath, result, path)
        return result

    def _floating_addr(self, value: object, upath: str, path: str) -> _Object:
        """External DNS's ``dns_address`` (an IP and a port): the IP; the port is dropped."""
        source = self._plain_object(
            value, upath, frozenset({"id", "addr"}), "OmicronZoneExternalFloatingAddr"
        )
        self._from(path, upath)
        result: _Object = {}
        self._copy(source, "id", upath, result, path)
        addr_upath = _key(upath, "addr")
        result["ip"] = _socket_address_ip(
            self._string(self._required(source, "addr", upath), addr_upath), addr_upath
        )
        self._from(_key(path, "ip"), addr_upath)
        return result

    def _snat_ip(self, value: object, upath: str, path: str) -> _Object:
        source = self._plain_object(
            value, upath, frozenset({"id", "snat_cfg"}), "OmicronZoneExternalSnatIp"
        )
        self._from(path, _key(upath, "snat_cfg"))
        result: _Object = {}
        self._copy(source, "id", upath, result, path)
        cfg_upath = _key(upath, "snat_cfg")
        cfg = self._plain_object(
            self._required(source, "snat_cfg", upath),
            cfg_upath,
            frozenset({"ip", "first_port", "last_port"}),
            "SourceNatConfigGeneric",
        )
        for key in ("ip", "first_port", "last_port"):
            self._copy(cfg, key, cfg_upath, result, path)
        return result

    # --- NICs ------------------------------------------------------------------------------

    def _nic(self, value: object, upath: str, path: str, *, zone_id: object) -> _Object:
        keys = frozenset({"id", "ip_config", "kind", "mac", "name", "primary", "slot", "vni"})
        source = self._plain_object(value, upath, keys, "NetworkInterface")
        self._from(path, upath)
        self._check_service_kind(
            self._required(source, "kind", upath), _key(upath, "kind"), zone_id
        )
        result: _Object = {}
        for key in ("id", "name", "mac", "vni", "primary", "slot"):
            self._copy(source, key, upath, result, path)
        result.update(
            self._ip_config(
                self._required(source, "ip_config", upath), _key(upath, "ip_config"), path
            )
        )
        return result

    def _check_service_kind(self, value: object, upath: str, zone_id: object) -> None:
        source = self._plain_object(value, upath, frozenset({"type", "id"}), "NetworkInterfaceKind")
        kind = self._string(self._required(source, "type", upath), _key(upath, "type"))
        if kind not in _NIC_KINDS:
            raise _malformed(_key(upath, "type"), f"unknown NIC kind {kind!r}")
        if kind != _SERVICE_NIC_KIND:
            raise _unrepresentable(
                _key(upath, "type"), f"a zone's NIC must be a service NIC, not an {kind} NIC"
            )
        id_upath = _key(upath, "id")
        parent = _uuid_or_none(self._required(source, "id", upath))
        if parent is None:
            raise _malformed(id_upath, "not a uuid")
        zone = _uuid_or_none(zone_id)
        # A zone id that is not a uuid is reported at the zone's own id by the format.
        if zone is not None and parent != zone:
            raise _unrepresentable(
                id_upath,
                f"the service NIC belongs to {parent}, not to its zone {zone}; this format's"
                " NICs belong to their zone (the zone id is the row's parent)",
            )

    def _ip_config(self, value: object, upath: str, path: str) -> _Object:
        """``ip_config`` (``v4``, ``v6`` or ``dual_stack``) as ``ip``/``subnet``,
        ``ipv6``/``ipv6_subnet`` and the transit IPs of both families, in that order."""
        source = self._plain_object(value, upath, frozenset({"type", "value"}), "PrivateIpConfig")
        kind = self._string(self._required(source, "type", upath), _key(upath, "type"))
        config = self._required(source, "value", upath)
        value_upath = _key(upath, "value")
        families: list[tuple[str, object, str]]
        if kind == "v4":
            families = [("v4", config, value_upath)]
        elif kind == "v6":
            families = [("v6", config, value_upath)]
        elif kind == "dual_stack":
            pair = self._plain_object(
                config, value_upath, frozenset({"v4", "v6"}), "PrivateIpConfig.dual_stack"
            )
            families = [
                (family, self._required(pair, family, value_upath), _key(value_upath, family))
                for family in ("v4", "v6")
            ]
        else:
            raise _malformed(_key(upath, "type"), f"unknown ip_config type {kind!r}")
        result: _Object = {}
        transit: list[Any] = []
        for family, family_config, family_upath in families:
            transit_upaths = self._family(family, family_config, family_upath, path, result)
            for item_upath, item in transit_upaths:
                self._from(_index(_key(path, "transit_ips"), len(transit)), item_upath)
                transit.append(item)
        if transit:
            result["transit_ips"] = transit
        return result

    def _family(
        self, family: str, value: object, upath: str, path: str, result: _Object
    ) -> list[tuple[str, Any]]:
        """Put one family's address and subnet into ``result``; its transit IPs, with their
        upstream paths, are returned."""
        schema = "PrivateIpv4Config" if family == "v4" else "PrivateIpv6Config"
        keys = frozenset({"ip", "subnet", "transit_ips"})
        source = self._plain_object(value, upath, keys, schema)
        ip_key, subnet_key = ("ip", "subnet") if family == "v4" else ("ipv6", "ipv6_subnet")
        self._copy(source, "ip", upath, result, path, name=ip_key)
        self._copy(source, "subnet", upath, result, path, name=subnet_key)
        # Upstream defaults IPv4 transit IPs to none; IPv6 ones must be given.
        if family == "v4" and "transit_ips" not in source:
            return []
        transit_upath = _key(upath, "transit_ips")
        items = self._array(self._required(source, "transit_ips", upath), transit_upath)
        version = 4 if family == "v4" else 6
        for i, item in enumerate(items):
            # Merged into one list here, so a network on the wrong side would go unnoticed.
            if _network_version(item) not in {None, version}:
                raise _malformed(
                    _index(transit_upath, i), f"{item!r} is not an IPv{version} network"
                )
        return [(_index(transit_upath, i), item) for i, item in enumerate(items)]


def _socket_address_ip(addr: str, upath: str) -> str:
    """The IP of a socket address as upstream writes one: ``192.0.2.5:53`` or
    ``[2001:db8::5]:53``."""
    host, separator, port = addr.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        separator = ""  # an IPv6 address without brackets has no port
    if not separator or not (port.isascii() and port.isdigit()) or int(port) > _MAX_PORT:
        raise _malformed(upath, f"{addr!r} is not an IP address and port")
    try:
        ip_address(host)
    except ValueError:
        raise _malformed(upath, f"{addr!r} is not an IP address and port") from None
    return host


def _network_version(value: object) -> int | None:
    """The IP version of a network written as text, or ``None`` if it is not one (the
    format then reports it)."""
    if not isinstance(value, str):
        return None
    try:
        return ip_network(value).version
    except ValueError:
        return None


def _uuid_or_none(value: object) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None
