"""Record writers: JSON Lines or CSV, appending whole records and reporting the file size."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

__all__ = ["RecordWriter", "format_for"]


def format_for(path: str) -> str:
    """``csv`` for ``*.csv``, otherwise ``jsonl``."""
    return "csv" if path.lower().endswith(".csv") else "jsonl"


class RecordWriter:
    """Appends records to an open binary file; :meth:`commit` makes them durable.

    CSV columns are the first record's top-level keys; later keys that are not among them go,
    as JSON, into a last ``_extra`` column. Nested values are written as JSON.
    """

    def __init__(self, file: IO[bytes], fmt: str, columns: Sequence[str] | None = None) -> None:
        self._file = file
        self._fmt = fmt
        self.columns: list[str] | None = list(columns) if columns is not None else None

    def write(self, records: Sequence[Any]) -> None:
        if not records:
            return
        if self._fmt == "jsonl":
            chunk = "".join(
                json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records
            )
            self._file.write(chunk.encode())
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if self.columns is None:
            first = records[0]
            self.columns = list(first) if isinstance(first, Mapping) else ["value"]
            writer.writerow([*self.columns, "_extra"])
        for record in records:
            writer.writerow(self._row(record))
        self._file.write(buffer.getvalue().encode())

    def _row(self, record: Any) -> list[str]:
        assert self.columns is not None
        if not isinstance(record, Mapping):
            return [_cell(record), ""]
        extra = {k: v for k, v in record.items() if k not in self.columns}
        cells = [_cell(record.get(column)) for column in self.columns]
        return [*cells, json.dumps(extra, ensure_ascii=False) if extra else ""]

    def commit(self) -> int:
        """Flush and fsync; returns the file's size (the checkpoint's resume point)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
