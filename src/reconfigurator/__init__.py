"""reconfigurator: realize a control plane's target blueprint in a real database."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reconfigurator")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
