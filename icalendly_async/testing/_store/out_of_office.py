"""Out-of-office entries of the organization's users."""

from __future__ import annotations

import attrs

__all__ = ["REASONS", "OutOfOffice", "OutOfOfficeStore"]

REASONS = ("unspecified", "vacation", "travel", "sick", "public_holiday")


@attrs.define(eq=False)
class OutOfOffice:
    """One entry: ``user_id`` is away from ``start`` to ``end`` (epoch seconds);
    ``to_user_id`` covers for them."""

    id: int
    uuid: str
    user_id: int
    start: float
    end: float
    reason: str = "unspecified"
    notes: str | None = None
    to_user_id: int | None = None


class OutOfOfficeStore:
    """Every entry, by id."""

    def __init__(self) -> None:
        self.entries: dict[int, OutOfOffice] = {}
        self._next_id = 1

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def add(self, entry: OutOfOffice) -> OutOfOffice:
        self.entries[entry.id] = entry
        self._next_id = max(self._next_id, entry.id + 1)
        return entry

    def remove(self, entry: OutOfOffice) -> None:
        self.entries.pop(entry.id, None)

    def of_users(self, user_ids: set[int]) -> list[OutOfOffice]:
        """The entries of these users, by id."""
        return sorted(
            (entry for entry in self.entries.values() if entry.user_id in user_ids),
            key=lambda entry: entry.id,
        )

    def overlapping(self, user_id: int, start: float, end: float, ignore: int | None) -> bool:
        """Whether ``user_id`` already has an entry overlapping ``[start, end)``."""
        return any(
            entry.user_id == user_id
            and entry.id != ignore
            and entry.start < end
            and entry.end > start
            for entry in self.entries.values()
        )
