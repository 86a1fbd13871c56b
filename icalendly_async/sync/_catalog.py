"""The resources the source offers and its defaults (no dlt here: the CLI's help reads them)."""

from __future__ import annotations

__all__ = ["DEFAULT_CHUNK_SECONDS", "DEFAULT_LOOKBACK", "RESOURCES"]

DEFAULT_LOOKBACK = 300.0
"""Seconds re-read before the saved cursor on every run (five minutes)."""

DEFAULT_CHUNK_SECONDS = 5.0
"""Seconds of reading bookings per dlt run (see ``sync(chunk_seconds=)``)."""

RESOURCES: dict[str, str] = {
    "bookings": "your bookings, by updatedAt (cancellations arrive as status changes)",
    "event_types": "your event types",
    "schedules": "your availability schedules",
    "webhooks": "your webhook subscriptions (their signing secrets are not stored)",
    "teams": "your teams (Teams or Platform plan; the organization's on Organizations)",
    "memberships": "the memberships of those teams",
    "org_users": "the organization's users (Organizations or Platform plan)",
    "org_bookings": "the bookings of the organization's users, by updatedAt",
    "routing_forms": "the organization's routing forms",
    "routing_form_responses": "the responses to them, by update time",
    "out_of_office": "out-of-office entries of the organization's users",
    "profile": "the user of each credential (GET /v2/me)",
}
"""Every resource the source offers, with what it holds (its table has the same name)."""
