"""Parsing blueprint documents: canonical round trips, and one precise error per bad input."""

from __future__ import annotations

import gc
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.blueprint.parse import (
    blueprint_from_document,
    check_lint,
    json_path,
    parse_blueprint,
)
from reconfigurator.errors import BlueprintInvalid, BlueprintLintFailed, InputError
from reconfigurator.sim.scale import scaled_state
from tests.blueprint_builder import RackBuilder

Doc = dict[str, Any]


def _document(seed: int = 5) -> tuple[Doc, dict[str, uuid.UUID]]:
    rack = RackBuilder(seed=seed)
    first = rack.add_sled()
    second = rack.add_sled()
    zones = {
        "crucible": rack.add_zone(first, "crucible"),
        "nexus": rack.add_zone(first, "nexus", pool=first.pools[1]),
        "ntp": rack.add_zone(second, "boundary_ntp"),
        "dns": rack.add_zone(second, "external_dns", pool=second.pools[2]),
        "dual": rack.add_zone(first, "external_dns", pool=first.pools[2], stack="dual"),
        "v6": rack.add_zone(second, "nexus", pool=second.pools[1], ip="fd00::10", stack="v6"),
    }
    rack.expunge_zone(zones["dns"])
    return rack.document(comment="parse tests"), zones


def _zone_path(doc: Doc, zone_id: uuid.UUID) -> tuple[str, Doc]:
    """The JSON path of a zone in ``doc`` and its (mutable) document."""
    for si, sled in enumerate(doc["sleds"]):
        for zi, zone in enumerate(sled["zones"]):
            if zone["id"] == str(zone_id):
                return f"sleds[{si}].zones[{zi}]", zone
    raise KeyError(zone_id)


# --- JSON paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), "$"),
        (("creator",), "creator"),
        (
            ("sleds", 0, "zones", 1, "zone_type", "nexus", "nic", "mac"),
            "sleds[0].zones[1].zone_type.nic.mac",
        ),
        (
            ("sleds", 2, "disks", 0, "disposition", "expunged", "as_of_generation"),
            "sleds[2].disks[0].disposition.as_of_generation",
        ),
        (
            (
                "sleds",
                0,
                "zones",
                0,
                "zone_type",
                "boundary_ntp",
                "external_ip",
                "ip",
                "lax-or-strict[lax=x]",
            ),
            "sleds[0].zones[0].zone_type.external_ip.ip",
        ),
        # A tag only counts right after its union field; elsewhere it is an ordinary key.
        (("sleds", 0, "nexus"), "sleds[0].nexus"),
        (
            ("sleds", 0, "zones", 0, "zone_type", "nexus", "nexus"),
            "sleds[0].zones[0].zone_type.nexus",
        ),
    ],
)
def test_json_path(loc: tuple[int | str, ...], path: str) -> None:
    assert json_path(loc) == path


# --- valid documents ---------------------------------------------------------------------------


def test_round_trip_is_canonical_whatever_the_input_order_and_layout() -> None:
    doc, _zones = _document()
    canonical = parse_blueprint(json.dumps(doc)).to_json()

    shuffled = json.loads(json.dumps(doc))
    rng = random.Random(3)
    rng.shuffle(shuffled["sleds"])
    for sled in shuffled["sleds"]:
        rng.shuffle(sled["disks"])
        rng.shuffle(sled["zones"])
    reordered = dict(reversed(list(shuffled.items())))
    again = parse_blueprint(json.dumps(reordered, separators=(",", ":")).encode())

    assert again.to_json() == canonical
    assert parse_blueprint(canonical).to_json() == canonical
    assert canonical.endswith("}\n")


def _nic_doc(blueprint_json: str, zone_id: uuid.UUID) -> Doc:
    for sled in json.loads(blueprint_json)["sleds"]:
        for zone in sled["zones"]:
            if zone["id"] == str(zone_id):
                nic: Doc = zone["zone_type"]["nic"]
                return nic
    raise KeyError(zone_id)


def test_ipv6_only_and_dual_stack_nics_round_trip_byte_identically() -> None:
    doc, zones = _document()
    _path, dual = _zone_path(doc, zones["dual"])
    dual["zone_type"]["nic"]["transit_ips"] = ["fd00:99::/64", "10.9.0.0/16"]
    canonical = parse_blueprint(json.dumps(doc)).to_json()
    assert parse_blueprint(canonical).to_json() == canonical
    assert parse_blueprint(canonical.encode()).to_json().encode() == canonical.encode()

    v6 = _nic_doc(canonical, zones["v6"])
    assert list(v6) == ["id", "name", "mac", "vni", "primary", "slot", "ipv6", "ipv6_subnet"]
    assert (v6["ipv6"], v6["ipv6_subnet"]) == ("fd77:e9d2:9cd9:2::6", "fd77:e9d2:9cd9:2::/64")
    dual_nic = _nic_doc(canonical, zones["dual"])
    assert list(dual_nic) == [
        "id",
        "name",
        "ip",
        "mac",
        "subnet",
        "vni",
        "primary",
        "slot",
        "ipv6",
        "ipv6_subnet",
        "transit_ips",
    ]
    assert dual_nic["transit_ips"] == ["fd00:99::/64", "10.9.0.0/16"]

    blueprint = parse_blueprint(canonical)
    v6_zone, dual_zone = blueprint.zone(zones["v6"]), blueprint.zone(zones["dual"])
    assert v6_zone is not None and v6_zone.nic is not None
    assert dual_zone is not None and dual_zone.nic is not None
    assert v6_zone.nic.ip is None
    assert v6_zone.nic.subnet is None
    assert dual_zone.nic.ip is not None
    assert dual_zone.nic.ipv6 is not None
    assert sorted(str(n) for n in dual_zone.nic.transit_ips) == ["10.9.0.0/16", "fd00:99::/64"]


#: A document written before NICs could have IPv6 addresses, in canonical form.
IPV4_ONLY_DOCUMENT = """\
{
  "id": "617959ce-3f1f-45a8-9e52-71007814e8a2",
  "parent_blueprint_id": null,
  "time_created": "2026-01-01T00:01:00Z",
  "creator": "test",
  "comment": "",
  "sleds": [
    {
      "id": "5bc8fbbc-bde5-4099-8164-d8399f767c45",
      "state": "active",
      "disks": [
        {
          "id": "87b0b125-ec1d-4da0-a6eb-8c9ebd69fe29",
          "pool_id": "d76d4330-f144-4bea-b0c1-1fdecb91ce37",
          "disposition": {
            "kind": "in_service"
          }
        }
      ],
      "zones": [
        {
          "id": "c6a53877-7733-4bdb-9721-0dff076ce2ef",
          "filesystem_pool": "d76d4330-f144-4bea-b0c1-1fdecb91ce37",
          "disposition": {
            "kind": "in_service"
          },
          "zone_type": {
            "kind": "nexus",
            "external_ip": {
              "id": "0d464138-a623-4255-bfc1-ea36f17fd374",
              "ip": "192.0.2.1"
            },
            "nic": {
              "id": "5f2dd97f-1cfb-40f6-a827-688de6a16a3b",
              "name": "nexus-c6a53877-7733-4bdb-9721-0dff076ce2ef",
              "ip": "172.30.2.5",
              "mac": "a8:40:25:ff:00:01",
              "subnet": "172.30.2.0/24",
              "vni": 100,
              "primary": true,
              "slot": 0
            }
          }
        }
      ]
    }
  ]
}
"""


def test_a_document_without_ipv6_keys_stays_valid_and_exports_unchanged() -> None:
    blueprint = parse_blueprint(IPV4_ONLY_DOCUMENT)
    assert blueprint.to_json() == IPV4_ONLY_DOCUMENT
    (zone,) = blueprint.all_zones()
    assert zone.nic is not None
    assert zone.nic.ipv6 is None
    assert zone.nic.ipv6_subnet is None
    assert zone.nic.transit_ips == ()
    check_lint(blueprint)


def test_absent_ipv6_keys_given_as_null_or_empty_are_left_out_of_the_export() -> None:
    document = json.loads(IPV4_ONLY_DOCUMENT)
    nic = document["sleds"][0]["zones"][0]["zone_type"]["nic"]
    nic.update(ipv6=None, ipv6_subnet=None, transit_ips=[])
    assert parse_blueprint(json.dumps(document)).to_json() == IPV4_ONLY_DOCUMENT


def test_non_ascii_text_survives_the_round_trip() -> None:
    doc, _zones = _document()
    doc["comment"] = "expunge disk 9 — Ünïcode [bold]not markup[/bold] :smile:"
    blueprint = parse_blueprint(json.dumps(doc, ensure_ascii=True))
    assert blueprint.comment == doc["comment"]
    assert parse_blueprint(blueprint.to_json()) == blueprint


# --- invalid documents -------------------------------------------------------------------------

Mutation = Callable[[Doc, dict[str, uuid.UUID]], str]


def _set(zone_key: str, *keys: str, value: Any, at: str | None = None) -> Mutation:
    """Set a field below a zone; returns the expected JSON path (``at`` overrides the leaf)."""

    def mutate(doc: Doc, zones: dict[str, uuid.UUID]) -> str:
        path, target = _zone_path(doc, zones[zone_key])
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
        return f"{path}.{at if at is not None else '.'.join(keys)}"

    return mutate


def _top(key: str, value: Any) -> Mutation:
    def mutate(doc: Doc, _zones: dict[str, uuid.UUID]) -> str:
        doc[key] = value
        return key

    return mutate


def _drop(key: str) -> Mutation:
    def mutate(doc: Doc, _zones: dict[str, uuid.UUID]) -> str:
        del doc[key]
        return key

    return mutate


def _drop_nic_keys(zone_key: str, *keys: str) -> Mutation:
    """Remove NIC keys; the NIC as a whole is at fault."""

    def mutate(doc: Doc, zones: dict[str, uuid.UUID]) -> str:
        path, zone = _zone_path(doc, zones[zone_key])
        for key in keys:
            del zone["zone_type"]["nic"][key]
        return f"{path}.zone_type.nic"

    return mutate


def _sled_state(doc: Doc, _zones: dict[str, uuid.UUID]) -> str:
    doc["sleds"][1]["state"] = "on fire"
    return "sleds[1].state"


def _disk_generation(doc: Doc, _zones: dict[str, uuid.UUID]) -> str:
    doc["sleds"][0]["disks"][2]["disposition"] = {"kind": "expunged", "as_of_generation": 0}
    return "sleds[0].disks[2].disposition.as_of_generation"


def _no_zone_kind(doc: Doc, zones: dict[str, uuid.UUID]) -> str:
    path, zone = _zone_path(doc, zones["nexus"])
    del zone["zone_type"]["kind"]
    return f"{path}.zone_type.kind"


INVALID: dict[str, tuple[Mutation, str]] = {
    "missing zone kind": (_no_zone_kind, "kind"),
    "wrong type (creator)": (_top("creator", 5), "valid string"),
    "wrong type (sleds)": (_top("sleds", {"a": 1}), "valid array"),
    "wrong type (slot)": (_set("nexus", "zone_type", "nic", "slot", value="zero"), "integer"),
    "wrong type (primary)": (_set("ntp", "zone_type", "nic", "primary", value="perhaps"), "bool"),
    "unknown top-level field": (_top("colour", "blue"), "unknown field"),
    "unknown zone_type field": (
        _set("nexus", "zone_type", "colour", value="blue"),
        "unknown field",
    ),
    "unknown disposition field": (
        _set("dns", "disposition", "why", value="because"),
        "unknown field",
    ),
    "missing field": (_drop("comment"), "missing"),
    "bad blueprint UUID": (_top("id", "not-a-uuid"), "UUID"),
    "bad zone UUID": (_set("crucible", "id", value="1234"), "UUID"),
    "bad pool UUID": (_set("nexus", "filesystem_pool", value="zz" * 16), "UUID"),
    "bad external IP": (_set("nexus", "zone_type", "external_ip", "ip", value="192.0.2.300"), "IP"),
    "bad NIC IP": (_set("ntp", "zone_type", "nic", "ip", value="172.30.3"), "IPv4"),
    "external IP as a boolean": (
        _set("nexus", "zone_type", "external_ip", "ip", value=True),
        "string",
    ),
    "external IP as a number": (
        _set("ntp", "zone_type", "external_ip", "ip", value=3221225985),
        "string",
    ),
    "NIC IP as a number": (_set("nexus", "zone_type", "nic", "ip", value=7), "string"),
    "scoped IPv6 external IP": (
        _set("nexus", "zone_type", "external_ip", "ip", value="fd00::5%eth0"),
        "scoped",
    ),
    "NIC subnet as a number": (_set("nexus", "zone_type", "nic", "subnet", value=0), "string"),
    "IPv6 NIC IP": (_set("ntp", "zone_type", "nic", "ip", value="fd00::5"), "IPv4"),
    "IPv6 address given as ip": (
        _set("v6", "zone_type", "nic", "ip", value="fd77:e9d2:9cd9:2::5"),
        "IPv4",
    ),
    "IPv4 address given as ipv6": (
        _set("dual", "zone_type", "nic", "ipv6", value="172.30.1.9"),
        "IPv6",
    ),
    "IPv4 network given as ipv6_subnet": (
        _set("dual", "zone_type", "nic", "ipv6_subnet", value="172.30.1.0/24"),
        "IPv6 network",
    ),
    "NIC with neither address": (
        _drop_nic_keys("nexus", "ip", "subnet"),
        "a NIC needs an IPv4 address (ip), an IPv6 address (ipv6), or both",
    ),
    "dual-stack NIC with neither address": (
        _drop_nic_keys("dual", "ip", "subnet", "ipv6", "ipv6_subnet"),
        "needs an IPv4 address",
    ),
    "NIC ip without subnet": (
        _drop_nic_keys("ntp", "subnet"),
        "ip and subnet must be given together",
    ),
    "NIC subnet without ip": (
        _drop_nic_keys("dual", "ip"),
        "ip and subnet must be given together",
    ),
    "NIC ipv6 without ipv6_subnet": (
        _drop_nic_keys("v6", "ipv6_subnet"),
        "ipv6 and ipv6_subnet must be given together",
    ),
    "IPv6 transit IP without an IPv6 address": (
        _set("nexus", "zone_type", "nic", "transit_ips", value=["fd00:1::/64"], at="zone_type.nic"),
        "transit IP fd00:1::/64 is IPv6 but the NIC has no IPv6 address",
    ),
    "IPv4 transit IP on an IPv6-only NIC": (
        _set("v6", "zone_type", "nic", "transit_ips", value=["10.1.0.0/16"], at="zone_type.nic"),
        "transit IP 10.1.0.0/16 is IPv4 but the NIC has no IPv4 address",
    ),
    "bad transit IP": (
        _set(
            "dual",
            "zone_type",
            "nic",
            "transit_ips",
            value=["10.1.0.0/33"],
            at="zone_type.nic.transit_ips[0]",
        ),
        "network",
    ),
    "bad NIC subnet": (_set("nexus", "zone_type", "nic", "subnet", value="172.30.2.7/24"), "net"),
    "bad MAC": (_set("nexus", "zone_type", "nic", "mac", value="a8:40:25:ff:80"), "MAC"),
    "non-hex MAC": (_set("nexus", "zone_type", "nic", "mac", value="a8:40:25:ff:80:zz"), "MAC"),
    "slot out of range": (_set("nexus", "zone_type", "nic", "slot", value=8), "7"),
    "VNI out of range": (_set("nexus", "zone_type", "nic", "vni", value=1 << 24), "16777216"),
    "port above 65535": (
        _set("ntp", "zone_type", "external_ip", "last_port", value=65536),
        "65535",
    ),
    "negative port": (_set("ntp", "zone_type", "external_ip", "first_port", value=-1), "0"),
    "ports reversed": (
        _set(
            "ntp", "zone_type", "external_ip", "first_port", value=16384, at="zone_type.external_ip"
        ),
        "after last_port",
    ),
    "ports on a floating IP": (
        _set("nexus", "zone_type", "external_ip", "first_port", value=0),
        "unknown field",
    ),
    "unknown zone kind": (_set("crucible", "zone_type", "kind", value="toaster"), "toaster"),
    "unknown disposition": (_set("crucible", "disposition", "kind", value="retired"), "retired"),
    "bad sled state": (_sled_state, "active"),
    "generation zero": (_disk_generation, "greater than or equal to 1"),
    "naive time": (_top("time_created", "2026-01-01T00:00:00"), "timezone"),
    "long creator": (_top("creator", "x" * 1025), "1024"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_each_invalid_document_names_its_json_path(case: str) -> None:
    mutate, fragment = INVALID[case]
    doc, zones = _document()
    path = mutate(doc, zones)
    with pytest.raises(BlueprintInvalid) as caught:
        parse_blueprint(json.dumps(doc))
    error = caught.value
    assert isinstance(error, InputError)
    assert error.path == path
    assert fragment in error.message
    assert error.more == 0
    assert str(error).startswith(f"invalid blueprint at {path}: ")
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "not valid JSON"),
        (b'{"id": ', "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        ("{'single': 'quotes'}", "not valid JSON"),
        (b"[]", "object"),
        (b"null", "object"),
    ],
)
def test_input_that_is_not_a_json_object(data: str | bytes, fragment: str) -> None:
    with pytest.raises(BlueprintInvalid) as caught:
        parse_blueprint(data)
    assert caught.value.path == "$"
    assert fragment in caught.value.message


def test_several_problems_report_the_first_and_count_the_rest() -> None:
    doc, zones = _document()
    doc["creator"] = 1
    path, zone = _zone_path(doc, zones["nexus"])
    zone["zone_type"]["nic"]["mac"] = "nope"
    zone["zone_type"]["external_ip"]["ip"] = "nope"
    with pytest.raises(BlueprintInvalid) as caught:
        parse_blueprint(json.dumps(doc))
    assert caught.value.path == "creator"
    assert caught.value.more == 2  # the IP's IPv4 and IPv6 errors count as one problem
    assert "(and 2 more problems)" in str(caught.value)
    assert path.startswith("sleds[")


# --- lint ----------------------------------------------------------------------------------------


def test_check_lint_passes_a_clean_blueprint() -> None:
    doc, _zones = _document()
    check_lint(Blueprint.model_validate(doc))


def test_check_lint_raises_naming_the_zones() -> None:
    doc, zones = _document()
    _path, nexus = _zone_path(doc, zones["nexus"])
    _path, ntp = _zone_path(doc, zones["ntp"])
    ntp["zone_type"]["nic"]["mac"] = nexus["zone_type"]["nic"]["mac"]
    ntp["zone_type"]["external_ip"]["first_port"] = 8
    blueprint = parse_blueprint(json.dumps(doc))
    with pytest.raises(BlueprintLintFailed) as caught:
        check_lint(blueprint)
    error = caught.value
    assert isinstance(error, InputError)
    assert error.blueprint_id == blueprint.id
    assert len(error.findings) == 2
    message = str(error)
    assert "\n" not in message
    assert str(zones["nexus"]) in message
    assert str(zones["ntp"]) in message
    assert "2 problems" in message


def test_equal_addresses_are_parsed_once_and_shared() -> None:
    doc, zones = _document()
    first = parse_blueprint(json.dumps(doc))
    second = parse_blueprint(json.dumps(doc))
    for zone_id in zones.values():
        a, b = first.zone(zone_id), second.zone(zone_id)
        assert a is not None and b is not None
        if a.nic is not None and b.nic is not None:
            assert a.nic.ip is b.nic.ip
            assert a.nic.subnet is b.nic.subnet
            assert a.nic.ipv6 is b.nic.ipv6
            assert a.nic.ipv6_subnet is b.nic.ipv6_subnet


@pytest.fixture(scope="module")
def large_document() -> str:
    """A blueprint of 3,000 zones: validating it takes long enough to be watched."""
    return scaled_state(3000, seed=1).blueprint.to_json()


def test_validation_never_switches_or_tunes_the_collector(
    monkeypatch: pytest.MonkeyPatch, large_document: str
) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("validation touched the process-wide garbage collector")

    for name in ("disable", "enable", "freeze", "unfreeze", "set_threshold", "collect"):
        monkeypatch.setattr(gc, name, refuse)
    parsed = parse_blueprint(large_document)
    assert blueprint_from_document(json.loads(large_document)) == parsed


def _watch_collector(parse: Callable[[], object], *, in_second_thread: bool) -> list[bool]:
    """Run ``parse`` and sample ``gc.isenabled()`` from another thread while it runs."""
    samples: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            samples.append(gc.isenabled())
            time.sleep(0.0005)

    def run_parse() -> None:
        try:
            parse()
        finally:
            done.set()

    worker = threading.Thread(target=run_parse if in_second_thread else watch)
    worker.start()
    if in_second_thread:
        watch()
    else:
        run_parse()
    worker.join(30)
    assert not worker.is_alive()
    return samples


@pytest.mark.parametrize("in_second_thread", [False, True], ids=["main thread", "second thread"])
@pytest.mark.parametrize("enabled", [True, False], ids=["collector on", "collector off"])
def test_validating_a_large_blueprint_leaves_the_collector_as_it_found_it(
    large_document: str, enabled: bool, in_second_thread: bool
) -> None:
    was_enabled = gc.isenabled()
    if enabled:
        gc.enable()
    else:
        gc.disable()
    try:
        samples = _watch_collector(
            lambda: parse_blueprint(large_document), in_second_thread=in_second_thread
        )
        assert samples, "the watcher saw the validation running"
        assert set(samples) == {enabled}
        assert gc.isenabled() is enabled
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()
