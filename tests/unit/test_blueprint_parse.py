"""Parsing blueprint documents: canonical round trips, and one precise error per bad input."""

from __future__ import annotations

import gc
import json
import random
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from reconfigurator.blueprint import parse as parse_module
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.blueprint.parse import check_lint, json_path, parse_blueprint
from reconfigurator.errors import BlueprintInvalid, BlueprintLintFailed, InputError
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


@pytest.mark.parametrize("first_out", [True, False])
def test_overlapping_validations_in_two_threads_leave_the_collector_on(first_out: bool) -> None:
    # The collector's switch is global: a validation that starts while another is running and
    # ends after it (or before it) must not leave it off.
    doc, _zones = _document()
    text = json.dumps(doc)
    assert gc.isenabled()
    entered = [threading.Event(), threading.Event()]
    leave = [threading.Event(), threading.Event()]
    seen_during: list[bool] = []

    def validate(index: int) -> None:
        with parse_module._collector_paused():
            entered[index].set()
            seen_during.append(gc.isenabled())
            leave[index].wait(5)
            parse_blueprint(text)

    threads = [threading.Thread(target=validate, args=(i,)) for i in range(2)]
    threads[0].start()
    assert entered[0].wait(5)
    threads[1].start()
    assert entered[1].wait(5)
    order = [0, 1] if first_out else [1, 0]
    for index in order:
        leave[index].set()
        threads[index].join(5)
        if index == order[0]:
            assert not gc.isenabled(), "still paused while the other validation runs"
    assert seen_during == [False, False]
    assert gc.isenabled()
