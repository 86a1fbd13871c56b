"""Plans and the tier table: which plan may call which endpoint group.

This is the one table of ``NOTES.md`` ("Plan tiers"). The generated endpoints carry a
:class:`Tier` per operation (from its tag); raw :meth:`ICalendly.request` calls derive it from
the path, which gives the same answer for every path of the document.
"""

from __future__ import annotations

import enum
import re

__all__ = ["Plan", "Tier", "tier_for_path", "tier_for_tag"]


class Plan(enum.Enum):
    """The customer's iCalendly plan; it decides which endpoint groups may be called."""

    TEAMS = "teams"
    ORGANIZATIONS = "organizations"
    PLATFORM = "platform"


class Tier(enum.Enum):
    """The group an operation belongs to, as far as plans are concerned."""

    EVERYONE = "everyone"
    TEAMS = "teams"
    ORGANIZATIONS = "organizations"
    PLATFORM = "platform"

    _allowed: tuple[Plan, ...]  # set below from _ALLOWED

    @property
    def plans(self) -> frozenset[Plan]:
        """The plans that may call operations of this tier."""
        return _ALLOWED[self]

    def allows(self, plan: Plan | None) -> bool:
        """``True`` when ``plan`` may call this tier; ``None`` (no plan given) allows everything."""
        # A tuple searched by identity, not the frozenset: an Enum's __hash__ is Python code,
        # and every call passes this gate. Measured (client.me.get() against
        # benchmarks/_common.canned_network, callgrind): 3,200 instructions per call fewer
        # (158,300 -> 155,100).
        return plan is None or plan in self._allowed


_ALLOWED: dict[Tier, frozenset[Plan]] = {
    Tier.EVERYONE: frozenset(Plan),
    Tier.TEAMS: frozenset({Plan.TEAMS, Plan.PLATFORM}),
    Tier.ORGANIZATIONS: frozenset({Plan.ORGANIZATIONS, Plan.PLATFORM}),
    Tier.PLATFORM: frozenset({Plan.PLATFORM}),
}
for _tier, _plans in _ALLOWED.items():
    _tier._allowed = tuple(_plans)

# Tags whose tier is not given by their prefix (NOTES.md, "Applied to this document's tags").
_TAG_TIERS: dict[str, Tier] = {
    "OAuth Clients": Tier.PLATFORM,
    "Managed Orgs": Tier.PLATFORM,  # the docs' "Orgs / Orgs": child organizations are Platform-only
    "Orgs / Orgs": Tier.PLATFORM,
    "Organization Team Verified Resources": Tier.ORGANIZATIONS,
    "Teams": Tier.TEAMS,
    "Teams Verified Resources": Tier.TEAMS,
}

_TAG_PREFIX_TIERS: tuple[tuple[str, Tier], ...] = (
    ("Platform / ", Tier.PLATFORM),
    ("Orgs / ", Tier.ORGANIZATIONS),
    ("Teams / ", Tier.TEAMS),
)


def tier_for_tag(tag: str) -> Tier:
    """The tier of an operation tagged ``tag`` in the OpenAPI document."""
    if tag in _TAG_TIERS:
        return _TAG_TIERS[tag]
    for prefix, tier in _TAG_PREFIX_TIERS:
        if tag.startswith(prefix):
            return tier
    return Tier.EVERYONE


# Path rules that give the same tiers as the tags, for raw requests that carry no tag.
_PATH_TIERS: tuple[tuple[re.Pattern[str], Tier], ...] = (
    (re.compile(r"^/v2/organizations/[^/]+/organizations(/|$)"), Tier.PLATFORM),
    (re.compile(r"^/v2/organizations(/|$)"), Tier.ORGANIZATIONS),
    (re.compile(r"^/v2/oauth-clients(/|$)"), Tier.PLATFORM),
    (re.compile(r"^/v2/oauth/"), Tier.PLATFORM),
    (re.compile(r"^/v2/teams(/|$)"), Tier.TEAMS),
)


def tier_for_path(path: str) -> Tier:
    """The tier of a request path (``/v2/...``), for calls made without an operation."""
    path = path.split("?", 1)[0]
    for pattern, tier in _PATH_TIERS:
        if pattern.match(path):
            return tier
    return Tier.EVERYONE
