"""The API's operations and the endpoint groups of the client.

``OPERATIONS`` holds one :class:`Operation` per operation of the OpenAPI document (method,
path, tag, tier, ``cal-api-version``, pagination, ``python_name``: the dotted path of its
method from the client, such as ``"orgs.teams.memberships.list"``, and ``params``: a
:class:`Param` per argument of the method, with its wire name, location and type). The
groups themselves are generated (``endpoints/_generated``) and reached as attributes of the
client.
"""

from __future__ import annotations

from ._base import capture_responses
from ._generated import OPERATIONS, GeneratedGroups
from ._operation import AuthRequirement, Operation, PaginationStyle, Param

__all__ = [
    "OPERATIONS",
    "AuthRequirement",
    "GeneratedGroups",
    "Operation",
    "PaginationStyle",
    "Param",
    "capture_responses",
]
