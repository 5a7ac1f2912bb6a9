"""`recon blueprint import --format omicron` on a real database: upstream's blueprint JSON is
converted, stored like a native document and exported in this project's format; what cannot
be converted exits 2 naming its path, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.omicron import from_omicron
from reconfigurator.blueprint.parse import parse_blueprint
from reconfigurator.cli.main import run
from reconfigurator.db import schema
from reconfigurator.db.engine import DATABASE_URL_ENV
from tests.cli_runner import recon

FIXTURE = Path(__file__).parents[1] / "fixtures" / "omicron_blueprint.json"

Doc = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


Cli = Callable[..., Outcome]


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``recon`` in this process against the test database."""
    monkeypatch.setenv(DATABASE_URL_ENV, _url(engine))

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(schema.blueprint_table)).scalar_one()
        )


def _upstream() -> Doc:
    document: Doc = json.loads(FIXTURE.read_text())
    return document


def _write(tmp_path: Path, document: Doc) -> str:
    path = tmp_path / "omicron.json"
    path.write_text(json.dumps(document))
    return str(path)


def _nexus(document: Doc) -> tuple[str, Doc]:
    for sled_id, sled in document["sleds"].items():
        for index, zone in enumerate(sled["zones"]):
            in_service = zone["disposition"]["kind"] == "in_service"
            if zone["zone_type"]["type"] == "nexus" and in_service:
                return f"sleds.{sled_id}.zones[{index}]", zone
    raise KeyError("nexus")


def test_import_converts_stores_and_exports_this_projects_format(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    upstream = _upstream()
    imported = cli("blueprint", "import", "--format", "omicron", str(FIXTURE))
    assert imported.code == 0, imported.err
    assert imported.out == f"{upstream['id']}\n"
    assert _stored(engine) == 1

    exported = cli("blueprint", "export", upstream["id"][:8])
    assert exported.code == 0, exported.err
    assert exported.out == from_omicron(upstream).to_json()

    # What is stored is this project's own format: it parses natively, the Nexus carries the
    # upstream addresses, and importing the export is the same blueprint again.
    native = json.loads(exported.out)
    assert native["external_networking_generation"] == upstream["external_networking_generation"]
    stored = parse_blueprint(exported.out)
    _path, zone = _nexus(upstream)
    nexus = stored.zone(UUID(zone["id"]))
    assert nexus is not None
    assert nexus.external_ip is not None
    assert str(nexus.external_ip.ip) == zone["zone_type"]["external_ip"]["ip"]
    assert nexus.nic is not None
    assert (str(nexus.nic.ip), str(nexus.nic.ipv6)) == ("172.30.2.5", "fd77:e9d2:9cd9:2::5")
    path = tmp_path / "native.json"
    path.write_text(exported.out)
    again = cli("blueprint", "import", str(path))
    assert (again.code, again.out) == (0, f"{upstream['id']}\n")
    assert "already stored with the same content" in again.err
    assert _stored(engine) == 1


def test_import_as_a_user_refuses_an_unmodelled_zone_kind_with_its_path(
    engine: Engine, tmp_path: Path
) -> None:
    upstream = _upstream()
    path, zone = _nexus(upstream)
    zone["zone_type"]["type"] = "clickhouse_keeper"
    result = recon(
        "blueprint",
        "import",
        "--format",
        "omicron",
        _write(tmp_path, upstream),
        env={"RECON_DATABASE_URL": _url(engine)},
    )
    assert result.code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"error: cannot convert the omicron blueprint at {path}.zone_type.type: "
    )
    assert "clickhouse_keeper" in lines[0]
    assert "(unrepresentable)" in lines[0]
    assert _stored(engine) == 0


def test_a_converted_blueprint_that_fails_lint_is_not_stored(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    upstream = _upstream()
    _path, zone = _nexus(upstream)
    zone["zone_type"]["nic"]["vni"] = 7
    result = cli("blueprint", "import", "--format", "omicron", _write(tmp_path, upstream))
    assert result.code == 2
    assert "fails lint" in result.err
    assert zone["id"] in result.err
    assert _stored(engine) == 0


def test_a_value_this_format_refuses_is_reported_at_its_upstream_path(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    upstream = _upstream()
    path, zone = _nexus(upstream)
    zone["zone_type"]["nic"]["ip_config"]["value"]["v4"]["ip"] = "172.30.2"
    result = cli("blueprint", "import", "--format", "omicron", _write(tmp_path, upstream))
    assert result.code == 2
    assert f" at {path}.zone_type.nic.ip_config.value.v4.ip: " in result.err
    assert _stored(engine) == 0


def test_the_default_format_is_still_this_projects(cli: Cli, engine: Engine) -> None:
    result = cli("blueprint", "import", str(FIXTURE))
    assert result.code == 2
    assert result.err.startswith("error: invalid blueprint at ")
    assert _stored(engine) == 0


def test_an_unknown_format_is_a_usage_error(cli: Cli, engine: Engine) -> None:
    result = cli("blueprint", "import", "--format", "yaml", str(FIXTURE))
    assert result.code == 2
    assert _stored(engine) == 0
