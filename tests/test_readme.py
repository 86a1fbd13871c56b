"""The README's examples run as written, and the quick-start example reports zero 429s."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip()  # every example prints what it shows


@pytest.mark.slow
def test_quickstart_example_paces_without_429s() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "429s received: 0" in done.stdout, done.stdout + done.stderr
    seconds = float(re.search(r": ([0-9.]+) s", done.stdout).group(1))  # type: ignore[union-attr]
    assert seconds < 7.5
