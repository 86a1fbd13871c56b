"""Event types (``cal-api-version: 2024-06-14``): create, list, get, update, delete.

What the emulator honours: ``lengthInMinutes`` (and ``lengthInMinutesOptions``), ``slotInterval``,
``minimumBookingNotice``, ``before``/``afterEventBuffer``, ``scheduleId``, ``confirmationPolicy``
(bookings start ``pending``), ``hidden``, ``locations``, ``bookingFields``; a few settings are kept
and sent back as given. Recurring and seated event types are refused (400): not emulated.

``GET /v2/event-types`` lists the caller's event types, or with ``username`` that user's visible
ones (``eventSlug`` picks one); it is public with ``username``.
"""

from __future__ import annotations

from typing import Any

from .. import _views
from .._context import Context
from .._envelope import ApiError, Reply, success
from .._store.event_types import CAL_VIDEO, EventType
from ._body import Body, path_id, read_body

__all__ = [
    "create_event_type",
    "delete_event_type",
    "get_event_type",
    "list_event_types",
    "update_event_type",
]

_BOOLEANS = (
    "disableGuests",
    "requiresBookerEmailVerification",
    "hideCalendarNotes",
    "lockTimeZoneToggleOnBookingPage",
    "hideCalendarEventDetails",
    "hideOrganizerEmail",
    "useDestinationCalendarEmail",
    "onlyShowFirstAvailableSlot",
    "bookingRequiresAuthentication",
)
_OBJECTS = ("color", "bookerLayouts", "calVideoSettings")
_LOCATION_FIELDS = {
    "integration": ("integration",),
    "link": ("link", "public"),
    "address": ("address", "public"),
    "phone": ("phone", "public"),
}


def _locations(body: Body) -> list[dict[str, Any]] | None:
    items = body.objects("locations")
    if items is None:
        return None
    found = []
    for item in items:
        kind = item.choice("type", tuple(_LOCATION_FIELDS), required=True)
        location: dict[str, Any] = {"type": kind}
        for name in _LOCATION_FIELDS[kind]:
            value = item.boolean(name) if name == "public" else item.string(name, required=True)
            location[name] = value if value is not None else False
        found.append(location)
    return found or [dict(CAL_VIDEO)]


def _booking_fields(body: Body) -> list[dict[str, Any]] | None:
    items = body.objects("bookingFields")
    if items is None:
        return None
    fields = []
    for item in items:
        # A default field is named by its slug, or (name, email) by its type alone.
        slug = item.string("slug") or _views.DEFAULT_FIELD_TYPES.get(str(item.raw.get("type")))
        if slug in _views.DEFAULT_FIELD_SLUGS:
            fields.append({**item.raw, "slug": slug, "isDefault": True})  # a customization
            continue
        item.string("type", required=True)
        fields.append({**item.raw, "isDefault": False})
    return fields


def _lengths(body: Body, length: int) -> list[int] | None:
    raw = body.items("lengthInMinutesOptions")
    if raw is None:
        return None
    try:
        options = sorted({int(value) for value in raw})
    except (TypeError, ValueError):
        raise ApiError(400, "lengthInMinutesOptions must be whole numbers of minutes") from None
    if length not in options:
        raise ApiError(400, "lengthInMinutesOptions must include lengthInMinutes")
    return options


def _apply(ctx: Context, event_type: EventType, body: Body) -> None:
    """Apply the fields of a create or update body to ``event_type``."""
    data = ctx.state.data
    for name in ("recurrence", "seats"):
        value = body.obj(name)
        if value is not None and not value.raw.get("disabled"):
            raise ApiError(400, f"{name}: recurring and seated event types are not emulated")
    length = body.integer("lengthInMinutes", minimum=1)
    if length is not None:
        event_type.length = length
    options = _lengths(body, event_type.length)
    if options is not None:
        event_type.length_options = options
    title = body.string("title")
    if title is not None:
        event_type.title = title
    slug = body.string("slug")
    if slug is not None and slug != event_type.slug:
        if data.event_types.by_slug(event_type.owner_id, slug) is not None:
            raise ApiError(409, f"You already have an event type with the slug {slug!r}")
        event_type.slug = slug
    description = body.string("description", empty=True)
    if description is not None:
        event_type.description = description
    for name, attribute in (
        ("slotInterval", "slot_interval"),
        ("minimumBookingNotice", "minimum_booking_notice"),
        ("beforeEventBuffer", "before_buffer"),
        ("afterEventBuffer", "after_buffer"),
    ):
        minutes = body.integer(name, minimum=0)
        if minutes is not None:
            setattr(event_type, attribute, minutes or (None if name == "slotInterval" else 0))
    schedule_id = body.integer("scheduleId", minimum=1)
    if schedule_id is not None:
        schedule = data.schedules.by_id.get(schedule_id)
        if schedule is None or schedule.owner_id != event_type.owner_id:
            raise ApiError(
                400, f"scheduleId {schedule_id} is not a schedule of the event type's owner"
            )
        event_type.schedule_id = schedule_id
    policy = body.obj("confirmationPolicy")
    if policy is not None:
        if policy.raw.get("disabled"):
            event_type.requires_confirmation = False
            event_type.extra.pop("confirmationPolicy", None)
        else:
            policy.choice("type", ("always", "time"), required=True)
            event_type.requires_confirmation = True
            event_type.extra["confirmationPolicy"] = {
                "blockUnconfirmedBookingsInBooker": False,
                **policy.raw,
            }
    hidden = body.boolean("hidden")
    if hidden is not None:
        event_type.hidden = hidden
    locations = _locations(body)
    if locations is not None:
        event_type.locations = locations
    fields = _booking_fields(body)
    if fields is not None:
        event_type.booking_fields = fields
    for name in _BOOLEANS:
        flag = body.boolean(name)
        if flag is not None:
            event_type.extra[name] = flag
    for name in _OBJECTS:
        value = body.obj(name)
        if value is not None:
            event_type.extra[name] = dict(value.raw)
    custom_name = body.string("customName", empty=True)
    if custom_name is not None:
        event_type.extra["customName"] = custom_name


def _json(ctx: Context, event_type: EventType) -> dict[str, Any]:
    return _views.event_type(event_type, ctx.state.data.users.get(event_type.owner_id))


def _owned(ctx: Context) -> EventType:
    event_type_id = path_id(ctx, "eventTypeId")
    found = ctx.state.data.event_types.by_id.get(event_type_id)
    if found is None:
        raise ApiError(404, f"Event type with id={event_type_id} was not found")
    if found.owner_id != ctx.require_user().id:
        raise ApiError(403, f"Event type {event_type_id} is not yours")
    return found


async def create_event_type(ctx: Context) -> Reply:
    """A new event type of the caller (201)."""
    user = ctx.require_user()
    body = await read_body(ctx)
    data = ctx.state.data
    length = body.integer("lengthInMinutes", required=True, minimum=1)
    title = body.string("title", required=True)
    slug = body.string("slug", required=True)
    assert length is not None and title is not None and slug is not None
    if data.event_types.by_slug(user.id, slug) is not None:
        raise ApiError(409, f"You already have an event type with the slug {slug!r}")
    event_type = EventType(data.event_types.new_id(), user.id, title, slug, length)
    _apply(ctx, event_type, body)
    data.event_types.add(event_type)
    return success(_json(ctx, event_type), status=201)


async def list_event_types(ctx: Context) -> Reply:
    """The caller's event types, or a user's visible ones."""
    query = ctx.request.query
    data = ctx.state.data
    if query.get("usernames"):
        raise ApiError(404, "Dynamic event types (usernames=) are not emulated")
    username = query.get("username")
    if username:
        owner = data.users.by_username(username)
        if owner is None:
            raise ApiError(404, f"User {username!r} was not found")
        found = [item for item in data.event_types.of(owner.id) if not item.hidden]
        slug = query.get("eventSlug")
        if slug:
            found = [item for item in found if item.slug == slug]
    elif query.get("eventSlug"):
        raise ApiError(400, "eventSlug needs username")
    else:
        found = data.event_types.of(ctx.require_user().id)
    return success([_json(ctx, item) for item in found])


async def get_event_type(ctx: Context) -> Reply:
    """One of the caller's event types."""
    return success(_json(ctx, _owned(ctx)))


async def update_event_type(ctx: Context) -> Reply:
    """Change one of the caller's event types."""
    event_type = _owned(ctx)
    _apply(ctx, event_type, await read_body(ctx))
    return success(_json(ctx, event_type))


async def delete_event_type(ctx: Context) -> Reply:
    """Delete one of the caller's event types (its bookings stay)."""
    event_type = _owned(ctx)
    ctx.state.data.event_types.remove(event_type)
    return success(
        {
            "id": event_type.id,
            "lengthInMinutes": event_type.length,
            "title": event_type.title,
            "slug": event_type.slug,
        }
    )
