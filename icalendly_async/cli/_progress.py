"""A progress bar on standard error: tqdm when installed and stderr is a terminal."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

__all__ = ["Progress"]


class Progress:
    """``with Progress(quiet) as bar: bar.update(done, total)``."""

    def __init__(self, quiet: bool, unit: str = "records", desc: str = "") -> None:
        self._bar: Any = None
        if quiet or not sys.stderr.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=None, unit=f" {unit}", desc=desc, file=sys.stderr, leave=True)

    def update(self, done: int, total: int | None) -> None:
        if self._bar is None:
            return
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()
