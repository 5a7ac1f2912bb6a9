"""Planning input in the database: sleds, disks, pool ranges, loading them, and the CLI."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from ipaddress import IPv4Address, IPv6Address
from typing import TypeVar

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from reconfigurator.blueprint.lint import lint
from reconfigurator.cli.main import run
from reconfigurator.db import rack, schema, service_pools
from reconfigurator.db.planning_input import load_planning_input
from reconfigurator.db.retry import run_transaction
from reconfigurator.errors import (
    AmbiguousId,
    DiskAlreadyExists,
    DiskNotFound,
    InputError,
    InvalidIpRange,
    IpRangeOverlap,
    SledAlreadyExists,
    SledNotFound,
    SledNotInService,
)
from reconfigurator.fixed_data import SERVICE_IP_POOL_NAMES, IpVersion
from reconfigurator.planner import (
    DiskPolicy,
    IpRange,
    SeededIds,
    SledPolicy,
    SledState,
    ZonePolicy,
    plan,
)
from reconfigurator.testing import statements_sent
from tests.cli_runner import recon

NOW = datetime(2026, 3, 1, tzinfo=UTC)
T = TypeVar("T")


def tx(engine: Engine, body: Callable[[Connection], T]) -> T:
    return run_transaction(engine, body)


@pytest.fixture
def cli_env(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RECON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return engine


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- sleds ---------------------------------------------------------------------------------------


def test_add_sled_with_a_number_of_disks(engine: Engine) -> None:
    added = tx(engine, lambda conn: rack.add_sled(conn, disks=4))
    assert len(added.disks) == 4
    assert added.policy == "in_service"
    assert added.state == "active"
    assert [d.id for d in added.disks] == sorted(d.id for d in added.disks)
    (listed,) = tx(engine, rack.list_sleds)
    assert listed == added
    assert listed.disks_in_service == 4
    assert len({d.pool_id for d in listed.disks}) == 4


def test_add_sled_with_explicit_ids(engine: Engine) -> None:
    sled_id, disk_id, pool_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    added = tx(engine, lambda conn: rack.add_sled(conn, sled_id, [rack.NewDisk(disk_id, pool_id)]))
    assert added.id == sled_id
    assert [(d.id, d.pool_id, d.sled_id) for d in added.disks] == [(disk_id, pool_id, sled_id)]
    with pytest.raises(SledAlreadyExists, match=str(sled_id)):
        tx(engine, lambda conn: rack.add_sled(conn, sled_id, 1))
    with pytest.raises(DiskAlreadyExists, match=f"pool id {pool_id} is already used by disk"):
        tx(engine, lambda conn: rack.add_sled(conn, None, [rack.NewDisk(None, pool_id)]))
    with pytest.raises(DiskAlreadyExists, match=f"disk id {disk_id}"):
        tx(engine, lambda conn: rack.add_sled(conn, None, [rack.NewDisk(disk_id, None)]))
    twice = [rack.NewDisk(None, pool_id := uuid.uuid4()), rack.NewDisk(None, pool_id)]
    with pytest.raises(DiskAlreadyExists, match=str(pool_id)):
        tx(engine, lambda conn: rack.add_sled(conn, None, twice))
    # Failed transactions left nothing behind.
    assert [s.id for s in tx(engine, rack.list_sleds)] == [sled_id]
    assert len(tx(engine, rack.list_disks)) == 1


def test_expunge_sled(engine: Engine) -> None:
    added = tx(engine, lambda conn: rack.add_sled(conn, disks=2))
    assert tx(engine, lambda conn: rack.expunge_sled(conn, added.id)) is True
    assert tx(engine, lambda conn: rack.expunge_sled(conn, added.id)) is False
    sled = tx(engine, lambda conn: rack.get_sled(conn, added.id))
    assert sled.policy == "expunged"
    assert sled.state == "active"
    assert all(d.policy == "in_service" for d in sled.disks)  # the planner expunges them
    missing = uuid.uuid4()
    with pytest.raises(SledNotFound, match=str(missing)):
        tx(engine, lambda conn: rack.expunge_sled(conn, missing))
    with pytest.raises(SledNotInService, match=f"sled {added.id} is not in service"):
        tx(engine, lambda conn: rack.add_disk(conn, added.id))


# --- disks ---------------------------------------------------------------------------------------


def test_add_and_expunge_disks(engine: Engine) -> None:
    sled = tx(engine, lambda conn: rack.add_sled(conn, disks=1))
    added = tx(engine, lambda conn: rack.add_disk(conn, sled.id))
    assert added.sled_id == sled.id
    assert len(tx(engine, lambda conn: rack.list_disks(conn, sled_id=sled.id))) == 2

    disk, changed = tx(engine, lambda conn: rack.expunge_disk(conn, added.pool_id))
    assert changed
    assert (disk.id, disk.policy, disk.state) == (added.id, "expunged", "active")
    again, changed = tx(engine, lambda conn: rack.expunge_disk(conn, added.id))
    assert not changed
    assert again.policy == "expunged"
    missing = uuid.uuid4()
    with pytest.raises(DiskNotFound, match=str(missing)):
        tx(engine, lambda conn: rack.expunge_disk(conn, missing))
    with pytest.raises(SledNotFound, match=str(missing)):
        tx(engine, lambda conn: rack.add_disk(conn, missing))


def _sled_with_id(conn: Connection, text: str) -> None:
    rack.add_sled(conn, uuid.UUID(text), [rack.NewDisk(uuid.UUID(text[:-1] + "f"), None)])


def test_id_prefixes(engine: Engine) -> None:
    tx(engine, lambda conn: _sled_with_id(conn, "abcd0000-0000-4000-8000-000000000001"))
    tx(engine, lambda conn: _sled_with_id(conn, "abcd1111-0000-4000-8000-000000000002"))
    resolve = rack.resolve_sled_id
    assert str(tx(engine, lambda conn: resolve(conn, "ABCD0"))).startswith("abcd0000")
    with pytest.raises(AmbiguousId, match="sled id prefix 'abcd' is ambiguous: matches abcd0000"):
        tx(engine, lambda conn: resolve(conn, "abcd"))
    with pytest.raises(SledNotFound, match="ffff"):
        tx(engine, lambda conn: resolve(conn, "ffff"))
    with pytest.raises(InputError, match="at least 4 hex digits"):
        tx(engine, lambda conn: resolve(conn, "abc"))
    with pytest.raises(InputError, match="not a sled id"):
        tx(engine, lambda conn: resolve(conn, "abcd%"))
    disk = tx(
        engine, lambda conn: rack.resolve_disk_id(conn, "abcd1111-0000-4000-8000-00000000000f")
    )
    assert str(disk) == "abcd1111-0000-4000-8000-00000000000f"
    (listed,) = tx(engine, lambda conn: rack.list_disks(conn, disk_id=disk))
    by_pool = tx(engine, lambda conn: rack.resolve_disk_id(conn, str(listed.pool_id)[:12]))
    assert by_pool == disk


# --- pool ranges ---------------------------------------------------------------------------------


def test_add_pool_ranges_and_reject_overlaps(engine: Engine) -> None:
    first = tx(engine, lambda conn: service_pools.add_pool_range(conn, "192.0.2.10", "192.0.2.20"))
    assert (first.first, first.last, first.size) == (
        IPv4Address("192.0.2.10"),
        IPv4Address("192.0.2.20"),
        11,
    )
    adjacent = tx(
        engine, lambda conn: service_pools.add_pool_range(conn, "192.0.2.21", "192.0.2.21")
    )
    v6 = tx(engine, lambda conn: service_pools.add_pool_range(conn, "fd00::1", "fd00::ff"))
    assert v6.size == 255
    # One service pool per IP version, created by its first range, with a random id.
    pools = tx(engine, service_pools.list_service_pools)
    assert [(p.ip_version, p.name) for p in pools] == [
        (IpVersion.V4, SERVICE_IP_POOL_NAMES[IpVersion.V4]),
        (IpVersion.V6, SERVICE_IP_POOL_NAMES[IpVersion.V6]),
    ]
    assert first.ip_pool_id == adjacent.ip_pool_id == pools[0].id
    assert v6.ip_pool_id == pools[1].id
    assert pools[0].id != pools[1].id
    # Each added range bumps its pool's generation; a new range starts at generation 0.
    assert [p.rcgen for p in pools] == [2, 1]
    assert {r.rcgen for r in tx(engine, service_pools.list_pool_ranges)} == {0}

    for lo, hi in [
        ("192.0.2.1", "192.0.2.10"),
        ("192.0.2.15", "192.0.2.16"),
        ("192.0.2.0", "192.0.3.0"),
    ]:
        with pytest.raises(IpRangeOverlap, match=str(first.id)) as info:
            tx(engine, partial(service_pools.add_pool_range, first=lo, last=hi))
        assert info.value.existing == (first.first, first.last)
    with pytest.raises(IpRangeOverlap, match=str(adjacent.id)):
        tx(engine, lambda conn: service_pools.add_pool_range(conn, "192.0.2.21", "192.0.2.30"))
    with pytest.raises(IpRangeOverlap, match=str(v6.id)):
        tx(engine, lambda conn: service_pools.add_pool_range(conn, "fd00::ff", "fd00::1:0"))
    with pytest.raises(InvalidIpRange, match="different families"):
        tx(engine, lambda conn: service_pools.add_pool_range(conn, "192.0.2.100", "fd00::1:1"))
    with pytest.raises(InvalidIpRange, match="first address is after the last"):
        tx(engine, lambda conn: service_pools.add_pool_range(conn, "192.0.2.200", "192.0.2.100"))
    with pytest.raises(InputError, match="not an IP address: 'nope'"):
        tx(engine, lambda conn: service_pools.add_pool_range(conn, "nope", "192.0.2.100"))

    ranges = tx(engine, service_pools.list_pool_ranges)
    assert [r.id for r in ranges] == [first.id, adjacent.id, v6.id]
    assert ranges[2].first == IPv6Address("fd00::1")


def _silo_pool_with_range(conn: Connection, first: str, last: str, *, deleted: bool) -> None:
    pool_id = uuid.uuid4()
    conn.execute(
        insert(schema.ip_pool_table).values(
            id=pool_id,
            name="silo-pool",
            description="",
            time_created=NOW,
            time_modified=NOW,
            rcgen=1,
            ip_version=IpVersion.V4,
            assignment=schema.IpPoolAssignment.SILOS,
        )
    )
    conn.execute(
        insert(schema.ip_pool_range_table).values(
            id=uuid.uuid4(),
            time_created=NOW,
            time_modified=NOW,
            time_deleted=NOW if deleted else None,
            first_address=first,
            last_address=last,
            ip_pool_id=pool_id,
            rcgen=0,
        )
    )


def test_overlap_is_checked_against_every_pool_but_only_live_ranges(engine: Engine) -> None:
    tx(engine, lambda conn: _silo_pool_with_range(conn, "10.0.0.1", "10.0.0.9", deleted=False))
    with pytest.raises(IpRangeOverlap, match=re.escape("(10.0.0.1 - 10.0.0.9)")):
        tx(engine, lambda conn: service_pools.add_pool_range(conn, "10.0.0.5", "10.0.0.6"))
    gone = tx(engine, lambda conn: service_pools.add_pool_range(conn, "10.0.1.1", "10.0.1.9"))

    def soft_delete(conn: Connection) -> None:
        table = schema.ip_pool_range_table
        conn.execute(update(table).where(table.c.id == gone.id).values(time_deleted=NOW))

    tx(engine, soft_delete)
    again = tx(engine, lambda conn: service_pools.add_pool_range(conn, "10.0.1.1", "10.0.1.9"))
    assert [r.id for r in tx(engine, service_pools.list_pool_ranges)] == [again.id]
    # Only the service pool's live ranges are planning input.
    loaded = tx(engine, load_planning_input)
    assert loaded.ip_ranges == (IpRange(IPv4Address("10.0.1.1"), IPv4Address("10.0.1.9")),)


# --- loading the planning input ------------------------------------------------------------------


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    with statements_sent(engine) as seen:
        yield seen


def test_load_planning_input(engine: Engine, statements: list[str]) -> None:
    sleds = [tx(engine, partial(rack.add_sled, disks=n)) for n in (2, 3, 1)]
    tx(engine, lambda conn: service_pools.add_pool_range(conn, "192.0.2.1", "192.0.2.50"))
    tx(engine, lambda conn: rack.expunge_sled(conn, sleds[2].id))
    tx(engine, lambda conn: rack.expunge_disk(conn, sleds[1].disks[0].id))

    statements.clear()
    loaded = tx(engine, lambda conn: load_planning_input(conn, ZonePolicy(nexus=2)))
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3
    assert [s.id for s in loaded.sleds] == sorted(s.id for s in sleds)
    by_id = {s.id: s for s in loaded.sleds}
    assert by_id[sleds[2].id].policy is SledPolicy.EXPUNGED
    assert by_id[sleds[2].id].state is SledState.ACTIVE
    assert [d.id for d in by_id[sleds[0].id].disks] == [d.id for d in sleds[0].disks]
    expunged = {d.id for s in loaded.sleds for d in s.disks if d.policy is DiskPolicy.EXPUNGED}
    assert expunged == {sleds[1].disks[0].id}
    assert loaded.ip_ranges == (IpRange(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.50")),)
    assert loaded.zone_policy == ZonePolicy(nexus=2)

    result = plan(None, loaded, SeededIds(1), now=NOW)
    assert result.blueprint is not None
    assert lint(result.blueprint) == []
    assert {s.id for s in result.blueprint.sleds} == {sleds[0].id, sleds[1].id}
    assert sum(1 for z in result.blueprint.in_service_zones() if z.kind.value == "nexus") == 2


def test_loading_takes_three_queries_whatever_the_rack_size(
    engine: Engine, statements: list[str]
) -> None:
    for _ in range(6):
        tx(engine, lambda conn: rack.add_sled(conn, disks=10))
    statements.clear()
    loaded = tx(engine, load_planning_input)
    assert len(loaded.sleds) == 6
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3


# --- the CLI -------------------------------------------------------------------------------------


def test_cli_sleds(cli_env: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "sled", "list")
    assert (code, err) == (0, "")
    assert "no sleds" in out

    code, out, _ = cli(capsys, "sled", "add", "--disks", "3")
    assert code == 0
    sled_id = uuid.UUID(out.strip())
    code, out, _ = cli(capsys, "sled", "add", "--disks", "1", "--json")
    assert code == 0
    second = json.loads(out)
    assert len(second["disks"]) == 1

    code, out, _ = cli(capsys, "sled", "list", "--json")
    listed = {s["id"]: s for s in json.loads(out)}
    assert set(listed) == {str(sled_id), second["id"]}
    assert listed[str(sled_id)]["policy"] == "in_service"
    assert len(listed[str(sled_id)]["disks"]) == 3

    code, out, _ = cli(capsys, "sled", "expunge", str(sled_id)[:8])
    assert (code, out.strip()) == (0, f"expunged sled {sled_id}")
    code, out, _ = cli(capsys, "sled", "expunge", str(sled_id))
    assert (code, out.strip()) == (0, f"sled {sled_id} was already expunged")

    code, out, _ = cli(capsys, "sled", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "POLICY", "STATE", "DISKS", "IN", "SERVICE"]
    row = next(line for line in lines if line.startswith(str(sled_id)))
    assert row.split() == [str(sled_id), "expunged", "active", "3/3"]

    code, _, err = cli(capsys, "sled", "expunge", "0000aaaa")
    assert code == 2
    assert err.strip() == "error: no sled matches 0000aaaa"


def test_cli_disks(cli_env: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    sled = tx(cli_env, lambda conn: rack.add_sled(conn, disks=1))
    code, out, err = cli(capsys, "disk", "add", str(sled.id))
    assert code == 0, err
    disk_id = uuid.UUID(out.strip())
    code, out, _ = cli(capsys, "disk", "list", "--sled", str(sled.id)[:6], "--json")
    disks = json.loads(out)
    assert {d["id"] for d in disks} == {str(disk_id), str(sled.disks[0].id)}
    pool = next(d["pool_id"] for d in disks if d["id"] == str(disk_id))

    code, out, _ = cli(capsys, "disk", "expunge", pool)
    assert code == 0
    assert out.strip() == f"expunged disk {disk_id} (pool {pool}, sled {sled.id})"
    code, out, _ = cli(capsys, "disk", "list")
    row = next(line for line in out.splitlines() if line.startswith(str(disk_id)))
    assert row.split() == [str(disk_id), str(sled.id), pool, "expunged", "active"]

    code, _, err = cli(capsys, "disk", "add", str(sled.id), "--id", "not-a-uuid")
    assert code == 2
    assert err.strip() == "error: --id is not a UUID: 'not-a-uuid'"


def test_cli_pool(cli_env: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "pool", "show")
    assert code == 0
    assert out.strip() == (
        "no service IP pool yet; the first `recon pool add-range FIRST LAST` creates one"
    )

    code, out, _ = cli(capsys, "pool", "add-range", "192.0.2.1", "192.0.2.10")
    assert code == 0
    (pool,) = tx(cli_env, service_pools.list_service_pools)
    assert out.strip().endswith(f": 192.0.2.1 - 192.0.2.10 (10 addresses) to pool {pool.id}")
    code, out, _ = cli(capsys, "pool", "show")
    assert out.splitlines()[0] == (
        f"pool {SERVICE_IP_POOL_NAMES[IpVersion.V4]} ({pool.id}), v4, assignment system_services"
    )
    code, out, err = cli(capsys, "pool", "add-range", "192.0.2.5", "192.0.2.20")
    assert code == 2
    assert out == ""
    assert err.startswith("error: IP range 192.0.2.5 - 192.0.2.20 overlaps range ")
    assert len(err.strip().splitlines()) == 1

    code, out, _ = cli(capsys, "pool", "show", "--json")
    data = json.loads(out)
    (pool_json,) = data["pools"]
    assert (pool_json["name"], pool_json["ip_version"]) == ("oxide-service-pool", "v4")
    assert data["total_addresses"] == 10
    assert [(r["first"], r["last"], r["size"]) for r in pool_json["ranges"]] == [
        ("192.0.2.1", "192.0.2.10", 10)
    ]

    code, out, _ = cli(capsys, "pool", "add-range", "fd00::1", "fd00::4")
    assert code == 0
    data = json.loads(cli(capsys, "pool", "show", "--json")[1])
    assert [p["ip_version"] for p in data["pools"]] == ["v4", "v6"]
    assert data["pools"][1]["name"] == "oxide-service-pool-v6"
    assert data["total_addresses"] == 14


def test_cli_as_a_separate_process(cli_env: Engine) -> None:
    env = {"RECON_DATABASE_URL": cli_env.url.render_as_string(hide_password=False)}
    added = recon("pool", "add-range", "198.51.100.1", "198.51.100.4", "--json", env=env)
    assert added.code == 0, added.stderr
    assert json.loads(added.stdout)["size"] == 4
    bad = recon("pool", "add-range", "198.51.100.9", "198.51.100.2", env=env)
    assert bad.code == 2
    assert bad.stderr.strip() == (
        "error: invalid IP range 198.51.100.9 - 198.51.100.2: the first address is after the last"
    )
    sled = recon("sled", "add", "--disks", "2", env=env)
    assert sled.code == 0, sled.stderr
    with cli_env.connect() as conn:
        count = conn.execute(
            select(schema.physical_disk_table.c.id).where(
                schema.physical_disk_table.c.sled_id == uuid.UUID(sled.stdout.strip())
            )
        ).all()
    assert len(count) == 2
