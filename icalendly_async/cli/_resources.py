"""What ``icalendly export`` can export: resource name -> operation, path parameters, filters."""

from __future__ import annotations

import attrs

from ..endpoints import OPERATIONS, Operation

__all__ = ["FILTERS", "RESOURCES", "Cursor", "Resource", "operation_for"]


@attrs.frozen
class Cursor:
    """How a collection is walked by a time cursor rather than by offset (see
    :func:`icalendly_async.sync._walk.walk_cursor`)."""

    field: str  # the row's time, e.g. "updatedAt"
    key: str  # what breaks ties between rows stamped alike, e.g. "uid"
    after: str  # the query parameter asking for rows from a time on
    sort: str  # the query parameter ordering by that time


@attrs.frozen
class Resource:
    """One exportable collection."""

    name: str
    operation: str  # the method's dotted name, e.g. "teams.memberships.list"
    path_params: tuple[str, ...] = ()  # CLI option names, in the order the path takes them
    filters: tuple[str, ...] = ()  # CLI filter names this resource accepts (see FILTERS)
    help: str = ""
    cursor: Cursor | None = None  # None: paged by offset


# CLI filter name -> (query parameter, several values allowed)
FILTERS: dict[str, tuple[str, bool]] = {
    "status": ("status", True),
    "after-start": ("afterStart", False),
    "before-end": ("beforeEnd", False),
    "attendee-email": ("attendeeEmail", False),
    "event-type-id": ("eventTypeId", False),
    "after-created-at": ("afterCreatedAt", False),
    "before-created-at": ("beforeCreatedAt", False),
}

_BOOKING_FILTERS = tuple(FILTERS)

RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "bookings",
            "bookings.list",
            filters=_BOOKING_FILTERS,
            help="your bookings (by their updatedAt cursor)",
            cursor=Cursor("updatedAt", "uid", "afterUpdatedAt", "sortUpdatedAt"),
        ),
        Resource("event-types", "event_types.list", help="event types"),
        Resource("schedules", "schedules.list", help="availability schedules"),
        Resource("webhooks", "webhooks.list", help="webhook subscriptions"),
        Resource("teams", "teams.list", help="teams (Teams or Platform plan)"),
        Resource(
            "memberships",
            "teams.memberships.list",
            ("team-id",),
            help="a team's memberships (Teams or Platform plan)",
        ),
        Resource(
            "org-users",
            "orgs.users.list",
            ("org-id",),
            help="an organization's users (Organizations or Platform plan)",
        ),
        Resource(
            "managed-users",
            "platform.managed_users.list",
            ("client-id",),
            help="an OAuth client's managed users (Platform plan)",
        ),
    )
}

_BY_NAME = {op.python_name: op for op in OPERATIONS}


def operation_for(resource: Resource) -> Operation:
    return _BY_NAME[resource.operation]
