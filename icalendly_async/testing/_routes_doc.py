"""The README's list of emulated operations, rendered from the route table.

The list lives between ``<!-- emulator-routes:start -->`` and ``<!-- emulator-routes:end -->``.
``python -m icalendly_async.testing._routes_doc README.md`` rewrites it; with ``--check`` it only
tells, by its exit status, whether it is current: 0 current (or rewritten), 1 stale, 2 no markers.
(Nothing is printed: only the CLI prints.)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ._resources import ROUTES
from ._spec import documented_additions, operations

__all__ = ["END", "START", "render_markdown", "replace_block", "stale"]

START = "<!-- emulator-routes:start -->"
END = "<!-- emulator-routes:end -->"


def render_markdown() -> str:
    """The Markdown list (without the markers)."""
    tags = {operation.operation_id: operation.tag for operation in operations()}
    for item in documented_additions().values():  # the OAuth 2.0 endpoints: no generated method
        for added in item.values():
            tags[added["operationId"]] = added["tags"][0]
    total = len(tags)
    rows: dict[str, list[str]] = {}
    for spec in ROUTES:
        assert spec.operation_id is not None
        tag = tags.get(spec.operation_id, "")
        rows.setdefault(tag, []).append(f"`{spec.method} {spec.path}`")
    count = len(ROUTES)
    of = f" of the document's {total}" if total else ""
    lines = [
        "<details>",
        f"<summary>The emulator implements {count}{of} operations; every other operation "
        "answers <code>501</code> with the error code <code>NotImplemented</code>, naming the "
        "operation.</summary>",
        "",
        "| group | operations |",
        "|---|---|",
    ]
    for tag in sorted(rows):
        lines.append(f"| {tag or '(untagged)'} | {'<br>'.join(rows[tag])} |")
    lines += ["", "</details>"]
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str | None:
    """``text`` with the part between the markers replaced by ``block`` (``None``: no markers)."""
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < start:
        return None
    return f"{text[: start + len(START)]}\n{block}\n{text[end:]}"


def stale(path: Path) -> bool | None:
    """Whether the list in ``path`` differs from the route table (``None``: no markers)."""
    text = path.read_text(encoding="utf-8")
    updated = replace_block(text, render_markdown())
    return None if updated is None else updated != text


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or ``--check``) the list in the given README."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [arg for arg in args if arg != "--check"] or ["README.md"]
    status = 0
    for name in paths:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        updated = replace_block(text, render_markdown())
        if updated is None:
            status = 2
        elif updated != text:
            if check:
                status = max(status, 1)
            else:
                path.write_text(updated, encoding="utf-8")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
