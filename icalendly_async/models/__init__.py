"""The models of the iCalendly API.

Every generated model and enum is importable from here (``from icalendly_async.models import
Booking``); each is loaded from its module on first access, so importing this package costs
nothing until a model is used. The modules follow the API's groups
(``icalendly_async.models._generated.bookings``, ``.event_types``, ...).

- Models are read-only, with snake_case attributes for the camelCase JSON names;
  ``to_dict()`` gives the JSON, ``Model.from_dict(data)`` decodes it, ``replace(**changes)``
  makes a changed copy, ``extra`` holds fields the document does not declare.
- A field the server did not send is :data:`UNSET` (falsy: ``if booking.rating:`` narrows it
  away for type checkers); one it sent as ``null`` is ``None``.
- Enums (:class:`OpenStrEnum`) accept values they do not know: ``.is_known`` tells.
- Where the document allows several shapes, the method returns their common base class
  (:class:`Booking` for the booking shapes), and a list of them where the service may answer
  with one (:class:`Series`: a recurring booking's occurrences) reads like its first element.
- A model decoded from a response has it in ``.raw_response`` (status, headers, request id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _generated
from ._base import UNSET, Model, OpenIntEnum, OpenStrEnum, Series, Unset
from .converter import parse_datetime

if TYPE_CHECKING:
    from ._generated import *  # noqa: F403 - the generated names, for type checkers

__all__ = [
    "UNSET",
    "Model",
    "OpenIntEnum",
    "OpenStrEnum",
    "Series",
    "Unset",
    "parse_datetime",
    *_generated.__all__,
]


def __getattr__(name: str) -> Any:
    return getattr(_generated, name)


def __dir__() -> list[str]:
    return sorted(__all__)
