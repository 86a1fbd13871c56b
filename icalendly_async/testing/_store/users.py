"""Users: the account owner, the organization's users, the platform's managed users."""

from __future__ import annotations

from typing import Any

import attrs

from .._envelope import ApiError

__all__ = ["User", "UserStore"]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@attrs.define(eq=False)
class User:
    """One user. ``client_id``: the OAuth client of a managed user; ``organization_id``: the
    organization the user belongs to."""

    id: int
    email: str
    username: str
    name: str
    time_zone: str
    created: str
    week_start: str = "Monday"
    time_format: int = 24
    locale: str = "en"
    bio: str | None = None
    avatar_url: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict)
    default_schedule_id: int | None = None
    organization_id: int | None = None
    client_id: str | None = None
    brand_color: str | None = None
    dark_brand_color: str | None = None
    theme: str | None = None
    app_theme: str | None = None
    hide_branding: bool = False


class UserStore:
    """Every user, by id, email and username."""

    def __init__(self) -> None:
        self.by_id: dict[int, User] = {}
        self._by_email: dict[str, User] = {}
        self._by_username: dict[str, User] = {}
        self._next_id = 2

    def __len__(self) -> int:
        return len(self.by_id)

    def new_id(self) -> int:
        """An unused user id."""
        while self._next_id in self.by_id:
            self._next_id += 1
        self._next_id += 1
        return self._next_id - 1

    def add(self, user: User) -> User:
        """Store ``user``; 409 when its email or username is taken."""
        self.check_free(user.email, user.username)
        self.by_id[user.id] = user
        self._by_email[user.email.lower()] = user
        self._by_username[user.username.lower()] = user
        return user

    def check_free(
        self, email: str | None, username: str | None, *, but: User | None = None
    ) -> None:
        """409 when ``email`` or ``username`` belongs to a user other than ``but``."""
        if email is not None:
            owner = self._by_email.get(email.lower())
            if owner is not None and owner is not but:
                raise ApiError(409, f"A user with email {email} already exists")
        if username is not None:
            owner = self._by_username.get(username.lower())
            if owner is not None and owner is not but:
                raise ApiError(409, f"A user with username {username} already exists")

    def rename(self, user: User, *, email: str | None = None, username: str | None = None) -> None:
        """Change the email and/or username of ``user`` (409 when taken)."""
        self.check_free(email, username, but=user)
        if email is not None:
            del self._by_email[user.email.lower()]
            user.email = email
            self._by_email[email.lower()] = user
        if username is not None:
            del self._by_username[user.username.lower()]
            user.username = username
            self._by_username[username.lower()] = user

    def remove(self, user: User) -> None:
        """Forget ``user``."""
        self.by_id.pop(user.id, None)
        self._by_email.pop(user.email.lower(), None)
        self._by_username.pop(user.username.lower(), None)

    def get(self, user_id: int) -> User | None:
        """The user with ``user_id``."""
        return self.by_id.get(user_id)

    def by_username(self, username: str) -> User | None:
        """The user called ``username`` (case-insensitive)."""
        return self._by_username.get(username.lower())

    def by_email(self, email: str) -> User | None:
        """The user with ``email`` (case-insensitive)."""
        return self._by_email.get(email.lower())
