"""The emulator's records as the document's schemas write them (one function per schema)."""

from __future__ import annotations

from typing import Any

from ..plans import Plan
from ._store.event_types import EventType
from ._store.schedules import Schedule
from ._store.teams import Membership, Team
from ._store.users import User
from ._store.webhooks import Subscription

__all__ = [
    "booking",
    "booking_host",
    "event_type",
    "managed_user",
    "me",
    "membership",
    "membership_user",
    "org_membership",
    "org_user",
    "schedule",
    "team",
    "video_url",
    "webhook",
]

JSONObject = dict[str, Any]

PERMISSIONS = [
    "EVENT_TYPE_READ",
    "EVENT_TYPE_WRITE",
    "BOOKING_READ",
    "BOOKING_WRITE",
    "SCHEDULE_READ",
    "SCHEDULE_WRITE",
    "APPS_READ",
    "APPS_WRITE",
    "PROFILE_READ",
    "PROFILE_WRITE",
]


def me(user: User, plan: Plan | None) -> JSONObject:
    """``MeOutput``: the owner as seen on ``plan`` (no organization on Teams), or any user."""
    body: JSONObject = {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "timeFormat": user.time_format,
        "defaultScheduleId": user.default_schedule_id,
        "weekStart": user.week_start,
        "timeZone": user.time_zone,
        "organizationId": user.organization_id,
    }
    if user.client_id is not None:
        body["organization"] = {"isPlatform": True, "id": user.organization_id}
    elif plan is Plan.TEAMS or user.organization_id is None:
        body["organizationId"] = None
    else:
        body["organization"] = {"isPlatform": plan is Plan.PLATFORM, "id": user.organization_id}
    return body


def managed_user(user: User) -> JSONObject:
    """``ManagedUserOutput``."""
    return {
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "name": user.name,
        "bio": user.bio,
        "timeZone": user.time_zone,
        "weekStart": user.week_start,
        "createdDate": user.created,
        "timeFormat": user.time_format,
        "defaultScheduleId": user.default_schedule_id,
        "locale": user.locale,
        "avatarUrl": user.avatar_url,
        "metadata": user.metadata,
    }


def org_user(user: User, org_id: int, profile_id: int) -> JSONObject:
    """``GetOrgUsersWithProfileOutput``."""
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "emailVerified": user.created,
        "bio": user.bio,
        "avatarUrl": user.avatar_url,
        "timeZone": user.time_zone,
        "weekStart": user.week_start,
        "appTheme": user.app_theme,
        "theme": user.theme,
        "defaultScheduleId": user.default_schedule_id,
        "locale": user.locale,
        "timeFormat": user.time_format,
        "hideBranding": user.hide_branding,
        "brandColor": user.brand_color,
        "darkBrandColor": user.dark_brand_color,
        "allowDynamicBooking": True,
        "createdDate": user.created,
        "verified": True,
        "invitedTo": None,
        "metadata": user.metadata,
        "profile": {
            "id": profile_id,
            "organizationId": org_id,
            "userId": user.id,
            "username": user.username,
        },
    }


def membership_user(user: User | None) -> JSONObject:
    """``MembershipUserOutputDto`` (a deleted user keeps an empty email)."""
    if user is None:
        return {"email": ""}
    body: JSONObject = {"username": user.username, "name": user.name, "email": user.email}
    if user.avatar_url is not None:
        body["avatarUrl"] = user.avatar_url
    if user.bio is not None:
        body["bio"] = user.bio
    body["metadata"] = user.metadata
    return body


def membership(item: Membership, user: User | None) -> JSONObject:
    """``TeamMembershipOutput``."""
    return {
        "id": item.id,
        "userId": item.user_id,
        "teamId": item.team_id,
        "accepted": item.accepted,
        "role": item.role,
        "disableImpersonation": item.disable_impersonation,
        "user": membership_user(user),
    }


def org_membership(item: Membership, user: User | None) -> JSONObject:
    """``OrganizationMembershipOutput`` (no attributes are emulated)."""
    return {**membership(item, user), "attributes": []}


def team(item: Team) -> JSONObject:
    """``TeamOutputDto`` / ``OrgTeamOutputDto``."""
    body: JSONObject = {"id": item.id, **item.fields, "isOrganization": item.is_organization}
    if item.parent_id is not None:
        body["parentId"] = item.parent_id
    return body


def schedule(item: Schedule, default_id: int | None) -> JSONObject:
    """``ScheduleOutput_2024_06_11``."""
    return {
        "id": item.id,
        "ownerId": item.owner_id,
        "name": item.name,
        "timeZone": item.time_zone,
        "availability": [dict(window) for window in item.availability],
        "isDefault": item.id == default_id,
        "overrides": [dict(window) for window in item.overrides],
    }


_DEFAULT_FIELDS: list[JSONObject] = [
    {
        "type": "name",
        "slug": "name",
        "label": "Your name",
        "placeholder": "",
        "isDefault": True,
        "required": True,
    },
    {
        "type": "email",
        "slug": "email",
        "label": "Email address",
        "placeholder": "",
        "isDefault": True,
    },
    {
        "type": "radioInput",
        "slug": "location",
        "label": "Location",
        "isDefault": True,
        "required": False,
        "hidden": False,
    },
    {"type": "text", "slug": "title", "label": "What is this meeting about?", "isDefault": True},
    {"type": "textarea", "slug": "notes", "label": "Additional notes", "isDefault": True},
    {"type": "multiemail", "slug": "guests", "label": "Add guests", "isDefault": True},
    {
        "type": "textarea",
        "slug": "rescheduleReason",
        "label": "Reason for reschedule",
        "isDefault": True,
    },
]


DEFAULT_FIELD_SLUGS = frozenset(str(field["slug"]) for field in _DEFAULT_FIELDS)
#: The default fields an input names by their type alone (``NameDefaultFieldInput``, ...).
DEFAULT_FIELD_TYPES = {"name": "name", "email": "email"}
#: What a customization of a default field may not change.
_DEFAULT_FIELD_FIXED = frozenset({"type", "slug", "isDefault"})


def _booking_fields(custom: list[JSONObject] | None) -> list[JSONObject]:
    """The default fields (with their customizations), then the event type's own."""
    by_slug = {str(field.get("slug")): field for field in custom or ()}
    fields = [
        {
            **field,
            **{
                key: value
                for key, value in by_slug.get(str(field["slug"]), {}).items()
                if key not in _DEFAULT_FIELD_FIXED
            },
        }
        for field in _DEFAULT_FIELDS
    ]
    return fields + [dict(f) for f in custom or () if f.get("slug") not in DEFAULT_FIELD_SLUGS]


def event_type(item: EventType, owner: User | None) -> JSONObject:
    """``EventTypeOutput_2024_06_14``."""
    body: JSONObject = {
        "id": item.id,
        "lengthInMinutes": item.length,
        "title": item.title,
        "slug": item.slug,
        "description": item.description,
        "locations": [dict(location) for location in item.locations],
        "bookingFields": _booking_fields(item.booking_fields),
        "disableGuests": False,
        "slotInterval": item.slot_interval,
        "minimumBookingNotice": item.minimum_booking_notice,
        "beforeEventBuffer": item.before_buffer,
        "afterEventBuffer": item.after_buffer,
        "recurrence": None,
        "metadata": {},
        "price": 0,
        "currency": "usd",
        "lockTimeZoneToggleOnBookingPage": False,
        "seatsPerTimeSlot": None,
        "forwardParamsSuccessRedirect": None,
        "successRedirectUrl": None,
        "isInstantEvent": False,
        "scheduleId": item.schedule_id,
        "hidden": item.hidden,
        "bookingRequiresAuthentication": False,
        "ownerId": item.owner_id,
        "users": [owner.username] if owner is not None else [],
    }
    if item.length_options:
        body["lengthInMinutesOptions"] = list(item.length_options)
    if item.requires_confirmation:
        body["confirmationPolicy"] = {"type": "always", "blockUnconfirmedBookingsInBooker": True}
    body.update(item.extra)
    return body


def webhook(item: Subscription) -> JSONObject:
    """``UserWebhookOutputDto`` and its siblings (the owner field names the scope)."""
    body: JSONObject = {
        "id": item.id,
        item.scope.value: item.owner,
        "payloadTemplate": item.payload_template,
        "triggers": list(item.triggers),
        "subscriberUrl": item.subscriber_url,
        "active": item.active,
    }
    if item.secret is not None:
        body["secret"] = item.secret
    return body


def booking_host(user: User) -> JSONObject:
    """``BookingHost``."""
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "username": user.username,
        "timeZone": user.time_zone,
    }


def video_url(uid: str) -> str:
    """The emulated video link of a booking."""
    return f"https://app.icalendly.com/video/{uid}"


def booking(
    *,
    booking_id: int,
    uid: str,
    title: str,
    host: JSONObject,
    status: str,
    start: str,
    end: str,
    minutes: int,
    event_type_id: int,
    event_type_slug: str,
    created: str,
    attendee: JSONObject,
    guests: list[str],
    responses: JSONObject,
    location: str | None = None,
    description: str = "",
    metadata: JSONObject | None = None,
) -> JSONObject:
    """``BookingOutput_2024_08_13``."""
    where = location if location is not None else video_url(uid)
    return {
        "id": booking_id,
        "uid": uid,
        "title": title,
        "description": description,
        "hosts": [host],
        "status": status,
        "start": start,
        "end": end,
        "duration": minutes,
        "eventTypeId": event_type_id,
        "eventType": {"id": event_type_id, "slug": event_type_slug},
        "meetingUrl": where,
        "location": where,
        "absentHost": False,
        "createdAt": created,
        "updatedAt": created,
        "metadata": metadata if metadata is not None else {},
        "icsUid": f"{uid}@icalendly.com",
        "attendees": [attendee],
        "guests": guests,
        "bookingFieldsResponses": responses,
    }
