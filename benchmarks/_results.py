"""The results file and its Markdown rendering.

Every benchmark returns a :class:`Result`; :func:`merge` stores it under its name in
``results/latest.json`` (keeping the other benchmarks' latest figures), and :func:`render` turns
the whole file into ``results/latest.md`` and the block between the markers of ``README.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, TypedDict

__all__ = [
    "README",
    "RESULTS_DIR",
    "Check",
    "Result",
    "Table",
    "check",
    "load",
    "merge",
    "render",
    "update_readme",
    "write_markdown",
]

HERE = Path(__file__).resolve().parent
# ICALENDLY_BENCH_RESULTS=DIR writes somewhere else (to measure a patched copy, say); the
# README is then left alone.
RESULTS_DIR = Path(os.environ.get("ICALENDLY_BENCH_RESULTS") or HERE / "results")
LATEST_JSON = RESULTS_DIR / "latest.json"
LATEST_MD = RESULTS_DIR / "latest.md"
README = HERE / "README.md"
START_MARK = "<!-- results:start (written by python -m benchmarks; do not edit by hand) -->"
END_MARK = "<!-- results:end -->"

# The order of the sections in the tables.
ORDER = ("overhead", "pacing", "scale", "fleet", "export", "priorities", "emulator")


class Check(TypedDict):
    """One figure with a target: the summary table has one row per check."""

    metric: str
    value: float | None
    display: str
    target: str
    met: bool | None  # None: no target, or not measured


class Table(TypedDict):
    title: str
    columns: list[str]
    rows: list[list[str]]


class Result(TypedDict, total=False):
    title: str
    checks: list[Check]
    tables: list[Table]
    notes: list[str]
    plots: list[str]  # file names in results/
    data: dict[str, Any]  # raw figures, for the plots and for whoever wants them
    quick: bool
    seconds: float
    when: str


def check(metric: str, value: float | None, display: str, target: str, met: bool | None) -> Check:
    return {"metric": metric, "value": value, "display": display, "target": target, "met": met}


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import aiohttp

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "icalendly_async"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "aiohttp": aiohttp.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "commit": (commit + (" + uncommitted changes" if dirty else "")) or "unknown",
    }


def load() -> dict[str, Any]:
    if LATEST_JSON.exists():
        try:
            loaded: dict[str, Any] = json.loads(LATEST_JSON.read_text())
            if isinstance(loaded.get("benchmarks"), dict):
                return loaded
        except ValueError:
            pass
    return {"machine": {}, "benchmarks": {}}


def merge(name: str, result: Result) -> dict[str, Any]:
    """Store ``result`` as the latest of ``name``; returns the whole file's content."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    everything = load()
    result.setdefault("when", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    everything["benchmarks"][name] = result
    everything["machine"] = machine()
    LATEST_JSON.write_text(json.dumps(everything, indent=1, sort_keys=False) + "\n")
    return everything


def _mark(met: bool | None) -> str:
    if met is None:
        return "—"
    return "✅ met" if met else "❌ missed"


def _sorted_names(benchmarks: dict[str, Any]) -> list[str]:
    known = [name for name in ORDER if name in benchmarks]
    return known + sorted(name for name in benchmarks if name not in ORDER)


def _table(columns: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return out


def render(
    everything: dict[str, Any], plot_prefix: str = "", heading: str = "#", title: bool = True
) -> str:
    """Markdown: a summary table of every check, then each benchmark's tables, notes, plots."""
    benchmarks: dict[str, Any] = everything.get("benchmarks", {})
    info = everything.get("machine", {})
    lines = [f"{heading} Latest results", ""] if title else []
    lines += [
        f"Python {info.get('python', '?')} ({info.get('implementation', '?')}), aiohttp "
        f"{info.get('aiohttp', '?')}, {info.get('cpus', '?')} CPUs, {info.get('platform', '?')}; "
        f"code at {info.get('commit', '?')}.",
        "",
    ]
    rows = []
    for name in _sorted_names(benchmarks):
        result = benchmarks[name]
        mode = "quick" if result.get("quick") else "full"
        for item in result.get("checks", []):
            rows.append(
                [
                    f"{result.get('title', name)} ({mode})",
                    item["metric"],
                    item["display"],
                    item["target"] or "—",
                    _mark(item["met"]),
                ]
            )
    lines += _table(["benchmark", "figure", "result", "target", ""], rows)
    for name in _sorted_names(benchmarks):
        result = benchmarks[name]
        when = result.get("when", "?")
        seconds = result.get("seconds")
        took = f", took {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""
        mode = "`--quick`" if result.get("quick") else "full run"
        lines += ["", f"{heading}# {result.get('title', name)}", "", f"_{mode}, {when}{took}._"]
        for table in result.get("tables", []):
            lines += ["", f"**{table['title']}**", ""] if table.get("title") else [""]
            lines += _table(table["columns"], table["rows"])
        notes = result.get("notes", [])
        if notes:
            lines.append("")
            lines += [f"- {note}" for note in notes]
        for plot in result.get("plots", []):
            lines += ["", f"![{name}]({plot_prefix}{plot})"]
    return "\n".join(lines) + "\n"


def write_markdown(everything: dict[str, Any]) -> None:
    LATEST_MD.write_text(render(everything))


def update_readme(everything: dict[str, Any]) -> bool:
    """Replace the results block of README.md; ``False`` when the markers are missing."""
    if not README.exists() or RESULTS_DIR != HERE / "results":
        return False
    text = README.read_text()
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start < 0 or end < start:
        return False
    block = render(everything, plot_prefix="results/", heading="##", title=False)
    text = text[: start + len(START_MARK)] + "\n\n" + block + "\n" + text[end:]
    README.write_text(text)
    return True
