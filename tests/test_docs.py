"""The repository's own documents: every file a docstring or comment cites exists here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent
CITED = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")
SOURCES = ("icalendly_async", "tools", "tests", "benchmarks", "examples")


def _known() -> tuple[set[str], set[str]]:
    paths = {
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.md")
        if not {".venv", "node_modules", ".git"} & set(path.parts)
    }
    return paths, {Path(path).name for path in paths}


def test_every_cited_document_is_in_the_repository() -> None:
    paths, names = _known()
    missing = []
    for top in SOURCES:
        for source in sorted((ROOT / top).rglob("*.py")):
            if "node_modules" in source.parts or source.name == "test_docs.py":
                continue
            for number, line in enumerate(source.read_text().splitlines(), 1):
                for cited in CITED.findall(line):
                    here = (source.parent / cited).resolve()
                    if cited in paths or here.exists() or cited in names:
                        continue
                    missing.append(f"{source.relative_to(ROOT)}:{number}: {cited}")
    assert not missing, "documents cited but not in the repository:\n" + "\n".join(missing)


def test_the_check_finds_a_missing_document(tmp_path: Path) -> None:
    paths, names = _known()
    assert "README.md" in paths and "NOTES.md" in names
    assert CITED.findall('"""The rules (DESIGN.md, "Limits"); see docs/api.md."""') == [
        "DESIGN.md",
        "docs/api.md",
    ]
    assert "DESIGN.md" not in names  # the team's own picture lives outside the repository
