"""`recon blueprint` and `recon target` on a real database.

Most cases run the CLI in this process (``run([...])``); a few run it as a user would, in a
separate process, to show the exact bytes on stdout and that no traceback is ever printed.
"""

from __future__ import annotations

import io
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL, Engine

from reconfigurator.blueprint.model import Blueprint
from reconfigurator.cli.main import run
from reconfigurator.db import schema
from reconfigurator.db.engine import DATABASE_URL_ENV
from reconfigurator.testing import DatabaseServer
from tests.blueprint_builder import RackBuilder, SledHandle
from tests.cli_runner import recon

Doc = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_line(self) -> str:
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("error: ")
        return lines[0]


Cli = Callable[..., Outcome]


def _plain(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``recon`` in this process against the test database."""
    monkeypatch.setenv(DATABASE_URL_ENV, _plain(engine.url))

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(schema.blueprint_table)).scalar_one()
        )


@dataclass
class Rack:
    builder: RackBuilder
    first: SledHandle
    second: SledHandle
    zones: dict[str, uuid.UUID]


def _rack(seed: int = 51) -> Rack:
    builder = RackBuilder(seed=seed)
    first = builder.add_sled()
    second = builder.add_sled(disks=3)
    zones = {
        "nexus": builder.add_zone(first, "nexus"),
        "ntp": builder.add_zone(first, "boundary_ntp", pool=first.pools[1]),
        "dns": builder.add_zone(second, "external_dns"),
        "crucible": builder.add_zone(second, "crucible", pool=second.pools[2]),
    }
    return Rack(builder, first, second, zones)


def _write(tmp_path: Path, name: str, content: str | bytes | Doc) -> str:
    path = tmp_path / name
    if isinstance(content, dict):
        path.write_text(json.dumps(content))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def _zone_path(doc: Doc, zone_id: uuid.UUID) -> tuple[str, Doc]:
    for si, sled in enumerate(doc["sleds"]):
        for zi, zone in enumerate(sled["zones"]):
            if zone["id"] == str(zone_id):
                return f"sleds[{si}].zones[{zi}]", zone
    raise KeyError(zone_id)


# --- as a user runs it: separate processes -----------------------------------------------------


@pytest.fixture
def second_url(db_server: DatabaseServer) -> Iterator[URL]:
    url = db_server.create_database()
    yield url
    db_server.drop_database(url)


def test_export_import_export_is_byte_identical_across_databases(
    engine: Engine, second_url: URL, tmp_path: Path
) -> None:
    rack = _rack()
    doc = rack.builder.document(comment="naïve — [bold]not markup[/bold] :smile: 100%")
    # Not canonical on purpose: reversed sleds, compact, ASCII-escaped.
    doc["sleds"].reverse()
    source = _write(tmp_path, "in.json", json.dumps(doc, separators=(",", ":")))
    env_a = {"RECON_DATABASE_URL": _plain(engine.url)}
    env_b = {"RECON_DATABASE_URL": _plain(second_url)}

    imported = recon("blueprint", "import", source, env=env_a)
    assert imported.code == 0, imported.stderr
    assert imported.stdout == f"{doc['id']}\n"

    first = recon("blueprint", "export", doc["id"][:8], env=env_a)
    assert first.code == 0, first.stderr
    assert first.stdout == Blueprint.model_validate(doc).to_json()
    exported = _write(tmp_path, "exported.json", first.stdout.encode())

    again = recon("blueprint", "import", exported, env=env_b)
    assert again.code == 0, again.stderr
    second = recon("blueprint", "export", doc["id"], env=env_b)
    assert second.code == 0, second.stderr
    assert second.stdout.encode() == Path(exported).read_bytes()


def test_invalid_document_in_a_subprocess_is_one_line_without_traceback(
    engine: Engine, tmp_path: Path
) -> None:
    rack = _rack()
    doc = rack.builder.document()
    path, zone = _zone_path(doc, rack.zones["nexus"])
    zone["zone_type"]["nic"]["mac"] = "a8:40:25:ff:80"
    result = recon(
        "blueprint",
        "import",
        _write(tmp_path, "bad.json", doc),
        env={"RECON_DATABASE_URL": _plain(engine.url)},
    )
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: invalid blueprint at {path}.zone_type.nic.mac:"
        " not a MAC address of the form aa:bb:cc:dd:ee:ff"
    )
    assert _count(engine) == 0


def test_unmigrated_database_asks_for_an_upgrade(empty_engine: Engine) -> None:
    result = recon("blueprint", "list", env={"RECON_DATABASE_URL": _plain(empty_engine.url)})
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: the database is not migrated")
    assert "run `recon db upgrade`" in lines[0]
    assert "Traceback" not in result.stderr


# --- import ------------------------------------------------------------------------------------


def test_import_is_idempotent_and_refuses_other_content_under_the_same_id(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    doc = _rack().builder.document(comment="original")
    source = _write(tmp_path, "a.json", doc)
    first = cli("blueprint", "import", source)
    assert (first.code, first.out) == (0, f"{doc['id']}\n")
    again = cli("blueprint", "import", source)
    assert (again.code, again.out) == (0, f"{doc['id']}\n")
    assert "already stored" in again.err

    doc["comment"] = "changed"
    other = cli("blueprint", "import", _write(tmp_path, "b.json", doc))
    assert other.code == 1
    assert other.error_line == (
        f"error: blueprint {doc['id']} already exists with different content"
    )
    assert _count(engine) == 1
    shown = cli("blueprint", "export", doc["id"])
    assert json.loads(shown.out)["comment"] == "original"


def test_import_from_stdin(cli: Cli, monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    doc = _rack().builder.document()

    class _Stdin:
        buffer = io.BytesIO(json.dumps(doc).encode())

    monkeypatch.setattr(sys, "stdin", _Stdin())
    result = cli("blueprint", "import", "-")
    assert (result.code, result.out) == (0, f"{doc['id']}\n")
    assert _count(engine) == 1


Mutation = Callable[[Rack, Doc], list[str]]


def _zone_field(zone_key: str, *keys: str, value: Any, at: str | None = None) -> Mutation:
    def mutate(rack: Rack, doc: Doc) -> list[str]:
        path, target = _zone_path(doc, rack.zones[zone_key])
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
        return [f"at {path}.{at if at is not None else '.'.join(keys)}:"]

    return mutate


def _top(key: str, value: Any) -> Mutation:
    def mutate(_rack: Rack, doc: Doc) -> list[str]:
        doc[key] = value
        return [f"at {key}:"]

    return mutate


def _duplicate_zone_id(rack: Rack, doc: Doc) -> list[str]:
    _path, crucible = _zone_path(doc, rack.zones["crucible"])
    twin = json.loads(json.dumps(crucible))
    twin["filesystem_pool"] = str(rack.first.pools[0])
    doc["sleds"][0]["zones"].append(twin)
    return [str(rack.zones["crucible"])]


def _shared_in_service(*keys: str) -> Mutation:
    """Give the external DNS zone the Nexus zone's value at ``keys``."""

    def mutate(rack: Rack, doc: Doc) -> list[str]:
        _p, nexus = _zone_path(doc, rack.zones["nexus"])
        _p, dns = _zone_path(doc, rack.zones["dns"])
        source, target = nexus, dns
        for key in keys[:-1]:
            source, target = source[key], target[key]
        target[keys[-1]] = source[keys[-1]]
        return [str(rack.zones["nexus"]), str(rack.zones["dns"])]

    return mutate


def _nic_subnet_of_nexus(rack: Rack, doc: Doc) -> list[str]:
    _p, dns = _zone_path(doc, rack.zones["dns"])
    dns["zone_type"]["nic"]["subnet"] = "172.30.2.0/24"
    dns["zone_type"]["nic"]["ip"] = "172.30.2.99"
    return [str(rack.zones["dns"]), "172.30.1.0/24"]


def _pool_of_other_sled(rack: Rack, doc: Doc) -> list[str]:
    _p, crucible = _zone_path(doc, rack.zones["crucible"])
    crucible["filesystem_pool"] = str(rack.first.pools[3])
    return [str(rack.zones["crucible"]), str(rack.first.pools[3])]


def _unaligned_ports(rack: Rack, doc: Doc) -> list[str]:
    _p, ntp = _zone_path(doc, rack.zones["ntp"])
    ntp["zone_type"]["external_ip"]["first_port"] = 100
    return [str(rack.zones["ntp"]), "not an aligned block"]


def _shared_nic_ip(rack: Rack, doc: Doc) -> list[str]:
    """Two Nexus zones with one NIC IP (NIC IPs of other kinds are in other subnets)."""
    _p, nexus = _zone_path(doc, rack.zones["nexus"])
    twin = json.loads(json.dumps(nexus))
    twin["id"] = str(rack.builder.new_id())
    twin["zone_type"]["external_ip"] = {"id": str(rack.builder.new_id()), "ip": "192.0.2.200"}
    twin["zone_type"]["nic"].update(id=str(rack.builder.new_id()), mac="a8:40:25:ff:00:99")
    twin["filesystem_pool"] = str(rack.second.pools[0])
    doc["sleds"][1]["zones"].append(twin)
    return [str(rack.zones["nexus"]), twin["id"], "share NIC IP"]


INVALID: dict[str, Mutation] = {
    "wrong type": _top("creator", ["me"]),
    "unknown field": _zone_field("ntp", "zone_type", "nic", "colour", value="red"),
    "bad UUID": _zone_field("dns", "id", value="dns-1"),
    "bad IP": _zone_field("nexus", "zone_type", "external_ip", "ip", value="192.0.2.256"),
    "bad MAC": _zone_field("dns", "zone_type", "nic", "mac", value="a8-40-25-ff-00-01"),
    "port out of bounds": _zone_field("ntp", "zone_type", "external_ip", "last_port", value=65536),
    "ports reversed": _zone_field(
        "ntp", "zone_type", "external_ip", "first_port", value=65535, at="zone_type.external_ip"
    ),
    "unaligned ports": _unaligned_ports,
    "duplicate zone id": _duplicate_zone_id,
    "duplicate in-service external IP": _shared_in_service("zone_type", "external_ip", "ip"),
    "duplicate in-service MAC": _shared_in_service("zone_type", "nic", "mac"),
    "duplicate in-service NIC IP": _shared_nic_ip,
    "duplicate NIC row id": _shared_in_service("zone_type", "nic", "id"),
    "NIC subnet of another kind": _nic_subnet_of_nexus,
    "pool not on the sled": _pool_of_other_sled,
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_import_refuses_invalid_documents_and_changes_nothing(
    case: str, cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    rack = _rack()
    existing = rack.builder.build()
    assert cli("blueprint", "import", _write(tmp_path, "ok.json", existing.to_json())).code == 0
    before = _count(engine)

    doc = rack.builder.document()
    expected = INVALID[case](rack, doc)
    result = cli("blueprint", "import", _write(tmp_path, "bad.json", doc))

    assert result.code == 2, result
    assert result.out == ""
    line = result.error_line
    for fragment in expected:
        assert fragment in line, line
    assert _count(engine) == before


@pytest.mark.parametrize("content", [b"", b'{"id": ', b"\xff\xfe", b"[1, 2]"])
def test_import_refuses_what_is_not_a_json_object(
    content: bytes, cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    result = cli("blueprint", "import", _write(tmp_path, "bad.json", content))
    assert result.code == 2
    assert result.error_line.startswith("error: invalid blueprint at $: ")
    assert _count(engine) == 0


def test_import_of_a_missing_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("blueprint", "import", str(tmp_path / "nowhere.json"))
    assert result.code == 2
    assert result.error_line.startswith(f"error: cannot read {tmp_path / 'nowhere.json'}")


def test_expunged_zone_may_share_addresses_with_an_in_service_zone(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    rack = _rack()
    old = rack.zones["nexus"]
    rack.builder.expunge_zone(old)
    nic = rack.builder.zone_doc(old)["zone_type"]["nic"]
    replacement = rack.builder.add_zone(
        rack.second,
        "nexus",
        ip=rack.builder.zone_doc(old)["zone_type"]["external_ip"]["ip"],
        nic_ip=nic["ip"],
        mac=int(nic["mac"].replace(":", ""), 16),
    )
    doc = rack.builder.document()
    result = cli("blueprint", "import", _write(tmp_path, "reuse.json", doc))
    assert result.code == 0, result.err
    assert _count(engine) == 1
    shown = json.loads(cli("blueprint", "show", doc["id"], "--json").out)
    zones = {z["id"]: z for sled in shown["sleds"] for z in sled["zones"]}
    assert zones[str(old)]["external_ip"] == zones[str(replacement)]["external_ip"]
    assert zones[str(old)]["disposition"] == "expunged"


# --- reading -----------------------------------------------------------------------------------


@pytest.fixture
def chain(cli: Cli, tmp_path: Path) -> list[Blueprint]:
    """Three stored blueprints A → B → C; A is the target."""
    rack = _rack(seed=61)
    a = rack.builder.build(comment="first")
    rack.builder.expunge_zone(rack.zones["nexus"])
    rack.builder.add_zone(rack.second, "nexus")
    b = rack.builder.build(comment="second")
    rack.builder.expunge_disk(rack.second, rack.second.pools[2])
    c = rack.builder.build(comment="third")
    for blueprint in (a, b, c):
        path = _write(tmp_path, f"{blueprint.id}.json", blueprint.to_json())
        assert cli("blueprint", "import", path).code == 0
    assert cli("target", "set", str(a.id)).code == 0
    return [a, b, c]


def test_list_newest_first_with_the_target_marked(cli: Cli, chain: list[Blueprint]) -> None:
    a, b, c = chain
    table = cli("blueprint", "list")
    assert table.code == 0
    rows = [line for line in table.out.splitlines() if line.strip()]
    assert rows[0].split()[:2] == ["target", "id"]
    assert [row.split()[0] for row in rows[1:]] == [str(c.id), str(b.id), "*"]
    assert rows[3].split()[1] == str(a.id)

    data = json.loads(cli("blueprint", "list", "--json").out)
    assert [item["id"] for item in data] == [str(c.id), str(b.id), str(a.id)]
    assert [item["is_target"] for item in data] == [False, False, True]
    assert data[0]["parent_blueprint_id"] == str(b.id)
    assert data[2]["comment"] == "first"


def test_show_summarizes_sleds_and_zones(cli: Cli, chain: list[Blueprint]) -> None:
    _a, b, _c = chain
    result = cli("blueprint", "show", str(b.id)[:10])
    assert result.code == 0, result.err
    out = result.out
    assert f"blueprint:  {b.id}\n" in out
    assert f"parent:     {b.parent_blueprint_id}\n" in out
    assert "creator:    test\n" in out
    assert "comment:    second\n" in out
    for sled in b.sleds:
        assert f"sled {sled.id}: active" in out
    for _sled, zone in b.zones():
        (line,) = [row for row in out.splitlines() if row.startswith(str(zone.id))]
        assert zone.kind.value in line
        assert ("expunged" if zone.is_expunged else "in service") in line
        if zone.external_ip is not None:
            assert str(zone.external_ip.ip) in line
            assert zone.nic is not None
            assert str(zone.nic.ip) in line

    data = json.loads(cli("blueprint", "show", str(b.id), "--json").out)
    assert data["id"] == str(b.id)
    assert data["is_target"] is False
    assert sum(len(s["zones"]) for s in data["sleds"]) == len(list(b.all_zones()))


def test_show_marks_the_target_and_prints_data_verbatim(cli: Cli, chain: list[Blueprint]) -> None:
    a = chain[0]
    out = cli("blueprint", "show", str(a.id)).out
    assert f"blueprint:  {a.id} (current target)\n" in out


def test_export_by_prefix_and_unknown_or_ambiguous_ids(cli: Cli, chain: list[Blueprint]) -> None:
    c = chain[2]
    result = cli("blueprint", "export", str(c.id)[:6])
    assert result.code == 0
    assert result.out == c.to_json()

    missing = cli("blueprint", "export", "0000000")
    assert missing.code == 2
    assert missing.error_line == "error: no blueprint matches 0000000"
    bad = cli("blueprint", "export", "xyz")
    assert bad.code == 2
    assert "not a blueprint id" in bad.error_line


def test_diff_table_and_json(cli: Cli, chain: list[Blueprint]) -> None:
    a, b, c = chain
    result = cli("blueprint", "diff", str(a.id), str(b.id))
    assert result.code == 0, result.err
    expunged = [row for row in result.out.splitlines() if "expunged" in row]
    assert len(expunged) == 1
    assert "zone" in expunged[0]
    added = [row for row in result.out.splitlines() if " added " in row]
    assert len(added) == 1

    data = json.loads(cli("blueprint", "diff", str(b.id)[:8], str(c.id)[:8], "--json").out)
    assert data["before"] == str(b.id)
    assert data["after"] == str(c.id)
    assert len(data["disks"]["expunged"]) == 1
    newly_expunged = [
        str(zone.id) for zone in c.expunged_zones() if b.zone(zone.id) in b.in_service_zones()
    ]
    assert [z["zone_id"] for z in data["zones"]["expunged"]] == newly_expunged
    assert {z["kind"] for z in data["zones"]["expunged"]} == {"crucible"}

    same = cli("blueprint", "diff", str(c.id), str(c.id))
    assert "no changes to sleds, disks or zones" in same.out


# --- lint --------------------------------------------------------------------------------------


def test_lint_a_file_or_a_stored_blueprint(
    cli: Cli, chain: list[Blueprint], tmp_path: Path
) -> None:
    clean = cli("blueprint", "lint", str(chain[1].id)[:8])
    assert (clean.code, clean.out) == (0, f"blueprint {chain[1].id}: no problems\n")

    rack = _rack(seed=71)
    doc = rack.builder.document()
    _p, nexus = _zone_path(doc, rack.zones["nexus"])
    _p, dns = _zone_path(doc, rack.zones["dns"])
    dns["zone_type"]["nic"]["mac"] = nexus["zone_type"]["nic"]["mac"]
    dns["zone_type"]["nic"]["vni"] = 7
    path = _write(tmp_path, "findings.json", doc)

    found = cli("blueprint", "lint", path)
    assert found.code == 1
    lines = found.out.strip().splitlines()
    assert lines[0] == f"blueprint {doc['id']}: 2 problems"
    assert lines[1].startswith("  nic_vni_mismatch: ")
    assert lines[2].startswith("  duplicate_nic_mac: ")
    assert str(rack.zones["dns"]) in lines[2]
    assert str(rack.zones["nexus"]) in lines[2]

    data = json.loads(cli("blueprint", "lint", path, "--json").out)
    assert data["ok"] is False
    assert [f["code"] for f in data["findings"]] == ["nic_vni_mismatch", "duplicate_nic_mac"]
    assert data["findings"][0]["zone_ids"] == [str(rack.zones["dns"])]


def test_lint_of_bad_input(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    not_json = cli("blueprint", "lint", _write(tmp_path, "x.json", "nope"))
    assert not_json.code == 2
    assert "at $: not valid JSON" in not_json.error_line
    missing = cli("blueprint", "lint", str(tmp_path / "missing.json"))
    assert missing.code == 2
    assert "is neither a file nor a stored blueprint" in missing.error_line
    directory = cli("blueprint", "lint", str(tmp_path))
    assert directory.code == 2
    assert "is not a file" in directory.error_line


def test_schema_describes_the_format(cli: Cli) -> None:
    result = cli("blueprint", "schema")
    assert result.code == 0
    schema_doc = json.loads(result.out)
    assert schema_doc["title"] == "Blueprint"
    assert set(schema_doc["required"]) >= {"id", "parent_blueprint_id", "time_created"}
    assert "sleds" in schema_doc["properties"]
    assert schema_doc["additionalProperties"] is False


# --- delete and targets ------------------------------------------------------------------------


def test_delete_refuses_the_target(cli: Cli, chain: list[Blueprint], engine: Engine) -> None:
    a, _b, c = chain
    refused = cli("blueprint", "delete", str(a.id))
    assert refused.code == 1
    assert refused.error_line == (
        f"error: blueprint {a.id} is the current target and cannot be deleted"
    )
    assert _count(engine) == 3
    deleted = cli("blueprint", "delete", str(c.id)[:8])
    assert (deleted.code, deleted.out) == (0, f"deleted blueprint {c.id}\n")
    assert _count(engine) == 2


def test_target_set_and_show(cli: Cli, chain: list[Blueprint], engine: Engine) -> None:
    a, b, c = chain
    shown = cli("target", "show")
    assert shown.code == 0
    assert f"blueprint: {a.id}\n" in shown.out
    assert "version:   1\n" in shown.out
    assert "enabled:   yes\n" in shown.out

    skipped = cli("target", "set", str(c.id))
    assert skipped.code == 1
    line = skipped.error_line
    assert str(c.id) in line
    assert str(a.id) in line
    assert f"has parent {b.id}, not the current target {a.id}" in line

    moved = cli("target", "set", str(b.id)[:8], "--disable", "--json")
    assert moved.code == 0, moved.err
    data = json.loads(moved.out)
    assert (data["version"], data["blueprint_id"], data["enabled"]) == (2, str(b.id), False)

    current = json.loads(cli("target", "show", "--json").out)
    assert current == data
    assert cli("target", "set", str(b.id), "--enable").code == 0
    assert json.loads(cli("target", "show", "--json").out)["enabled"] is True

    with engine.connect() as conn:
        versions = conn.execute(text("SELECT count(*) FROM bp_target")).scalar_one()
    assert versions == 3

    past = cli("blueprint", "delete", str(a.id))
    assert past.code == 1
    assert "is in the target history" in past.error_line


def test_target_show_without_a_target(cli: Cli) -> None:
    result = cli("target", "show")
    assert result.code == 1
    assert result.error_line == "error: no target blueprint has been set"
