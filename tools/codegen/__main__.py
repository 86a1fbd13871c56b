"""``python -m tools.codegen [--check]``: regenerate (or verify) everything generated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .generate import ROOT, generate, stale_files, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.codegen", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="fail if the checked-in output is stale"
    )
    args = parser.parse_args(argv)
    result = generate()
    if args.check:
        stale = stale_files(result)
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run: python -m tools.codegen", file=sys.stderr)
            return 1
        print(f"up to date: {len(result.files)} files")
        return 0
    changed = write(result)
    for path in changed:
        print(f"wrote {Path(path).relative_to(ROOT)}")
    counts = result.repaired.counts()
    print(
        f"{len(result.spec.operations)} operations, {len(result.spec.models)} models, "
        f"{len(result.spec.enums)} enums; {sum(counts.values())} repairs "
        f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
