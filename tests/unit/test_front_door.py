"""``from reconfigurator import …``: every exported name resolves to the object its module
defines, and the library imports without any package of the ``cli`` extra."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import reconfigurator
from reconfigurator.cli import entry

#: Stand-ins for a machine without the extra: a module set to ``None`` cannot be imported.
_BLOCK_CLI = f"import sys\nfor name in {entry.CLI_PACKAGES!r}:\n    sys.modules[name] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_every_exported_name_is_the_object_its_module_defines() -> None:
    exports = reconfigurator._EXPORTS
    assert set(reconfigurator.__all__) == {*exports, "__version__"}
    for name, module_name in exports.items():
        assert getattr(reconfigurator, name) is getattr(importlib.import_module(module_name), name)
    assert set(reconfigurator.__all__) <= set(dir(reconfigurator))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        reconfigurator.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_the_library_imports_without_the_cli_extra() -> None:
    result = _python(
        _BLOCK_CLI + "import reconfigurator\n"
        "from reconfigurator import *\n"
        "import reconfigurator.testing\n"
        "for name in reconfigurator.__all__:\n"
        "    getattr(reconfigurator, name)\n"
        "print(len(reconfigurator.__all__))\n"
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(reconfigurator.__all__)


def test_the_pure_model_does_not_import_the_database_layer() -> None:
    result = _python(
        "import sys\n"
        "import reconfigurator.blueprint\n"
        "from reconfigurator.blueprint.parse import parse_blueprint\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'psycopg') if m in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_recon_without_the_cli_extra_says_what_to_install_and_exits_2() -> None:
    result = _python(_BLOCK_CLI + "from reconfigurator.cli.entry import main\nmain()\n")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "pip install 'reconfigurator[cli]'" in lines[0]
    assert lines[0].startswith("error: ")


def test_recon_with_the_cli_extra_runs_the_command_line() -> None:
    assert entry.missing_cli_packages() == []
    result = _python(
        "import sys\nsys.argv = ['recon', '--help']\n"
        "from reconfigurator.cli.entry import main\nmain()\n"
    )
    assert result.returncode == 0, result.stderr
    assert "blueprint" in result.stdout
