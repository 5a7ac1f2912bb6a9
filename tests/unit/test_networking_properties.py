"""Properties of the networking decision over generated blueprints and table states.

Each example builds a blueprint (zones of the three kinds with IPv4, IPv6 or dual-stack NICs
and IPv4 or IPv6 external IPs, some expunged, some replaced by a new zone that takes over the
expunged one's addresses) and a table state in which each row the blueprint names is missing,
live, soft-deleted, held by another parent or different from the blueprint, with the
occasional unrelated row in the way. The state is kept to what the database's unique indexes
allow. The tables are read as the executor reads them (an in-memory stand-in for
``db.networking.read``), decided, and the decision applied in memory as the writer applies it.

* A decision without conflicts, once applied, leaves nothing to do: deciding again writes
  nothing, records no new repair and accepts every in-service zone's rows as they are.
* Applying a decision never breaks a unique index or a primary key.
* Conflicts are stable: deciding again on the unchanged tables gives the same conflicts.
* How recorded repairs are read (counted on the server or listed) changes nothing reported.

Generated states rarely hold a single troublesome row, so the last test also tries each
troublesome fate of each row alone, on a small fixed rack.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.fixed_data import SERVICE_SUBNETS, SERVICES_VPC_ID
from reconfigurator.networking import (
    BlueprintNetworking,
    DesiredExternalIp,
    DesiredNic,
    ExternalIpRow,
    MissingRowPolicy,
    NetworkingPlan,
    NetworkingState,
    NicRow,
    PoolRange,
    Table,
    decide,
)
from reconfigurator.networking.desired import desired_external_ip, desired_nic
from tests.blueprint_builder import RackBuilder
from tests.networking_records import live_external_ip, live_nic

EXT = Table.EXTERNAL_IP
NIC = Table.NIC
NOW = datetime(2026, 2, 1, tzinfo=UTC)
EARLIER = datetime(2026, 1, 1, tzinfo=UTC)

V4_RANGE = PoolRange(
    uuid.UUID("00000000-0000-4000-8000-000000000001"),
    uuid.UUID("00000000-0000-4000-8000-0000000000a4"),
    IPv4Address("192.0.2.1"),
    IPv4Address("192.0.2.254"),
)
V6_RANGE = PoolRange(
    uuid.UUID("00000000-0000-4000-8000-000000000002"),
    uuid.UUID("00000000-0000-4000-8000-0000000000a6"),
    IPv6Address("fd00::1"),
    IPv6Address("fd00::ffff"),
)

PROPERTY_SETTINGS = settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- the tables, in memory -----------------------------------------------------------------------


@dataclass
class Tables:
    """What the database holds: every row of both tables, the recorded repairs, the ranges."""

    external_ips: dict[uuid.UUID, ExternalIpRow] = field(default_factory=dict)
    nics: dict[uuid.UUID, NicRow] = field(default_factory=dict)
    #: ``(table, row id, zone id)`` of every recorded repair.
    repairs: set[tuple[Table, uuid.UUID, uuid.UUID]] = field(default_factory=set)
    ranges: list[PoolRange] = field(default_factory=list)


class Lookup(enum.Enum):
    """How recorded repairs are read: counted on the server, or listed row by row."""

    COUNT = "count"
    LIST = "list"


def _foreign(row: ExternalIpRow | NicRow, zone_id: uuid.UUID) -> bool:
    return row.parent_id != zone_id or (isinstance(row, NicRow) and row.kind != "service")


_Row = TypeVar("_Row", ExternalIpRow, NicRow)


def _read_expunged(
    desired: BlueprintNetworking,
    tables: Tables,
    lookup: Lookup,
    table: Table,
    rows: dict[uuid.UUID, _Row],
    found: dict[int, _Row | None],
    state: NetworkingState,
) -> None:
    """The rows of expunged zones that need more than counting, by the zone's position."""
    counted = 0
    for position, entry in enumerate(desired.expunged):
        row_id = entry.external_ip_id if table is EXT else entry.nic_id
        row = rows.get(row_id)
        if row is None:
            recorded = (table, row_id, entry.zone_id) in tables.repairs
            if recorded and lookup is Lookup.COUNT:
                counted += 1
                continue
            found[position] = None
            if recorded:
                state.repaired.add((table, position))
        elif row.live or _foreign(row, entry.zone_id):
            found[position] = row
    if lookup is Lookup.COUNT:
        state.repaired_counted[table] = counted


def read(desired: BlueprintNetworking, tables: Tables, lookup: Lookup) -> NetworkingState:
    """The state the executor's reader gives for ``desired`` (the same rows, the same way)."""
    state = NetworkingState(pool_ranges=list(tables.ranges))
    zones = {d.zone_id for d in desired.external_ips}

    ext_ids = {d.id for d in desired.external_ips}
    ext_ips = {d.ip for d in desired.external_ips}
    for row in tables.external_ips.values():
        if row.id in ext_ids or (row.live and (row.parent_id in zones or row.ip in ext_ips)):
            state.external_ips[row.id] = row

    nic_ids = {d.id for d in desired.nics}
    subnets = {d.subnet_id for d in desired.nics}
    addresses = {a for d in desired.nics for a in (d.ipv4, d.ipv6) if a is not None}
    macs = {d.mac for d in desired.nics}
    for nic in tables.nics.values():
        holds = nic.subnet_id in subnets and (nic.ipv4 in addresses or nic.ipv6 in addresses)
        same_mac = nic.vpc_id == SERVICES_VPC_ID and nic.mac in macs
        if nic.id in nic_ids or (nic.live and (nic.parent_id in zones or holds or same_mac)):
            state.nics[nic.id] = nic

    _read_expunged(
        desired, tables, lookup, EXT, tables.external_ips, state.expunged_external_ips, state
    )
    _read_expunged(desired, tables, lookup, NIC, tables.nics, state.expunged_nics, state)
    return state


def apply(plan: NetworkingPlan, tables: Tables) -> Tables:
    """What the writer does with ``plan``: soft-delete, insert live rows, record repairs."""
    assert not plan.conflicts
    external_ips, nics = dict(tables.external_ips), dict(tables.nics)
    for row_id in plan.soft_delete_ids(EXT):
        assert external_ips[row_id].live
        external_ips[row_id] = dataclasses.replace(external_ips[row_id], time_deleted=NOW)
    for row_id in plan.soft_delete_ids(NIC):
        assert nics[row_id].live
        nics[row_id] = dataclasses.replace(nics[row_id], time_deleted=NOW)
    for create in plan.external_ip_creates:
        wanted = create.desired
        assert create.pool_range in tables.ranges
        assert create.pool_range.contains(wanted.ip)
        assert wanted.id not in external_ips, "INSERT would break the primary key"
        external_ips[wanted.id] = ExternalIpRow(
            id=wanted.id,
            parent_id=wanted.zone_id,
            ip=wanted.ip,
            first_port=wanted.first_port,
            last_port=wanted.last_port,
            kind=wanted.kind,
            is_service=True,
            time_deleted=None,
        )
    for nic in plan.nic_creates:
        assert nic.id not in nics, "INSERT would break the primary key"
        nics[nic.id] = live_nic(nic)
    repairs = tables.repairs | {(d.table, d.row_id, d.zone_id) for d in plan.new_repairs()}
    return Tables(external_ips, nics, repairs, list(tables.ranges))


def unique_keys(row: ExternalIpRow | NicRow) -> Iterator[tuple[object, ...]]:
    """The keys of the partial unique indexes a live row takes (upstream's indexes)."""
    if not row.live:
        return
    if isinstance(row, ExternalIpRow):
        yield ("external_ip_unique", row.ip, row.first_port)
        return
    if row.ipv4 is not None:
        yield ("subnet_id_ipv4_key", row.subnet_id, row.ipv4)
    if row.ipv6 is not None:
        yield ("subnet_id_ipv6_key", row.subnet_id, row.ipv6)
    yield ("vpc_id_mac_key", row.vpc_id, row.mac)
    yield ("parent_id_name_kind_key", row.parent_id, row.name, row.kind)
    yield ("parent_id_slot_key", row.parent_id, row.slot)


def index_violations(tables: Tables) -> list[tuple[object, ...]]:
    seen: set[tuple[object, ...]] = set()
    broken = []
    rows: list[ExternalIpRow | NicRow] = [*tables.external_ips.values(), *tables.nics.values()]
    for row in rows:
        for key in unique_keys(row):
            if key in seen:
                broken.append(key)
            seen.add(key)
    return broken


# --- generated blueprints ------------------------------------------------------------------------

KINDS = ("nexus", "external_dns", "boundary_ntp")
STACKS = ("v4", "v6", "dual")


@dataclass(frozen=True)
class ZoneSpec:
    kind: str
    stack: str
    ipv6_external: bool
    expunged: bool


@st.composite
def blueprints(draw: st.DrawFn) -> Blueprint:
    rack = RackBuilder(seed=draw(st.integers(0, 2**16)))
    sleds = [rack.add_sled(disks=3), rack.add_sled(disks=3)]
    specs = draw(
        st.lists(
            st.builds(
                ZoneSpec,
                st.sampled_from(KINDS),
                st.sampled_from(STACKS),
                st.booleans(),
                st.booleans(),
            ),
            min_size=1,
            max_size=6,
        )
    )
    zones = []
    for index, spec in enumerate(specs):
        sled = sleds[index % 2]
        ip = f"fd00::{index + 1:x}" if spec.ipv6_external else None
        zones.append(
            rack.add_zone(sled, spec.kind, pool=sled.pools[index % 3], ip=ip, stack=spec.stack)
        )
    for zone_id, spec in zip(zones, specs, strict=True):
        if spec.expunged:
            rack.expunge_zone(zone_id)
    # Replacements take over every address of an expunged zone (as the planner reuses them).
    expunged = [z for z, spec in zip(zones, specs, strict=True) if spec.expunged]
    replaced = draw(st.lists(st.sampled_from(expunged), unique=True) if expunged else st.just([]))
    for index, old in enumerate(replaced):
        old_type = rack.zone_doc(old)["zone_type"]
        external, nic = old_type["external_ip"], old_type["nic"]
        ports = (
            (external["first_port"], external["last_port"]) if "first_port" in external else None
        )
        stack = "dual" if "ip" in nic and "ipv6" in nic else ("v4" if "ip" in nic else "v6")
        sled = sleds[index % 2]
        rack.add_zone(
            sled,
            old_type["kind"],
            pool=sled.pools[(index + 1) % 3],
            ip=external["ip"],
            ports=ports,
            nic_ip=nic.get("ip"),
            nic_ipv6=nic.get("ipv6"),
            mac=int(nic["mac"].replace(":", ""), 16),
            stack=stack,
        )
    blueprint = rack.build()
    assert lint(blueprint) == [], [f.message for f in lint(blueprint)]
    return blueprint


# --- generated table states ----------------------------------------------------------------------

#: What the tables hold for one row the blueprint names. Benign fates leave the blueprint
#: realizable; the others may stand in its way.
BENIGN_EXPUNGED = ("missing", "missing_repaired", "live", "soft_deleted")
TROUBLE_EXPUNGED = ("owned_by_other",)
BENIGN_EXTERNAL = ("missing", "missing", "live", "live")
TROUBLE_EXTERNAL = ("soft_deleted", "owned_by_other", "differing", "other_row", "held")
BENIGN_NIC = ("missing", "missing", "live", "live", "other_id", "other_subnet", "plus_extra")
TROUBLE_NIC = (
    "soft_deleted",
    "owned_by_other",
    "differing",
    "other_row",
    "held_ip",
    "held_mac",
    "ipv6_differs",
    "instance_same_id",
    "instance_in_slot",
)


class _Ids:
    """Fresh ids for rows and parents that are not the blueprint's."""

    def __init__(self) -> None:
        self._next = 0

    def new(self) -> uuid.UUID:
        self._next += 1
        return uuid.UUID(int=(0xF00D << 96) + self._next, version=4)


def _expunged_rows(
    fate: str, wanted: DesiredExternalIp | DesiredNic, ids: _Ids
) -> tuple[list[ExternalIpRow | NicRow], bool]:
    """Rows for an expunged zone's row, and whether a repair of it is recorded."""
    by_fate: dict[str, dict[str, object] | None] = {
        "missing": None,
        "missing_repaired": None,
        "live": {},
        "soft_deleted": {"time_deleted": EARLIER},
        "owned_by_other": {"parent_id": ids.new()},
    }
    changes = by_fate[fate]
    if changes is None:
        return [], fate == "missing_repaired"
    if isinstance(wanted, DesiredExternalIp):
        return [live_external_ip(wanted, **changes)], False
    return [live_nic(wanted, **changes)], False


#: How each fate of an in-service zone's external IP makes its rows.
EXTERNAL_FATES: dict[str, Callable[[DesiredExternalIp, _Ids], list[ExternalIpRow]]] = {
    "missing": lambda wanted, ids: [],
    "live": lambda wanted, ids: [live_external_ip(wanted)],
    "soft_deleted": lambda wanted, ids: [live_external_ip(wanted, time_deleted=EARLIER)],
    "owned_by_other": lambda wanted, ids: [live_external_ip(wanted, parent_id=ids.new())],
    "differing": lambda wanted, ids: [live_external_ip(wanted, first_port=wanted.first_port + 1)],
    "other_row": lambda wanted, ids: [
        live_external_ip(
            wanted, id=ids.new(), ip=IPv4Address("198.51.100.0") + (ids.new().int & 0xFF)
        )
    ],
    "held": lambda wanted, ids: [live_external_ip(wanted, id=ids.new(), parent_id=ids.new())],
}


def _other_addresses(wanted: DesiredNic, ids: _Ids) -> dict[str, object]:
    """Addresses of the NIC's families in its subnet that no zone of the blueprint has."""
    subnet = SERVICE_SUBNETS[wanted.zone_kind]
    offset = 100 + (ids.new().int & 0x7F)
    return {
        "ipv4": subnet.ipv4.network_address + offset if wanted.ipv4 is not None else None,
        "ipv6": subnet.ipv6.network_address + offset if wanted.ipv6 is not None else None,
    }


def _another_subnet(wanted: DesiredNic) -> uuid.UUID:
    return next(s.id for k, s in SERVICE_SUBNETS.items() if k is not wanted.zone_kind)


def _ipv6_differing(wanted: DesiredNic) -> IPv6Address | None:
    """An IPv6 address where the blueprint has none; none where it has one and an IPv4
    address too; another one where IPv6 is all it has."""
    if wanted.ipv6 is None:
        return SERVICE_SUBNETS[wanted.zone_kind].ipv6.network_address + 77
    return None if wanted.ipv4 is not None else wanted.ipv6 + 1


def _with_extra(wanted: DesiredNic, ids: _Ids) -> list[NicRow]:
    """The blueprint's NIC and a further one of the zone, in slot 1."""
    extra = live_nic(
        wanted,
        id=ids.new(),
        name=f"{wanted.name}-extra",
        slot=1,
        is_primary=False,
        mac=wanted.mac + 0x4000,
        **_other_addresses(wanted, ids),
    )
    return [live_nic(wanted), extra]


#: How each fate of an in-service zone's NIC makes its rows.
NIC_FATES: dict[str, Callable[[DesiredNic, _Ids], list[NicRow]]] = {
    "missing": lambda wanted, ids: [],
    "live": lambda wanted, ids: [live_nic(wanted)],
    "other_id": lambda wanted, ids: [live_nic(wanted, id=ids.new())],
    "other_subnet": lambda wanted, ids: [live_nic(wanted, subnet_id=_another_subnet(wanted))],
    "plus_extra": _with_extra,
    "soft_deleted": lambda wanted, ids: [live_nic(wanted, time_deleted=EARLIER)],
    "owned_by_other": lambda wanted, ids: [live_nic(wanted, parent_id=ids.new())],
    "differing": lambda wanted, ids: [live_nic(wanted, mac=wanted.mac + 0x2000)],
    "ipv6_differs": lambda wanted, ids: [live_nic(wanted, ipv6=_ipv6_differing(wanted))],
    "other_row": lambda wanted, ids: [
        live_nic(wanted, id=ids.new(), mac=wanted.mac + 0x1000, **_other_addresses(wanted, ids))
    ],
    "held_ip": lambda wanted, ids: [
        live_nic(wanted, id=ids.new(), parent_id=ids.new(), mac=wanted.mac + 0x3000)
    ],
    "instance_same_id": lambda wanted, ids: [live_nic(wanted, kind="instance")],
    "instance_in_slot": lambda wanted, ids: [
        live_nic(
            wanted,
            id=ids.new(),
            kind="instance",
            mac=wanted.mac + 0x5000,
            **_other_addresses(wanted, ids),
        )
    ],
    "held_mac": lambda wanted, ids: [
        live_nic(wanted, id=ids.new(), parent_id=ids.new(), **_other_addresses(wanted, ids))
    ],
}
assert set(NIC_FATES) == set(BENIGN_NIC + TROUBLE_NIC)
assert set(EXTERNAL_FATES) == set(BENIGN_EXTERNAL + TROUBLE_EXTERNAL)


def row_fates(desired: BlueprintNetworking) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The benign and the troublesome fates of each row the blueprint names, in the order
    :func:`build_tables` takes them: each expunged zone's two rows, then each in-service
    zone's two rows."""
    return [(BENIGN_EXPUNGED, TROUBLE_EXPUNGED)] * (2 * len(desired.expunged)) + [
        (BENIGN_EXTERNAL, TROUBLE_EXTERNAL),
        (BENIGN_NIC, TROUBLE_NIC),
    ] * len(desired.external_ips)


def build_tables(
    desired: BlueprintNetworking, fates: Sequence[str], ranges: list[PoolRange]
) -> Tables:
    """The tables in which each row the blueprint names has its fate (in :func:`row_fates`
    order), kept to what the unique indexes allow: first come first kept, the rows of one
    fate kept or left out together (as if that row were missing)."""
    ids = _Ids()
    chosen = iter(fates)
    groups: list[Sequence[ExternalIpRow | NicRow]] = []
    repairs: set[tuple[Table, uuid.UUID, uuid.UUID]] = set()
    for entry in desired.expunged:
        ext, nic = desired_external_ip(entry.zone), desired_nic(entry.zone)
        assert ext is not None and nic is not None
        for table, wanted in ((EXT, ext), (NIC, nic)):
            made, repaired = _expunged_rows(next(chosen), wanted, ids)
            groups.append(made)
            if repaired:
                repairs.add((table, wanted.id, entry.zone_id))
    for wanted_ip, wanted_nic in zip(desired.external_ips, desired.nics, strict=True):
        groups.append(EXTERNAL_FATES[next(chosen)](wanted_ip, ids))
        groups.append(NIC_FATES[next(chosen)](wanted_nic, ids))
    assert next(chosen, None) is None

    tables = Tables(repairs=repairs, ranges=ranges)
    taken: set[tuple[object, ...]] = set()
    for group in groups:
        keys = {key for row in group for key in unique_keys(row)}
        if keys & taken:
            continue
        taken |= keys
        for row in group:
            if isinstance(row, ExternalIpRow):
                tables.external_ips[row.id] = row
            else:
                tables.nics[row.id] = row
    assert index_violations(tables) == []
    return tables


class Trouble(enum.Enum):
    """How much of a state may stand in the blueprint's way."""

    #: Nothing: every row benign, every service range present.
    NONE = "none"
    #: Exactly one row in trouble, or a service range missing.
    ONE = "one"
    #: Any row, with about one in four in trouble.
    MANY = "many"


@dataclass(frozen=True)
class Scenario:
    blueprint: Blueprint
    tables: Tables
    trouble: Trouble


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    blueprint = draw(blueprints())
    desired = BlueprintNetworking.of(blueprint)
    trouble = draw(st.sampled_from(Trouble))
    choices = row_fates(desired)
    # Number ``len(choices)`` stands for the service ranges.
    troubled = draw(st.integers(0, len(choices))) if trouble is Trouble.ONE else None

    def in_trouble(number: int) -> bool:
        if trouble is Trouble.MANY:
            return draw(st.sampled_from([True, False, False, False]))
        return number == troubled

    fates = [
        draw(st.sampled_from(troublesome if in_trouble(number) else benign))
        for number, (benign, troublesome) in enumerate(choices)
    ]
    ranges = [V4_RANGE, V6_RANGE]
    if in_trouble(len(choices)):
        ranges = draw(st.sampled_from([[V4_RANGE], [V6_RANGE], []]))
    return Scenario(blueprint, build_tables(desired, fates, ranges), trouble)


# --- properties --------------------------------------------------------------------------------


def _conflicts(plan: NetworkingPlan) -> list[tuple[object, ...]]:
    return [(c.kind, c.zone_id, c.table, c.row_id, c.owner) for c in plan.conflicts]


@PROPERTY_SETTINGS
@given(scenarios(), st.sampled_from(Lookup))
def test_an_applied_decision_leaves_nothing_to_do(scenario: Scenario, lookup: Lookup) -> None:
    desired = BlueprintNetworking.of(scenario.blueprint)
    first = decide(desired, read(desired, scenario.tables, lookup))
    if first.conflicts:
        return
    assert first.blocking_error(MissingRowPolicy.TREAT_AS_DELETED) is None

    after = apply(first, scenario.tables)
    assert index_violations(after) == []
    second = decide(desired, read(desired, after, lookup))

    assert second.conflicts == []
    assert not second.writes_anything
    assert second.new_repairs() == []
    assert second.warnings == first.warnings
    for table, wanted in ((EXT, len(desired.external_ips)), (NIC, len(desired.nics))):
        before, now = first.counts(table), second.counts(table)
        assert now["created"] == 0
        assert now["unchanged"] == before["created"] + before["unchanged"] == wanted
        assert now["soft_deleted"] == 0
        assert now["not_found"] == before["not_found"]
        assert now["already_soft_deleted"] == (
            before["already_soft_deleted"] + before["soft_deleted"]
        )


@PROPERTY_SETTINGS
@given(scenarios())
def test_a_realizable_blueprint_decides_without_conflicts(scenario: Scenario) -> None:
    # Benign states only: rows missing, equal, soft-deleted (expunged zones) or matched as
    # upstream matches NICs, and every service range present.
    if scenario.trouble is not Trouble.NONE:
        return
    desired = BlueprintNetworking.of(scenario.blueprint)
    plan = decide(desired, read(desired, scenario.tables, Lookup.COUNT))
    assert _conflicts(plan) == []


@PROPERTY_SETTINGS
@given(scenarios())
def test_conflicts_are_stable(scenario: Scenario) -> None:
    desired = BlueprintNetworking.of(scenario.blueprint)
    state = read(desired, scenario.tables, Lookup.COUNT)
    first = decide(desired, state)
    assert _conflicts(decide(desired, state)) == _conflicts(first)
    # Nothing is written when there is a conflict; the tables read again decide the same.
    again = decide(desired, read(desired, scenario.tables, Lookup.LIST))
    assert _conflicts(again) == _conflicts(first)
    if first.conflicts:
        error = first.blocking_error(MissingRowPolicy.TREAT_AS_DELETED)
        assert error is not None
        assert str(first.conflicts[0].zone_id) in str(error)


@PROPERTY_SETTINGS
@given(scenarios())
def test_how_repairs_are_read_changes_nothing_reported(scenario: Scenario) -> None:
    desired = BlueprintNetworking.of(scenario.blueprint)
    counted = decide(desired, read(desired, scenario.tables, Lookup.COUNT))
    listed = decide(desired, read(desired, scenario.tables, Lookup.LIST))
    for table in (EXT, NIC):
        assert counted.counts(table) == listed.counts(table)
    assert counted.new_repairs() == listed.new_repairs()
    assert counted.writes_anything == listed.writes_anything


def _small_rack() -> Blueprint:
    """An expunged dual-stack Nexus and its replacement, an IPv6 external DNS zone with an
    IPv6-only NIC, and a boundary NTP zone with an IPv4-only NIC."""
    rack = RackBuilder(seed=17)
    sled = rack.add_sled(disks=3)
    old = rack.add_zone(sled, "nexus", stack="dual")
    rack.expunge_zone(old)
    old_type = rack.zone_doc(old)["zone_type"]
    rack.add_zone(
        sled,
        "nexus",
        pool=sled.pools[1],
        ip=old_type["external_ip"]["ip"],
        nic_ip=old_type["nic"]["ip"],
        nic_ipv6=old_type["nic"]["ipv6"],
        mac=int(old_type["nic"]["mac"].replace(":", ""), 16),
        stack="dual",
    )
    rack.add_zone(sled, "external_dns", pool=sled.pools[2], ip="fd00::53", stack="v6")
    rack.add_zone(sled, "boundary_ntp", pool=sled.pools[2])
    blueprint = rack.build()
    assert lint(blueprint) == []
    return blueprint


@pytest.mark.parametrize("others", ["missing", "live"])
def test_each_troublesome_row_alone_blocks_or_applies_cleanly(others: str) -> None:
    # Every troublesome fate of every row, the other rows all missing or all live: either the
    # decision has a conflict (and keeps it), or it applies without breaking an index and then
    # rests.
    blueprint = _small_rack()
    desired = BlueprintNetworking.of(blueprint)
    choices = row_fates(desired)
    benign = [others for _benign, _troublesome in choices]
    for number, (_benign, troublesome) in enumerate(choices):
        for fate in troublesome:
            fates = [*benign[:number], fate, *benign[number + 1 :]]
            tables = build_tables(desired, fates, [V4_RANGE, V6_RANGE])
            first = decide(desired, read(desired, tables, Lookup.COUNT))
            where = f"row {number} {fate}"
            if first.conflicts:
                again = decide(desired, read(desired, tables, Lookup.LIST))
                assert _conflicts(again) == _conflicts(first), where
                continue
            after = apply(first, tables)
            assert index_violations(after) == [], where
            second = decide(desired, read(desired, after, Lookup.COUNT))
            assert second.conflicts == [], where
            assert not second.writes_anything, where
