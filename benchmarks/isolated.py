"""One executor run in a process of its own, for the run's whole-process memory.

``RECON_BENCH_URL=postgresql://… python -m benchmarks.isolated BLUEPRINT_ID`` connects, runs
a fresh executor once against the blueprint, and prints one JSON line: ``seconds``,
``base_rss_bytes`` (resident memory after imports and connecting, before the run) and
``peak_rss_bytes`` (the process's resident high-water mark, which the run sets because
nothing before it comes close). Used by :func:`benchmarks.harness.isolated_run`.

The high-water mark is ``VmHWM`` from ``/proc/self/status``: the high-water mark of this
process's own address space. ``getrusage(RUSAGE_SELF).ru_maxrss`` would be wrong here: Linux
carries the parent's high-water mark into a child across fork and exec, so a child of a large
benchmark process reports the parent's size. ``ru_maxrss`` is only the fallback where there
is no ``/proc``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from uuid import UUID

from sqlalchemy import text

from reconfigurator.db.engine import make_engine
from reconfigurator.executor import Executor


def _status_bytes(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _rss_bytes() -> int:
    return _status_bytes("VmRSS") or 0


def _max_rss_bytes() -> int:
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def main(argv: list[str]) -> int:
    logging.getLogger("reconfigurator").addHandler(logging.NullHandler())
    blueprint_id = UUID(argv[0])
    engine = make_engine(os.environ["RECON_BENCH_URL"])
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    base = _rss_bytes()
    began = time.perf_counter()
    report = Executor(engine).execute(blueprint_id)
    elapsed = time.perf_counter() - began
    peak = _max_rss_bytes()
    engine.dispose()
    if not report.succeeded:
        print(f"run failed: {report.error}", file=sys.stderr)
        return 1
    print(json.dumps({"seconds": elapsed, "base_rss_bytes": base, "peak_rss_bytes": peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
