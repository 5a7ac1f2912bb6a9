"""``from reconfigurator import …``: every exported name resolves to the object its module
defines, and the library imports without any package of the ``cli`` extra."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import reconfigurator
from reconfigurator.cli import entry

#: Stand-ins for a machine without the extra: a module set to ``None`` cannot be imported.
_BLOCK_CLI = f"import sys\nfor name in {entry.CLI_PACKAGES!r}:\n    sys.modules[name] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_every_exported_name_is_a_class_or_function_of_the_library() -> None:
    for name in reconfigurator.__all__:
        value = getattr(reconfigurator, name)
        if name == "__version__":
            assert isinstance(value, str)
            continue
        assert not isinstance(value, types.ModuleType), f"reconfigurator.{name} is a module"
        assert value.__module__.startswith("reconfigurator."), name
        assert value is getattr(importlib.import_module(value.__module__), name)


def test_audit_is_the_function_whichever_is_imported_first() -> None:
    # ``reconfigurator.audit`` is also a subpackage; importing it first must not shadow the
    # function the front door exports.
    result = _python(
        "import reconfigurator.audit.auditor\n"
        "import sys\n"
        "from reconfigurator import audit\n"
        "package = sys.modules['reconfigurator.audit']\n"
        "from reconfigurator.audit import audit as function\n"
        "print(audit is function, callable(audit), package.__name__)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "reconfigurator.audit"]


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
