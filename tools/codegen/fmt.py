"""Format generated Python with ``ruff format`` (the generator's last step).

Each file is formatted through stdin with ``--stdin-filename`` set to its place in the
repository, so that ruff finds the project's configuration exactly as ``ruff format --check``
will. The staleness test compares after the same formatting.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LINE_LENGTH = "100"


def _ruff() -> list[str]:
    local = Path(sys.executable).with_name("ruff")
    if local.exists():
        return [str(local)]
    found = shutil.which("ruff")
    return [found] if found else [sys.executable, "-m", "ruff"]


def format_python(sources: dict[Path, str], root: Path) -> dict[Path, str]:
    """``{path: source}`` formatted; paths are absolute, inside ``root``."""
    ruff = _ruff()
    env = {**os.environ, "NO_COLOR": "1"}

    def run(item: tuple[Path, str]) -> tuple[Path, str]:
        path, source = item
        args = ["check", "--fix-only", "--select", "I", "--quiet"]
        stdin = ["--stdin-filename", str(path), "-"]
        fixed = subprocess.run(
            [*ruff, *args, "--line-length", LINE_LENGTH, *stdin],
            input=source,
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
            check=False,
        )
        if fixed.returncode not in (0, 1) or not fixed.stdout:
            raise RuntimeError(f"ruff check failed on {path}:\n{fixed.stderr}")
        result = subprocess.run(
            [*ruff, "format", "--line-length", LINE_LENGTH, *stdin],
            input=fixed.stdout,
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"ruff format failed on {path}:\n{result.stderr}")
        return path, result.stdout

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return dict(pool.map(run, sources.items()))
