"""Converting upstream's blueprint JSON: every kept field lands, dropped ones change nothing,
and whatever cannot be converted is refused at its path in the upstream document."""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import (
    Blueprint,
    BlueprintZone,
    ExpungedDisposition,
    ExternalIp,
    SledState,
    SnatExternalIp,
)
from reconfigurator.blueprint.omicron import (
    DROPPED_FIELDS,
    KEPT_FIELDS,
    OMICRON_COMMIT,
    OMICRON_SCHEMA_DOCUMENT,
    from_omicron,
    parse_omicron_blueprint,
)
from reconfigurator.errors import (
    BlueprintInvalid,
    InputError,
    OmicronBlueprintRefused,
    OmicronRefusal,
)
from tests.openapi_check import SchemaError, load_schemas, validate

FIXTURE = Path(__file__).parents[1] / "fixtures" / "omicron_blueprint.json"

Doc = dict[str, Any]


def _upstream() -> Doc:
    document: Doc = json.loads(FIXTURE.read_text())
    return document


def _zone(doc: Doc, zone_type: str, *, expunged: bool = False) -> tuple[str, Doc]:
    """The upstream path and (mutable) document of the fixture's one zone of this kind."""
    found: list[tuple[str, Doc]] = []
    for sled_id, sled in doc["sleds"].items():
        for index, zone in enumerate(sled["zones"]):
            is_expunged = zone["disposition"]["kind"] == "expunged"
            if zone["zone_type"]["type"] == zone_type and is_expunged == expunged:
                found.append((f"sleds.{sled_id}.zones[{index}]", zone))
    assert len(found) == 1, (zone_type, expunged, found)
    return found[0]


def _converted_zone(blueprint: Blueprint, zone: Doc) -> BlueprintZone:
    converted = blueprint.zone(UUID(zone["id"]))
    assert converted is not None
    return converted


@pytest.fixture
def upstream() -> Doc:
    return _upstream()


@pytest.fixture
def blueprint(upstream: Doc) -> Blueprint:
    return from_omicron(upstream)


# --- the fixture is upstream-shaped ------------------------------------------------------------


def test_the_fixture_matches_upstreams_blueprint_schema(upstream: Doc) -> None:
    validate(upstream)


def test_the_schema_is_the_one_of_the_commit_the_conversion_follows() -> None:
    source = load_schemas()["source"]
    assert source == {
        "repository": "oxidecomputer/omicron",
        "commit": OMICRON_COMMIT,
        "path": OMICRON_SCHEMA_DOCUMENT,
    }


def _drop_nic(doc: Doc) -> None:
    del _zone(doc, "nexus")[1]["zone_type"]["nic"]


def _bad_tag(doc: Doc) -> None:
    _zone(doc, "internal_ntp")[1]["zone_type"]["type"] = "ntp"


def _bad_ip_config(doc: Doc) -> None:
    _zone(doc, "boundary_ntp")[1]["zone_type"]["nic"]["ip_config"]["type"] = "v5"


def _v6_without_transit_ips(doc: Doc) -> None:
    del _zone(doc, "nexus", expunged=True)[1]["zone_type"]["nic"]["ip_config"]["value"][
        "transit_ips"
    ]


def _null_creator(doc: Doc) -> None:
    doc["creator"] = None


@pytest.mark.parametrize(
    ("break_it", "where"),
    [
        (_drop_nic, "zone_type"),
        (_bad_tag, "zone_type"),
        (_bad_ip_config, "ip_config"),
        (_v6_without_transit_ips, "ip_config"),
        (_null_creator, "creator"),
    ],
)
def test_the_schema_check_catches_documents_upstream_would_not_accept(
    upstream: Doc, break_it: Callable[[Doc], None], where: str
) -> None:
    break_it(upstream)
    with pytest.raises(SchemaError) as caught:
        validate(upstream)
    assert where in str(caught.value)


# --- what lands where --------------------------------------------------------------------------


def test_blueprint_identity_and_history_carry_over(upstream: Doc, blueprint: Blueprint) -> None:
    assert blueprint.id == UUID(upstream["id"])
    assert blueprint.parent_blueprint_id == UUID(upstream["parent_blueprint_id"])
    assert blueprint.time_created.isoformat() == "2026-08-21T22:27:48.123456+00:00"
    assert blueprint.creator == upstream["creator"]
    assert blueprint.comment == upstream["comment"]
    assert blueprint.external_networking_generation == upstream["external_networking_generation"]
    assert blueprint.external_networking_generation == 6


def test_a_blueprint_without_a_parent_has_none(upstream: Doc) -> None:
    del upstream["parent_blueprint_id"]
    assert from_omicron(upstream).parent_blueprint_id is None
    upstream["parent_blueprint_id"] = None
    assert from_omicron(upstream).parent_blueprint_id is None


def test_sleds_keyed_by_id_become_sleds_with_their_id_and_state(
    upstream: Doc, blueprint: Blueprint
) -> None:
    assert {sled.id for sled in blueprint.sleds} == {UUID(key) for key in upstream["sleds"]}
    assert all(sled.state is SledState.ACTIVE for sled in blueprint.sleds)

    sled_id = next(iter(upstream["sleds"]))
    upstream["sleds"][sled_id]["state"] = "decommissioned"
    for zone in upstream["sleds"][sled_id]["zones"]:
        zone["disposition"] = {"kind": "expunged", "as_of_generation": 9, "ready_for_cleanup": True}
    sled = from_omicron(upstream).sled(UUID(sled_id))
    assert sled is not None
    assert sled.state is SledState.DECOMMISSIONED


def test_disks_keep_their_id_pool_and_disposition(upstream: Doc, blueprint: Blueprint) -> None:
    for sled_id, sled in upstream["sleds"].items():
        converted = blueprint.sled(UUID(sled_id))
        assert converted is not None
        by_id = {disk.id: disk for disk in converted.disks}
        assert set(by_id) == {UUID(disk["id"]) for disk in sled["disks"]}
        for disk in sled["disks"]:
            assert by_id[UUID(disk["id"])].pool_id == UUID(disk["pool_id"])
    expunged = [disk for sled in blueprint.sleds for disk in sled.disks if not disk.is_in_service]
    assert [disk.disposition for disk in expunged] == [
        ExpungedDisposition(kind="expunged", as_of_generation=3, ready_for_cleanup=True)
    ]


def test_every_zone_keeps_its_kind_sled_pool_and_disposition(
    upstream: Doc, blueprint: Blueprint
) -> None:
    count = 0
    for sled_id, sled in upstream["sleds"].items():
        for zone in sled["zones"]:
            converted = _converted_zone(blueprint, zone)
            sled_of_zone = blueprint.sled_of_zone(converted.id)
            assert sled_of_zone is not None
            assert sled_of_zone.id == UUID(sled_id)
            assert converted.kind.value == zone["zone_type"]["type"]
            assert f"oxp_{converted.filesystem_pool}" == zone["filesystem_pool"]
            assert converted.disposition.model_dump() == zone["disposition"]
            count += 1
    assert count == len(list(blueprint.all_zones())) == 8


def test_nexus_keeps_its_floating_ip_and_dual_stack_nic(
    upstream: Doc, blueprint: Blueprint
) -> None:
    _path, zone = _zone(upstream, "nexus")
    nexus = _converted_zone(blueprint, zone)
    upstream_ip = zone["zone_type"]["external_ip"]
    assert nexus.is_in_service
    assert nexus.external_ip == ExternalIp(id=UUID(upstream_ip["id"]), ip=IPv4Address("192.0.2.10"))
    nic = nexus.nic
    assert nic is not None
    assert nic.id == UUID(zone["zone_type"]["nic"]["id"])
    assert nic.name == f"nexus-{zone['id']}"
    assert nic.ip == IPv4Address("172.30.2.5")
    assert nic.subnet == IPv4Network("172.30.2.0/24")
    assert nic.ipv6 == IPv6Address("fd77:e9d2:9cd9:2::5")
    assert nic.ipv6_subnet == IPv6Network("fd77:e9d2:9cd9:2::/64")
    # IPv4 transit IPs first, then IPv6 ones, each as upstream lists them.
    assert nic.transit_ips == (ip_network("198.51.100.0/28"), ip_network("fd00:99::/64"))
    # Upstream wrote the MAC in capitals; this format keeps MACs in lower case.
    assert nic.mac == "a8:40:25:ff:80:01"
    assert (nic.vni, nic.primary, nic.slot) == (100, True, 0)


def test_external_dns_takes_the_ip_of_its_dns_address(upstream: Doc, blueprint: Blueprint) -> None:
    _path, zone = _zone(upstream, "external_dns")
    dns = _converted_zone(blueprint, zone)
    address = zone["zone_type"]["dns_address"]
    assert address["addr"] == "192.0.2.12:53"
    assert dns.external_ip == ExternalIp(id=UUID(address["id"]), ip=IPv4Address("192.0.2.12"))
    nic = dns.nic
    assert nic is not None
    assert (nic.ip, nic.subnet, nic.ipv6, nic.transit_ips) == (
        IPv4Address("172.30.1.5"),
        IPv4Network("172.30.1.0/24"),
        None,
        (),
    )


def test_an_ipv6_dns_address_gives_its_ip_without_brackets_or_port(upstream: Doc) -> None:
    _path, zone = _zone(upstream, "external_dns")
    zone["zone_type"]["dns_address"]["addr"] = "[2001:db8::53]:53"
    external = _converted_zone(from_omicron(upstream), zone).external_ip
    assert external is not None
    assert external.ip == IPv6Address("2001:db8::53")


def test_boundary_ntp_keeps_its_snat_ip_and_ports(upstream: Doc, blueprint: Blueprint) -> None:
    _path, zone = _zone(upstream, "boundary_ntp")
    ntp = _converted_zone(blueprint, zone)
    snat = zone["zone_type"]["external_ip"]
    assert ntp.external_ip == SnatExternalIp(
        id=UUID(snat["id"]), ip=IPv4Address("192.0.2.11"), first_port=16384, last_port=32767
    )
    nic = ntp.nic
    assert nic is not None
    assert (nic.ip, nic.ipv6, nic.mac) == (IPv4Address("172.30.3.5"), None, "a8:40:25:ff:90:01")


def test_the_expunged_nexus_keeps_its_generation_rows_and_ipv6_only_nic(
    upstream: Doc, blueprint: Blueprint
) -> None:
    _path, zone = _zone(upstream, "nexus", expunged=True)
    old = _converted_zone(blueprint, zone)
    assert old.disposition == ExpungedDisposition(
        kind="expunged", as_of_generation=4, ready_for_cleanup=False
    )
    assert old.external_ip is not None
    assert old.external_ip.id == UUID(zone["zone_type"]["external_ip"]["id"])
    assert old.external_ip.ip == IPv4Address("192.0.2.13")
    nic = old.nic
    assert nic is not None
    assert nic.id == UUID(zone["zone_type"]["nic"]["id"])
    assert (nic.ip, nic.subnet) == (None, None)
    assert nic.ipv6 == IPv6Address("fd77:e9d2:9cd9:2::6")


@pytest.mark.parametrize("zone_type", ["internal_ntp", "internal_dns", "crucible"])
def test_zones_without_external_networking_keep_only_their_kind(
    upstream: Doc, blueprint: Blueprint, zone_type: str
) -> None:
    _path, zone = _first(upstream, zone_type)
    converted = _converted_zone(blueprint, zone)
    assert converted.kind.value == zone_type
    assert converted.networking is None


def _first(doc: Doc, zone_type: str) -> tuple[str, Doc]:
    for sled_id, sled in doc["sleds"].items():
        for index, zone in enumerate(sled["zones"]):
            if zone["zone_type"]["type"] == zone_type:
                return f"sleds.{sled_id}.zones[{index}]", zone
    raise KeyError(zone_type)


def test_every_zone_kind_of_the_format_converts(upstream: Doc) -> None:
    _path, zone = _zone(upstream, "internal_ntp")
    for kind in ("crucible_pantry", "cockroach_db", "clickhouse", "oximeter"):
        zone["zone_type"] = {"type": kind, "address": "[fd00:1122:3344:102::30]:1"}
        if kind in {"cockroach_db", "clickhouse"}:
            zone["zone_type"]["dataset"] = {"pool_name": zone["filesystem_pool"]}
        assert _converted_zone(from_omicron(upstream), zone).kind.value == kind


def test_the_converted_fixture_passes_lint(blueprint: Blueprint) -> None:
    assert lint(blueprint) == []


# --- what is dropped ---------------------------------------------------------------------------


def _sled(doc: Doc) -> Doc:
    sled: Doc = next(iter(doc["sleds"].values()))
    return sled


@pytest.mark.parametrize(
    "change",
    [
        lambda doc: doc.update(nexus_generation=7, internal_dns_version=8),
        lambda doc: doc.update(cockroachdb_setting_preserve_downgrade={"action": "allow_upgrade"}),
        lambda doc: doc.update(oximeter_read_mode={"type": "cluster"}, oximeter_read_version=5),
        lambda doc: doc.update(source={"source": "test"}),
        lambda doc: _sled(doc).update(datasets=[], sled_agent_generation=12),
        lambda doc: _sled(doc).update(subnet={"net": "fd00:1122:3344:199::/64"}),
        lambda doc: _sled(doc)["disks"][0].update(
            identity={"model": "m", "serial": "s", "vendor": "v"}
        ),
        lambda doc: _zone(doc, "nexus")[1].update(
            image_source={
                "type": "artifact",
                "hash": "00" * 32,
                "version": {"artifact_version": "unknown"},
            }
        ),
        lambda doc: _zone(doc, "nexus")[1]["zone_type"].update(
            external_tls=False, internal_address="[fd00::1]:1", lockstep_port=1
        ),
        lambda doc: _zone(doc, "external_dns")[1]["zone_type"].update(http_address="[fd00::2]:2"),
        lambda doc: _zone(doc, "external_dns")[1]["zone_type"]["dns_address"].update(
            addr="192.0.2.12:5353"
        ),
        lambda doc: _zone(doc, "boundary_ntp")[1]["zone_type"].update(ntp_servers=[], domain="x"),
        lambda doc: _zone(doc, "internal_dns")[1]["zone_type"].update(gz_address_index=3),
    ],
)
def test_dropped_fields_do_not_change_the_result(
    upstream: Doc, blueprint: Blueprint, change: Callable[[Doc], None]
) -> None:
    changed = copy.deepcopy(upstream)
    change(changed)
    assert changed != upstream
    assert from_omicron(changed).to_json() == blueprint.to_json()


def test_fields_upstream_requires_but_the_conversion_drops_may_be_absent(
    upstream: Doc, blueprint: Blueprint
) -> None:
    for key in DROPPED_FIELDS["Blueprint"]:
        upstream.pop(key, None)
    for sled in upstream["sleds"].values():
        for key in DROPPED_FIELDS["BlueprintSledConfig"]:
            sled.pop(key, None)
    assert from_omicron(upstream).to_json() == blueprint.to_json()


def test_kept_and_dropped_fields_do_not_overlap() -> None:
    for schema, kept in KEPT_FIELDS.items():
        assert not kept & DROPPED_FIELDS.get(schema, frozenset()), schema


# --- determinism -------------------------------------------------------------------------------


def test_conversion_is_deterministic_whatever_the_order_of_sleds_disks_and_zones(
    upstream: Doc, blueprint: Blueprint
) -> None:
    rng = random.Random(7)
    for _ in range(5):
        shuffled = copy.deepcopy(upstream)
        sleds = list(shuffled["sleds"].items())
        rng.shuffle(sleds)
        shuffled["sleds"] = dict(sleds)
        for sled in shuffled["sleds"].values():
            rng.shuffle(sled["zones"])
            rng.shuffle(sled["disks"])
        text = json.dumps(dict(reversed(list(shuffled.items()))))
        assert parse_omicron_blueprint(text).to_json() == blueprint.to_json()
    assert from_omicron(_upstream()).to_json() == blueprint.to_json()


def test_conversion_does_not_change_its_input(upstream: Doc) -> None:
    before = copy.deepcopy(upstream)
    from_omicron(upstream)
    assert upstream == before


# --- refusals ----------------------------------------------------------------------------------

Breaker = Callable[[Doc], str]
"""Breaks the document in place and returns the upstream path the refusal must name."""


def _set(zone_type: str, *keys: str | int, value: Any, expunged: bool = False) -> Breaker:
    def breaker(doc: Doc) -> str:
        path, node = _zone(doc, zone_type, expunged=expunged)
        for key in keys[:-1]:
            node = node[key]
            path += f"[{key}]" if isinstance(key, int) else f".{key}"
        last = keys[-1]
        node[last] = value
        return path + (f"[{last}]" if isinstance(last, int) else f".{last}")

    return breaker


def _delete(zone_type: str, *keys: str) -> Breaker:
    def breaker(doc: Doc) -> str:
        path, node = _zone(doc, zone_type)
        for key in keys[:-1]:
            node = node[key]
            path += f".{key}"
        del node[keys[-1]]
        return f"{path}.{keys[-1]}"

    return breaker


def _other_zones_id(doc: Doc) -> str:
    path, zone = _zone(doc, "nexus")
    zone["zone_type"]["nic"]["kind"]["id"] = _zone(doc, "internal_ntp")[1]["id"]
    return f"{path}.zone_type.nic.kind.id"


def _unknown_top_level_key(doc: Doc) -> str:
    doc["nexus_quiesce_policy"] = {"mode": "later"}
    return "nexus_quiesce_policy"


def _sleds_as_list(doc: Doc) -> str:
    doc["sleds"] = list(doc["sleds"].values())
    return "sleds"


def _sled_key_not_a_uuid(doc: Doc) -> str:
    sleds = doc["sleds"]
    first = next(iter(sleds))
    sleds["sled-1"] = sleds.pop(first)
    return "sleds.sled-1"


def _unknown_sled_state(doc: Doc) -> str:
    sled_id = next(iter(doc["sleds"]))
    doc["sleds"][sled_id]["state"] = "resting"
    return f"sleds.{sled_id}.state"


def _disk_pool_not_a_uuid(doc: Doc) -> str:
    sled_id = next(iter(doc["sleds"]))
    doc["sleds"][sled_id]["disks"][1]["pool_id"] = "oxp_not-a-uuid"
    return f"sleds.{sled_id}.disks[1].pool_id"


def _not_an_object(doc: Doc) -> str:
    doc.clear()
    return "$"


def _delete_expunged_ready(doc: Doc) -> str:
    path, zone = _zone(doc, "nexus", expunged=True)
    del zone["disposition"]["ready_for_cleanup"]
    return f"{path}.disposition.ready_for_cleanup"


REFUSALS: list[tuple[str, Breaker, OmicronRefusal]] = [
    (
        "a zone kind this format does not model",
        _set("internal_ntp", "zone_type", "type", value="clickhouse_keeper"),
        OmicronRefusal.UNREPRESENTABLE,
    ),
    (
        "a clickhouse server zone",
        _set("internal_dns", "zone_type", "type", value="clickhouse_server"),
        OmicronRefusal.UNREPRESENTABLE,
    ),
    (
        "a zone kind upstream does not have",
        _set("internal_ntp", "zone_type", "type", value="ntp"),
        OmicronRefusal.MALFORMED,
    ),
    (
        "an instance NIC on a zone",
        _set("nexus", "zone_type", "nic", "kind", "type", value="instance"),
        OmicronRefusal.UNREPRESENTABLE,
    ),
    ("a service NIC of another zone", _other_zones_id, OmicronRefusal.UNREPRESENTABLE),
    (
        "a zone root on an internal zpool",
        _set(
            "boundary_ntp",
            "filesystem_pool",
            value="oxi_8f3f1f0e-2b6c-4d0a-9a51-0e2b7c1d9e11",
        ),
        OmicronRefusal.UNREPRESENTABLE,
    ),
    (
        "a filesystem pool that is not a zpool name",
        _set("boundary_ntp", "filesystem_pool", value="tank"),
        OmicronRefusal.MALFORMED,
    ),
    (
        "a Nexus without its external IP",
        _delete("nexus", "zone_type", "external_ip"),
        OmicronRefusal.MALFORMED,
    ),
    (
        "an unknown key of a zone type",
        _set("external_dns", "zone_type", "dns_servers", value=[]),
        OmicronRefusal.MALFORMED,
    ),
    ("an unknown key of the blueprint", _unknown_top_level_key, OmicronRefusal.MALFORMED),
    ("sleds as a list", _sleds_as_list, OmicronRefusal.MALFORMED),
    ("a sled key that is not a uuid", _sled_key_not_a_uuid, OmicronRefusal.INVALID),
    ("an unknown sled state", _unknown_sled_state, OmicronRefusal.MALFORMED),
    ("a disk pool id that is not a uuid", _disk_pool_not_a_uuid, OmicronRefusal.INVALID),
    (
        "an unknown ip_config type",
        _set("boundary_ntp", "zone_type", "nic", "ip_config", "type", value="v5"),
        OmicronRefusal.MALFORMED,
    ),
    (
        "a NIC slot above 7",
        _set("nexus", "zone_type", "nic", "slot", value=9),
        OmicronRefusal.INVALID,
    ),
    (
        "an IPv6 address in a v4 ip_config",
        _set("boundary_ntp", "zone_type", "nic", "ip_config", "value", "ip", value="fd00::9"),
        OmicronRefusal.INVALID,
    ),
    (
        "an IPv4 transit network on the IPv6 side of a dual-stack NIC",
        _set(
            "nexus",
            "zone_type",
            "nic",
            "ip_config",
            "value",
            "v6",
            "transit_ips",
            0,
            value="10.1.0.0/16",
        ),
        OmicronRefusal.MALFORMED,
    ),
    (
        "a transit network that is not a network",
        _set(
            "nexus",
            "zone_type",
            "nic",
            "ip_config",
            "value",
            "v6",
            "transit_ips",
            0,
            value="not-a-network",
        ),
        OmicronRefusal.INVALID,
    ),
    (
        "a SNAT range whose first port is after its last",
        _set(
            "boundary_ntp",
            "zone_type",
            "external_ip",
            "snat_cfg",
            value={"ip": "192.0.2.11", "first_port": 32767, "last_port": 16384},
        ),
        OmicronRefusal.INVALID,
    ),
    (
        "a SNAT port above 65535",
        _set("boundary_ntp", "zone_type", "external_ip", "snat_cfg", "last_port", value=70000),
        OmicronRefusal.INVALID,
    ),
    (
        "a DNS address without a port",
        _set("external_dns", "zone_type", "dns_address", "addr", value="192.0.2.12"),
        OmicronRefusal.MALFORMED,
    ),
    (
        "a floating IP that is not an address",
        _set("nexus", "zone_type", "external_ip", "ip", value="192.0.2.300"),
        OmicronRefusal.INVALID,
    ),
    (
        "an external networking generation of 0",
        lambda doc: (
            doc.update(external_networking_generation=0),
            "external_networking_generation",
        )[1],
        OmicronRefusal.INVALID,
    ),
    (
        "a blueprint without its external networking generation",
        lambda doc: (doc.pop("external_networking_generation"), "external_networking_generation")[
            1
        ],
        OmicronRefusal.MALFORMED,
    ),
    (
        "an expunged generation of 0",
        _set("nexus", "disposition", "as_of_generation", value=0, expunged=True),
        OmicronRefusal.INVALID,
    ),
    (
        "an expunged disposition without ready_for_cleanup",
        _delete_expunged_ready,
        OmicronRefusal.MALFORMED,
    ),
    ("a document that is not an object", _not_an_object, OmicronRefusal.MALFORMED),
]


@pytest.mark.parametrize(
    ("breaker", "reason"),
    [pytest.param(breaker, reason, id=name) for name, breaker, reason in REFUSALS],
)
def test_refusals_name_the_path_in_the_upstream_document(
    upstream: Doc, breaker: Breaker, reason: OmicronRefusal
) -> None:
    if breaker is _not_an_object:
        expected = "$"
        document: object = []
    else:
        expected = breaker(upstream)
        document = upstream
    with pytest.raises(OmicronBlueprintRefused) as caught:
        from_omicron(document)
    refused = caught.value
    assert refused.path == expected
    assert refused.reason is reason
    assert f" at {expected}: " in str(refused)
    assert isinstance(refused, BlueprintInvalid)
    assert isinstance(refused, InputError)


def test_the_zone_type_refusal_names_the_tag(upstream: Doc) -> None:
    sled_id = next(key for key, sled in upstream["sleds"].items() if len(sled["zones"]) > 3)
    upstream["sleds"][sled_id]["zones"][3]["zone_type"]["type"] = "clickhouse_keeper"
    with pytest.raises(OmicronBlueprintRefused) as caught:
        from_omicron(upstream)
    assert caught.value.path == f"sleds.{sled_id}.zones[3].zone_type.type"
    assert "clickhouse_keeper" in str(caught.value)


@pytest.mark.parametrize("text", [b"", b"{", b'{"id": NaN}', b"\xff\xfe\x00"])
def test_input_that_is_not_json_is_refused_at_the_root(text: bytes) -> None:
    with pytest.raises(OmicronBlueprintRefused) as caught:
        parse_omicron_blueprint(text)
    assert caught.value.path == "$"
    assert caught.value.reason is OmicronRefusal.MALFORMED


# --- anything else ---------------------------------------------------------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=12)
    | st.sampled_from(["²:53", "[::1]:53", "oxp_x", "oxi_", "v4", "dual_stack", "expunged"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _places(node: Any, trail: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every key or index path into ``node``."""
    found: list[tuple[str | int, ...]] = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        found.append((*trail, key))
        found.extend(_places(child, (*trail, key)))
    return found


_PLACES = _places(_upstream())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(_PLACES), st.booleans(), _json_values), min_size=1, max_size=3
    )
)
def test_any_edit_either_converts_or_is_refused_with_a_path(
    edits: list[tuple[tuple[str | int, ...], bool, Any]],
) -> None:
    document = _upstream()
    for place, delete, value in edits:
        parent: Any = document
        try:
            for key in place[:-1]:
                parent = parent[key]
            if delete and isinstance(parent, dict):
                parent.pop(place[-1], None)
            else:
                parent[place[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this place
    refused: OmicronBlueprintRefused | None = None
    try:
        from_omicron(document)
    except OmicronBlueprintRefused as exc:
        refused = exc
    if refused is not None:
        assert str(refused).startswith(f"cannot convert the omicron blueprint at {refused.path}: ")
        assert _leads_into(document, refused.path), refused.path


#: One step of a path: ``.key`` (or ``key`` first), ``[3]``, or a quoted key ``["a.b"]``.
_PATH_STEP = re.compile(r'\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def _leads_into(document: Any, path: str) -> bool:
    """Whether every step of ``path`` but the last exists in ``document`` (the last may be a
    missing key)."""
    if path == "$":
        return True
    steps: list[str | int] = []
    rest = path.removeprefix("$")
    while rest:
        match = _PATH_STEP.match(rest)
        assert match is not None, f"not a path: {path!r} (at {rest!r})"
        name, index, quoted = match.groups()
        steps.append(name if name is not None else int(index) if index else json.loads(quoted))
        rest = rest[match.end() :]
    node = document
    for step in steps[:-1]:
        in_list = isinstance(step, int) and isinstance(node, list) and step < len(node)
        in_object = isinstance(step, str) and isinstance(node, dict) and step in node
        if not (in_list or in_object):
            return False
        node = node[step]
    return True
