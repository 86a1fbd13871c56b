"""``python -m benchmarks [--quick] [--only NAME ...]``: run the benchmarks, write the results.

Each benchmark runs in a fresh Python process (so one's garbage, imports or memory do not
colour the next), returns its figures as JSON, and this process merges them into
``benchmarks/results/latest.json``, renders ``results/latest.md``, draws ``results/<name>.png``
and, after a full run, refreshes the results block of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._results import HERE, ORDER, Result, load, merge, update_readme, write_markdown

CHILD_TIMEOUT = 900
ROOT = Path(__file__).absolute().parent.parent  # the checkout (not resolved: symlinks work)


#: Benchmarks registered after the results' ORDER was laid out (run after the others).
ADDED = ("oauth", "sync")


def available() -> list[str]:
    """The benchmarks that exist here (``emulator`` comes from ``bench_emulator.py``)."""
    names = [name for name in ORDER if name != "emulator"] + list(ADDED)
    if (HERE / "bench_emulator.py").exists():
        names.append("emulator")
    return names


def _module(name: str) -> Any:
    return importlib.import_module(f"benchmarks.{'bench_emulator' if name == 'emulator' else name}")


def _child(name: str, quick: bool, out: Path) -> None:
    module = _module(name)
    started = time.perf_counter()
    outcome = module.run(quick)
    result: Result = asyncio.run(outcome) if asyncio.iscoroutine(outcome) else outcome
    result["quick"] = quick
    result["seconds"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(result))


def _run_child(name: str, quick: bool) -> Result | None:
    with tempfile.TemporaryDirectory(prefix="icalendly-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "benchmarks", "--child", name, "--out", str(out)]
        if quick:
            command.append("--quick")
        try:
            completed = subprocess.run(command, cwd=ROOT, timeout=CHILD_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            print(f"{name}: timed out after {CHILD_TIMEOUT} s", file=sys.stderr)
            return None
        if completed.returncode != 0 or not out.exists():
            print(f"{name}: failed (exit code {completed.returncode})", file=sys.stderr)
            return None
        loaded: Result = json.loads(out.read_text())
        return loaded


def _summary(name: str, result: Result) -> None:
    print(f"{result.get('title', name)} ({result.get('seconds', 0):.0f} s)")
    for item in result.get("checks", []):
        met = item["met"]
        mark = "  " if met is None else ("ok" if met else "!!")
        target = f"  (target {item['target']})" if item["target"] else ""
        print(f"  {mark} {item['metric']}: {item['display']}{target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the icalendly_async benchmarks and write benchmarks/results/.",
    )
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these (repeat or comma-separate): {', '.join(available())}",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--no-plots", action="store_true", help="skip drawing the PNGs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        _child(args.child, args.quick, args.out)
        return 0
    names = available()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        wanted = [part.strip() for item in args.only for part in item.split(",") if part.strip()]
        unknown = [name for name in wanted if name not in names]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {names}")
        names = [name for name in names if name in wanted]

    failed = []
    started = time.perf_counter()
    for name in names:
        print(f"== {name}{' (quick)' if args.quick else ''}", file=sys.stderr, flush=True)
        result = _run_child(name, args.quick)
        if result is None:
            failed.append(name)
            continue
        everything = merge(name, result)
        if not args.no_plots:
            from ._plot import draw

            draw(name, result)
        _summary(name, result)
    everything = load()
    write_markdown(everything)
    if not args.quick and update_readme(everything):
        print("benchmarks/README.md updated", file=sys.stderr)
    print(
        f"results: benchmarks/results/latest.json, latest.md "
        f"({time.perf_counter() - started:.0f} s in all)",
        file=sys.stderr,
    )
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
