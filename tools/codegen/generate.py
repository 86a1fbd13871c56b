"""Produce every generated file in memory; write or compare them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import ir, render
from .fmt import format_python
from .spec import ROOT, RepairedSpec, load_original, repair

ENDPOINTS_DIR = ROOT / "icalendly_async" / "endpoints" / "_generated"
MODELS_DIR = ROOT / "icalendly_async" / "models" / "_generated"
REPAIRED_SPEC = ROOT / "icalendly_async" / "spec" / "openapi.repaired.json"
REPAIRS_DOC = ROOT / "spec" / "REPAIRS.md"
API_DOC = ROOT / "docs" / "api.md"
#: Directories that hold nothing but generated files: anything else in them is removed.
OWNED_DIRS = (ENDPOINTS_DIR, MODELS_DIR)

__all__ = ["ROOT", "Result", "generate", "stale_files", "write"]


@dataclass
class Result:
    repaired: RepairedSpec
    spec: ir.Spec
    files: dict[Path, str]


def generate() -> Result:
    repaired = repair(load_original())
    undeclared = frozenset(
        entry.where
        for entry in repaired.log
        if entry.repair in ("untyped-response", "non-envelope-response")
    )
    spec = ir.build(repaired.doc, undeclared=undeclared)
    nodes = render.build_tree(spec)
    python: dict[Path, str] = {
        MODELS_DIR / f"{module}.py": source for module, source in render.render_models(spec).items()
    }
    python |= {
        ENDPOINTS_DIR / "_operations.py": render.render_operations(spec),
        ENDPOINTS_DIR / "__init__.py": render.render_groups_init(spec, nodes),
    }
    for node in nodes.values():
        python[ENDPOINTS_DIR / f"{node.module}.py"] = render.render_group(node, nodes, spec)
    files = format_python(python, ROOT)
    files[REPAIRED_SPEC] = render.render_repaired_spec(repaired)
    files[REPAIRS_DOC] = render.render_repairs(repaired)
    files[API_DOC] = render.render_docs(spec, nodes)
    return Result(repaired, spec, dict(sorted(files.items())))


def _extra_files(result: Result) -> list[Path]:
    extra = []
    for directory in OWNED_DIRS:
        if directory.exists():
            for path in sorted(directory.rglob("*.py")):
                if path not in result.files:
                    extra.append(path)
    return extra


def stale_files(result: Result) -> list[Path]:
    """Generated files whose checked-in text differs (or that should not exist)."""
    stale = [
        path
        for path, text in result.files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    return stale + _extra_files(result)


def write(result: Result) -> list[Path]:
    """Write what changed, remove what is no longer generated; returns the paths touched."""
    changed = []
    for path, text in result.files.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(path)
    for path in _extra_files(result):
        path.unlink()
        changed.append(path)
    return changed
