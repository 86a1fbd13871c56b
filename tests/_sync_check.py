"""Comparing a synced table with the emulator's store, row by row and field by field.

The expected rows are the emulator's JSON normalised the way dlt documents it: names in
snake_case, nested objects flattened into ``parent__child`` columns, lists into child tables
``<table>__<field>`` (rows of objects, or a ``value`` column for scalars) linked by
``_dlt_parent_id`` and ordered by ``_dlt_list_idx``. Timestamps compare as instants.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
from dlt.common.normalizers.naming.snake_case import NamingConvention

__all__ = ["Fetch", "assert_table_matches", "duckdb_fetch", "flatten", "postgres_fetch"]

Fetch = Callable[[str], list[dict[str, Any]]]
"""Runs a query, returns its rows as dicts (column name -> value)."""

_NAMES = NamingConvention()


def duckdb_fetch(path: Path) -> Fetch:
    """Queries on the DuckDB file ``path`` (read-only; the sync must not be running)."""

    def fetch(sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(path), read_only=True) as db:
            cursor = db.execute(sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return fetch


def postgres_fetch(url: str) -> Fetch:
    """Queries on the PostgreSQL database ``url``."""

    def fetch(sql: str) -> list[dict[str, Any]]:
        with contextlib.closing(psycopg2.connect(url)) as db, db.cursor() as cursor:
            cursor.execute(sql)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return fetch


def _name(key: str) -> str:
    return _NAMES.normalize_identifier(key)


def flatten(
    row: Mapping[str, Any], prefix: str = ""
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """``row``'s scalar columns and its lists (by child-table suffix), as dlt lays them out."""
    scalars: dict[str, Any] = {}
    lists: dict[str, list[Any]] = {}
    for key, value in row.items():
        column = prefix + _name(key)
        if isinstance(value, dict):
            inner, nested = flatten(value, column + "__")
            scalars.update(inner)
            lists.update(nested)
        elif isinstance(value, list):
            lists[column] = value
        else:
            scalars[column] = value
    return scalars, lists


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def _same(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    moment = _instant(actual)
    if moment is not None:
        return _instant(expected) == moment
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(expected) == bool(actual) and type(expected) is type(actual)
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return float(expected) == float(actual)
    return bool(expected == actual)


def _compare(
    where: str, expected: Mapping[str, Any], actual: Mapping[str, Any], problems: list[str]
) -> None:
    columns = {column for column in actual if not column.startswith("_dlt")}
    for column in sorted(columns | set(expected)):
        want = expected.get(column)
        if column not in columns:
            if want is not None:  # a column never created can only hold nulls
                problems.append(f"{where}: column {column} is missing (expected {want!r})")
            continue
        if not _same(want, actual[column]):
            problems.append(f"{where}.{column}: expected {want!r}, got {actual[column]!r}")


def assert_table_matches(
    fetch: Fetch,
    table: str,
    expected_rows: Iterable[Mapping[str, Any]],
    *,
    key: str,
    children: Iterable[str] = (),
    dataset: str = "icalendly_dataset",
) -> int:
    """Assert that ``dataset.table`` holds exactly ``expected_rows`` (one row per ``key``, every
    scalar equal, and the lists named in ``children`` equal in their child tables); returns the
    number of rows."""
    expected = {str(row[key]): row for row in expected_rows}
    actual_rows = fetch(f"SELECT * FROM {dataset}.{table}")
    column = _name(key)
    actual = {str(row[column]): row for row in actual_rows}
    assert len(actual) == len(actual_rows), f"{table}: a key is stored more than once"
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing and not extra, (
        f"{table}: {len(missing)} row(s) missing (e.g. {missing[:3]}), "
        f"{len(extra)} row(s) that the server does not have (e.g. {extra[:3]})"
    )
    by_id = {row["_dlt_id"]: uid for uid, row in actual.items()}
    tables = {
        row["table_name"]
        for row in fetch(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{dataset}'"
        )
    }
    child_rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for child in children:
        grouped: dict[str, list[dict[str, Any]]] = {}
        child_table = f"{table}__{_name(child)}"
        stored = fetch(f"SELECT * FROM {dataset}.{child_table}") if child_table in tables else []
        for row in stored:
            grouped.setdefault(by_id.get(row["_dlt_parent_id"], "?"), []).append(row)
        assert "?" not in grouped, f"{table}__{child}: rows whose parent is not in {table}"
        child_rows[child] = grouped
    problems: list[str] = []
    for uid, wanted in expected.items():
        scalars, lists = flatten(wanted)
        _compare(f"{table}[{uid}]", scalars, actual[uid], problems)
        for child in children:
            want = lists.get(_name(child), [])
            got = sorted(child_rows[child].get(uid, []), key=lambda item: item["_dlt_list_idx"])
            if len(want) != len(got):
                problems.append(f"{table}[{uid}].{child}: {len(want)} item(s), got {len(got)}")
                continue
            for index, (item, kept) in enumerate(zip(want, got, strict=True)):
                flat = flatten(item)[0] if isinstance(item, dict) else {"value": item}
                _compare(f"{table}[{uid}].{child}[{index}]", flat, kept, problems)
    assert not problems, f"{len(problems)} difference(s):\n" + "\n".join(problems[:20])
    return len(actual)
