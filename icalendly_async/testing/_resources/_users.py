"""Changing a user's profile (``PATCH /v2/me``, managed users, organization users)."""

from __future__ import annotations

from .._data import DataStore
from .._envelope import ApiError
from .._store.users import WEEKDAYS, User
from .._time import zone
from ._body import Body

__all__ = ["update_profile"]


def update_profile(data: DataStore, user: User, body: Body) -> None:
    """Apply the fields of ``UpdateManagedUserInput`` (and the organization user's extras)."""
    email = body.string("email")
    username = body.string("username")
    time_zone = body.string("timeZone")
    if time_zone is not None:
        zone(time_zone)
    time_format = body.choice("timeFormat", (12, 24))
    week_start = body.choice("weekStart", WEEKDAYS)
    schedule_id = body.integer("defaultScheduleId", minimum=1)
    if schedule_id is not None:
        schedule = data.schedules.by_id.get(schedule_id)
        if schedule is None or schedule.owner_id != user.id:
            raise ApiError(400, f"defaultScheduleId {schedule_id} is not a schedule of this user")
    metadata = body.obj("metadata")
    name = body.string("name")
    locale = body.string("locale")
    present_bio, bio = body.nullable_string("bio")
    present_avatar, avatar = body.nullable_string("avatarUrl")
    hide_branding = body.boolean("hideBranding")
    if email is not None or username is not None:
        data.users.rename(user, email=email, username=username)
    if name is not None:
        user.name = name
    if time_zone is not None:
        user.time_zone = time_zone
    if time_format is not None:
        user.time_format = time_format
    if week_start is not None:
        user.week_start = week_start
    if schedule_id is not None:
        user.default_schedule_id = schedule_id
    if locale is not None:
        user.locale = locale
    if present_bio:
        user.bio = bio
    if present_avatar:
        user.avatar_url = avatar
    if metadata is not None:
        user.metadata = dict(metadata.raw)
    if hide_branding is not None:
        user.hide_branding = hide_branding
