"""Figures the reliability tests collect, written as JSON for ``scripts/reliability_report.py``.

Every test records what it tried and survived under a section of its own: figures with
``record`` and counters with ``add``. At the end of the pytest session they are written to
``$RECON_RELIABILITY_STATS`` (default: a file in the temporary directory). Under pytest-xdist
every worker merges into the same file, under a lock, as long as the file belongs to the same
test run: figures by section, counters by adding them up. Readers see counters folded into
their sections.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

STATS_ENV: Final = "RECON_RELIABILITY_STATS"
SOAK_ENV: Final = "RECON_SOAK"
DEFAULT_STATS_FILE: Final = "recon-reliability-stats.json"


def soak_enabled() -> bool:
    """Whether the long versions run (``RECON_SOAK=1``)."""
    return os.environ.get(SOAK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def stats_path() -> Path:
    configured = os.environ.get(STATS_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / DEFAULT_STATS_FILE


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class ReliabilityStats:
    """Figures of one pytest session (or one xdist worker of it)."""

    run_id: str = field(
        default_factory=lambda: os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    )
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)

    def record(self, section: str, **figures: Any) -> None:
        """Set figures of ``section`` (a later call for the same key replaces the value)."""
        self.sections.setdefault(section, {}).update(figures)

    def add(self, section: str, key: str, amount: int = 1) -> None:
        """Add to a counter of ``section`` (summed over xdist workers)."""
        counters = self.counters.setdefault(section, {})
        counters[key] = counters.get(key, 0) + amount

    def write(self, path: Path | None = None) -> Path:
        target = path or stats_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        with _locked(target):
            existing: dict[str, Any] = {}
            if target.exists():
                with contextlib.suppress(ValueError, OSError):
                    existing = json.loads(target.read_text())
            same_run = existing.get("run_id") == self.run_id
            sections: dict[str, Any] = dict(existing.get("figures", {})) if same_run else {}
            sections.update(self.sections)
            counters: dict[str, dict[str, int]] = (
                {k: dict(v) for k, v in existing.get("counters", {}).items()} if same_run else {}
            )
            for section, values in self.counters.items():
                merged = counters.setdefault(section, {})
                for key, amount in values.items():
                    merged[key] = merged.get(key, 0) + amount
            folded = {name: dict(values) for name, values in sections.items()}
            for section, values in counters.items():
                folded.setdefault(section, {}).update(values)
            document = {
                "run_id": self.run_id,
                "started": existing.get("started", self.started) if same_run else self.started,
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "soak": soak_enabled(),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(terse=True),
                },
                # What readers use: every section with its counters folded in.
                "sections": dict(sorted(folded.items())),
                # What later xdist workers of the same run merge into.
                "figures": dict(sorted(sections.items())),
                "counters": dict(sorted(counters.items())),
            }
            scratch = target.with_name(target.name + ".tmp")
            scratch.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
            scratch.replace(target)
        return target
