"""The README's library section, as a user would copy it: every name it imports is where it
says, and its examples run as written against a real database, printing what it says."""

from __future__ import annotations

import ast
import importlib
import itertools
import re
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import reconfigurator

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Using it as a library"
#: The Nexus zone of the README's example blueprint.
EXAMPLE_ZONE = UUID("f0fc622e-d983-4389-9a9e-d99d9d907ac0")


def _library_blocks() -> list[str]:
    text = README.read_text()
    section = text.split(f"\n{SECTION}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def _printed_as_documented(block: str) -> list[str]:
    """The output a block documents: each ``# …`` comment line right after a ``print(``."""
    lines = block.splitlines()
    return [
        line.removeprefix("# ")
        for previous, line in itertools.pairwise(lines)
        if previous.startswith("print(") and line.startswith("# ")
    ]


def _imports(block: str) -> list[tuple[str, str | None]]:
    """(module, name) for every ``from module import name``; (module, None) for ``import``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(block)):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            found.extend((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
    return found


def test_the_library_section_has_runnable_examples() -> None:
    blocks = _library_blocks()
    assert len(blocks) >= 2
    assert any(_printed_as_documented(block) for block in blocks)


def test_every_name_the_library_section_imports_is_where_it_says() -> None:
    imported = [pair for block in _library_blocks() for pair in _imports(block)]
    from_front_door = {name for module, name in imported if module == "reconfigurator"}
    assert {"make_engine", "upgrade", "Executor", "run_transaction"} <= from_front_door
    for module_name, name in imported:
        module = importlib.import_module(module_name)
        if name is not None:
            assert hasattr(module, name), f"{module_name} has no {name}"
    assert from_front_door <= set(reconfigurator.__all__)


def test_the_library_section_runs_as_written(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    namespace: dict[str, object] = {"__name__": "readme_example"}
    documented: list[str] = []
    for block in _library_blocks():
        exec(compile(block, str(README), "exec"), namespace)
        documented.extend(_printed_as_documented(block))
    assert capsys.readouterr().out.splitlines() == documented
    with engine.connect() as conn:
        live = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM external_ip WHERE parent_id = :zone"
                "          AND time_deleted IS NULL),"
                "       (SELECT count(*) FROM service_network_interface"
                "          WHERE service_id = :zone AND time_deleted IS NULL)"
            ),
            {"zone": EXAMPLE_ZONE},
        ).one()
    assert tuple(live) == (1, 1)
