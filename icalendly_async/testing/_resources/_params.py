"""Query parameters and the ``pagination`` object (``PaginationMetaDto``)."""

from __future__ import annotations

from typing import Any

from multidict import MultiMapping

from .._envelope import ApiError

__all__ = ["integer", "list_values", "page", "pagination"]


def integer(
    query: MultiMapping[str],
    name: str,
    default: int | None,
    *,
    minimum: int,
    maximum: int | None = None,
) -> int | None:
    """The whole-number query parameter ``name`` (400 when malformed or out of range)."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ApiError(400, f"{name} must not be less than {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ApiError(400, f"{name} must not be greater than {maximum}, got {value}")
    return value


def list_values(query: MultiMapping[str], name: str) -> list[str]:
    """Every value of ``name``, repeated (``?a=x&a=y``) or comma-separated (``?a=x,y``)."""
    values: list[str] = []
    for raw in query.getall(name, ()):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def page(
    query: MultiMapping[str], *, default: int | None, maximum: int | None = None
) -> tuple[int, int | None]:
    """``(skip, take)`` of a ``take``/``skip`` list (``take`` ``None``: everything)."""
    take = integer(query, "take", default, minimum=1, maximum=maximum)
    skip = integer(query, "skip", 0, minimum=0) or 0
    return skip, take


def pagination(total: int, skip: int, take: int, returned: int) -> dict[str, Any]:
    """``PaginationMetaDto`` for a ``take``/``skip`` page."""
    total_pages = -(-total // take)
    return {
        "totalItems": total,
        "remainingItems": max(0, total - skip - returned),
        "returnedItems": returned,
        "itemsPerPage": take,
        "currentPage": skip // take + 1,
        "totalPages": total_pages,
        "hasNextPage": skip + returned < total,
        "hasPreviousPage": skip > 0,
    }
