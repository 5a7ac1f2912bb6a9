"""Bad blueprint documents: parsing, lint and ``recon blueprint import`` never crash.

Valid documents from the rack builder are mutated (wrong types, missing and extra fields, bad
UUIDs, IPs and MACs, huge numbers, unicode, SQL-looking text) and sometimes damaged as bytes:

* ``parse_blueprint`` either returns a blueprint or raises ``BlueprintInvalid`` naming a JSON
  path — nothing else, for at least 2,000 documents per run;
* lint of every parsed document returns findings without crashing, and the canonical JSON of a
  parsed document parses back to the same blueprint;
* through the CLI (in this process), ``blueprint lint FILE`` exits 0, 1 or 2 and
  ``blueprint import FILE`` exits 2 for an invalid or lint-failing document, leaving the
  database unchanged, or 0 and stores it: ``blueprint export`` then prints exactly its canonical
  JSON, so SQL-looking text is stored literally;
* every document the CLI accepted can be listed and shown afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import text
from sqlalchemy.engine import Engine

from reconfigurator.blueprint.diff import diff_blueprints
from reconfigurator.blueprint.lint import lint
from reconfigurator.blueprint.model import Blueprint
from reconfigurator.blueprint.parse import parse_blueprint
from reconfigurator.db.blueprint_store import get_blueprint
from reconfigurator.db.engine import DATABASE_URL_ENV
from reconfigurator.errors import BlueprintInvalid, BlueprintNotFound
from reconfigurator.testing import DatabaseServer, fresh_database
from tests.reliability.cli import Invocation, invoke
from tests.reliability.fuzz import (
    BAD_TIMES,
    BASES,
    NUL_TEXTS,
    SQL_TEXTS,
    UNICODE_TEXTS,
    Doc,
    mutated_documents,
)
from tests.reliability.stats import ReliabilityStats

pytestmark = pytest.mark.reliability

PARSE_EXAMPLES = {"short": 2_000, "soak": 20_000}
CLI_EXAMPLES = {"short": 150, "soak": 1_500}

FUZZ_SETTINGS: dict[str, Any] = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "print_blob": False,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
}

BASE_BLUEPRINTS = [Blueprint.model_validate(doc) for doc in BASES]


def _budget(table: dict[str, int], soak: bool) -> int:
    return table["soak" if soak else "short"]


def test_base_documents_are_valid_and_lint_clean() -> None:
    for doc in BASES:
        blueprint = parse_blueprint(json.dumps(doc))
        assert lint(blueprint) == []


def _check_parse(raw: bytes) -> Blueprint | None:
    """Parse and lint one document as the CLI does; return the blueprint if it is valid."""
    refused: BlueprintInvalid | None = None
    try:
        blueprint = parse_blueprint(raw)
    except BlueprintInvalid as exc:
        refused = exc
    if refused is not None:
        assert refused.path, refused
        assert str(refused).startswith(f"invalid blueprint at {refused.path}: "), refused
        return None
    findings = lint(blueprint)
    for finding in findings:
        assert finding.message and finding.code.value
    # The canonical JSON of what was read reads back the same.
    assert parse_blueprint(blueprint.to_json()) == blueprint
    diff_blueprints(BASE_BLUEPRINTS[0], blueprint)
    return blueprint


# Pydantic reads a JSON ``true`` as the integer 1 where an IP network is expected
# (``"subnet": true`` is 0.0.0.1/32, which lint then reports); Python warns about the bool.
@pytest.mark.filterwarnings("ignore:__int__ returned non-int:DeprecationWarning")
def test_parse_and_lint_only_ever_reject_with_blueprint_invalid(
    soak: bool, reliability_stats: ReliabilityStats
) -> None:
    examples = _budget(PARSE_EXAMPLES, soak)
    tally: Counter[str] = Counter()

    @settings(max_examples=examples, **FUZZ_SETTINGS)
    @given(mutated_documents())
    def check(case: tuple[Doc | None, bytes]) -> None:
        _doc, raw = case
        blueprint = _check_parse(raw)
        tally["examples"] += 1
        if blueprint is None:
            tally["invalid"] += 1
        elif lint(blueprint):
            tally["valid_with_lint_findings"] += 1
        else:
            tally["valid_and_lint_clean"] += 1

    check()
    assert tally["examples"] >= examples, tally
    # The mutations reach every outcome, not only the parser's first line of defence.
    assert tally["invalid"] and tally["valid_with_lint_findings"] and tally["valid_and_lint_clean"]
    reliability_stats.record("fuzz.parse_and_lint", **dict(tally))


# --- through the CLI ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_engine(pg_server: DatabaseServer) -> Iterator[Engine]:
    """One database for the CLI fuzzing of this module (what it imports stays)."""
    with fresh_database(pg_server) as engine:
        yield engine


@pytest.fixture
def cli_env(cli_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv(DATABASE_URL_ENV, cli_engine.url.render_as_string(hide_password=False))
    return cli_engine


#: The tables holding a stored blueprint's sleds, disks, zones and NICs.
BLUEPRINT_PART_TABLES = (
    "bp_sled_metadata",
    "bp_omicron_physical_disk",
    "bp_omicron_zone",
    "bp_omicron_zone_nic",
    "bp_omicron_zone_nic_transit_ip",
)


def _database_state(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "blueprints": conn.execute(
                text(
                    "SELECT id::text, parent_blueprint_id::text, time_created::text, creator,"
                    " comment, external_networking_generation FROM blueprint ORDER BY id"
                )
            ).all(),
            **{
                table: conn.execute(text(f"SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1"))
                .scalars()
                .all()
                for table in BLUEPRINT_PART_TABLES
            },
            "targets": conn.execute(text("SELECT * FROM bp_target ORDER BY version")).all(),
            "external_ip": conn.execute(text("SELECT count(*) FROM external_ip")).scalar(),
            "nics": conn.execute(text("SELECT count(*) FROM network_interface")).scalar(),
            "repairs": conn.execute(
                text("SELECT count(*) FROM external_networking_repair")
            ).scalar(),
        }


def _stored(engine: Engine, blueprint: Blueprint) -> Blueprint | None:
    with engine.connect() as conn:
        try:
            return get_blueprint(conn, blueprint.id)
        except BlueprintNotFound:
            return None


def _assert_clean(result: Invocation) -> None:
    assert result.raised is None, result.describe()
    assert result.code in {0, 1, 2}, result.describe()
    assert "Traceback" not in result.err, result.describe()
    if result.code != 0:
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.describe()


def _import_and_check(engine: Engine, path: Path, raw: bytes, tally: Counter[str]) -> None:
    path.write_bytes(raw)
    try:
        blueprint: Blueprint | None = parse_blueprint(raw)
    except BlueprintInvalid:
        blueprint = None
    findings = lint(blueprint) if blueprint is not None else None
    before = _database_state(engine)
    stored = _stored(engine, blueprint) if blueprint is not None else None

    linted = invoke("blueprint", "lint", str(path))
    assert linted.raised is None and "Traceback" not in linted.err, linted.describe()
    assert linted.code == (2 if findings is None else 1 if findings else 0), linted.describe()

    imported = invoke("blueprint", "import", str(path))
    _assert_clean(imported)
    if blueprint is None or findings:
        assert imported.code == 2, imported.describe()
        assert _database_state(engine) == before, imported.describe()
        tally["refused"] += 1
        return
    if stored is not None and stored != blueprint:
        # Same id, different content: refused as a conflict, nothing written.
        assert imported.code == 1, imported.describe()
        assert "different content" in imported.err
        assert _database_state(engine) == before
        tally["content_conflicts"] += 1
        return
    assert imported.code == 0, imported.describe()
    assert imported.out.strip() == str(blueprint.id)
    tally["stored"] += 1
    # Stored literally: the export is the canonical JSON, byte for byte, and the free text
    # columns hold exactly the document's text.
    exported = invoke("blueprint", "export", str(blueprint.id))
    assert exported.code == 0 and exported.out == blueprint.to_json(), exported.describe()
    with engine.connect() as conn:
        creator, comment = conn.execute(
            text("SELECT creator, comment FROM blueprint WHERE id = :id"), {"id": blueprint.id}
        ).one()
    assert (creator, comment) == (blueprint.creator, blueprint.comment)
    for command in (("blueprint", "list", "--json"), ("blueprint", "show", str(blueprint.id))):
        shown = invoke(*command)
        assert shown.code == 0, shown.describe()


@pytest.mark.filterwarnings("ignore:__int__ returned non-int:DeprecationWarning")
def test_cli_import_refuses_bad_documents_and_stores_good_ones_literally(
    cli_env: Engine, tmp_path: Path, soak: bool, reliability_stats: ReliabilityStats
) -> None:
    examples = _budget(CLI_EXAMPLES, soak)
    tally: Counter[str] = Counter()
    path = tmp_path / "blueprint.json"

    @settings(max_examples=examples, **FUZZ_SETTINGS)
    @given(mutated_documents())
    def check(case: tuple[Doc | None, bytes]) -> None:
        tally["examples"] += 1
        _import_and_check(cli_env, path, case[1], tally)

    check()
    assert tally["examples"] >= examples
    assert tally["refused"] and tally["stored"], tally
    reliability_stats.record("fuzz.cli_import", **dict(tally))


@pytest.mark.parametrize("value", SQL_TEXTS + UNICODE_TEXTS + NUL_TEXTS)
def test_free_text_is_stored_literally_or_refused_with_its_path(
    cli_env: Engine, tmp_path: Path, value: str, reliability_stats: ReliabilityStats
) -> None:
    doc: Doc = json.loads(json.dumps(BASES[1]))
    doc["id"] = str(uuid.uuid5(uuid.NAMESPACE_OID, value))
    doc["creator"] = value[:1024]
    doc["comment"] = value
    nic = doc["sleds"][0]["zones"][0]["zone_type"].get("nic") or next(
        z["zone_type"]["nic"] for s in doc["sleds"] for z in s["zones"] if "nic" in z["zone_type"]
    )
    nic["name"] = value[:63]
    raw = json.dumps(doc, ensure_ascii=False).encode()
    tally: Counter[str] = Counter()
    _import_and_check(cli_env, tmp_path / "doc.json", raw, tally)
    if "\u0000" in value or len(value) > 4096 or not value[:63]:
        # Text the database cannot hold (NUL) or the format does not allow: refused by path.
        assert tally["refused"] == 1
        with pytest.raises(BlueprintInvalid) as info:
            parse_blueprint(raw)
        assert info.value.path in {"creator", "comment"} or info.value.path.endswith(".nic.name")
    else:
        assert tally["stored"] == 1
    with cli_env.connect() as conn:
        # Every table is still there.
        for table in (
            "blueprint",
            "bp_target",
            "external_ip",
            "network_interface",
            "service_network_interface",
            "external_networking_repair",
            "ip_pool",
            "ip_pool_range",
        ):
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    reliability_stats.add("fuzz.free_text", "values_checked")


@pytest.mark.parametrize("value", BAD_TIMES)
def test_creation_time_is_stored_and_read_back_or_refused_with_its_path(
    cli_env: Engine, tmp_path: Path, value: str, reliability_stats: ReliabilityStats
) -> None:
    """Times that are valid RFC 3339 but fall outside years 1–9999 once in UTC cannot be
    stored as ``timestamptz`` and read back: they are refused, naming ``time_created``."""
    doc: Doc = json.loads(json.dumps(BASES[0]))
    doc["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, value))
    doc["time_created"] = value
    tally: Counter[str] = Counter()
    _import_and_check(cli_env, tmp_path / "doc.json", json.dumps(doc).encode(), tally)
    if tally["refused"]:
        with pytest.raises(BlueprintInvalid) as info:
            parse_blueprint(json.dumps(doc))
        assert info.value.path == "time_created"
    else:
        assert tally["stored"] == 1
    reliability_stats.add("fuzz.creation_time", "values_checked")
