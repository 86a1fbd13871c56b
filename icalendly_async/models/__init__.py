"""The models of the iCalendly API and the converter that decodes them.

Every generated model and enum is importable from here (``from icalendly_async.models import
BookingOutput_2024_08_13``); each is loaded from its module on first access, so importing this
package costs nothing until a model is used.

- Models are frozen, slotted attrs classes with keyword-only, snake_case attributes.
- A field the server did not send is :data:`UNSET` (falsy); one it sent as ``null`` is ``None``.
- Enums (:class:`OpenStrEnum`) accept values they do not know: ``.is_known`` tells.
- A model decoded from a response has it in ``.raw_response`` (status, headers, request id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _generated
from ._base import Model, OpenIntEnum, OpenStrEnum
from .converter import UNSET, Unset, converter, parse_datetime

if TYPE_CHECKING:
    from ._generated import *  # noqa: F403 - the generated names, for type checkers

__all__ = [
    "UNSET",
    "Model",
    "OpenIntEnum",
    "OpenStrEnum",
    "Unset",
    "converter",
    "parse_datetime",
    *_generated.__all__,
]


def __getattr__(name: str) -> Any:
    return getattr(_generated, name)


def __dir__() -> list[str]:
    return sorted(__all__)
