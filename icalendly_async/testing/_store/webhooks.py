"""Webhook subscriptions, of a user, an event type, an organization or an OAuth client."""

from __future__ import annotations

import enum

import attrs

__all__ = ["Scope", "Subscription", "SubscriptionStore"]


class Scope(enum.Enum):
    """Whose bookings a subscription hears about."""

    USER = "userId"
    EVENT_TYPE = "eventTypeId"
    ORGANIZATION = "teamId"  # the organization's webhooks are its team's
    OAUTH_CLIENT = "oAuthClientId"


@attrs.define(eq=False)
class Subscription:
    """One webhook subscription. ``owner`` is the user id, event type id, organization id or
    OAuth client id of its :class:`Scope`."""

    id: int
    scope: Scope
    owner: int | str
    subscriber_url: str
    triggers: list[str]
    active: bool = True
    payload_template: str | None = None
    secret: str | None = attrs.field(default=None, repr=False)


class SubscriptionStore:
    """Every subscription, by id."""

    def __init__(self) -> None:
        self.by_id: dict[int, Subscription] = {}
        self._next_id = 1

    def add(
        self,
        scope: Scope,
        owner: int | str,
        subscriber_url: str,
        triggers: list[str],
        *,
        active: bool = True,
        payload_template: str | None = None,
        secret: str | None = None,
    ) -> Subscription:
        """A new subscription."""
        subscription = Subscription(
            self._next_id, scope, owner, subscriber_url, triggers, active, payload_template, secret
        )
        self._next_id += 1
        self.by_id[subscription.id] = subscription
        return subscription

    def of(self, scope: Scope, owner: int | str) -> list[Subscription]:
        """The subscriptions of one owner, by id."""
        return [item for item in self.by_id.values() if item.scope is scope and item.owner == owner]

    def listening(
        self, trigger: str, owners: dict[Scope, tuple[int | str, ...]]
    ) -> list[Subscription]:
        """The active subscriptions to ``trigger`` of any of ``owners``, by id."""
        return [
            item
            for item in self.by_id.values()
            if item.active and trigger in item.triggers and item.owner in owners.get(item.scope, ())
        ]

    def remove(self, subscription: Subscription) -> None:
        """Forget ``subscription``."""
        self.by_id.pop(subscription.id, None)
