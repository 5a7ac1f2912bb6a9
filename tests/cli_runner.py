"""Run ``recon`` as a user would: a separate process, with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def recon(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "reconfigurator", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def data_dir_env(path: Path) -> dict[str, str]:
    return {"RECON_DATA_DIR": str(path)}
