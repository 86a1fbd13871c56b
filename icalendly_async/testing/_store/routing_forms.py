"""Routing forms of the organization and its teams, and the responses people submitted.

A response's ``updated`` moves when it is changed (``PATCH``); the document's
``RoutingFormResponseOutput`` does not carry it, but the list filters ``afterUpdatedAt`` and
``beforeUpdatedAt`` and the order ``sortUpdatedAt`` read it, as the service's do.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["FormResponse", "RoutingForm", "RoutingFormStore"]

JSONObject = dict[str, Any]


@attrs.define(eq=False)
class RoutingForm:
    """A form: ``team_id`` ``None`` for one of the organization itself."""

    id: str
    org_id: int
    name: str
    user_id: int
    created: float
    updated: float
    team_id: int | None = None
    description: str | None = None
    position: int = 0
    disabled: bool = False
    settings: JSONObject | None = None


@attrs.define(eq=False)
class FormResponse:
    """One submission of a form: ``response`` maps field ids to ``{"label", "value"}``."""

    id: int
    form_id: str
    filler_id: str
    routed_to: str
    response: JSONObject
    created: float
    updated: float


class RoutingFormStore:
    """Every form and response."""

    def __init__(self) -> None:
        self.forms: dict[str, RoutingForm] = {}
        self.responses: dict[int, FormResponse] = {}
        self._by_form: dict[str, list[FormResponse]] = {}
        self._next_response = 1

    def add_form(self, form: RoutingForm) -> RoutingForm:
        self.forms[form.id] = form
        self._by_form.setdefault(form.id, [])
        return form

    def of_org(self, org_id: int) -> list[RoutingForm]:
        """The forms of the organization and of its teams, by position then creation."""
        found = [form for form in self.forms.values() if form.org_id == org_id]
        return sorted(found, key=lambda form: (form.position, form.created, form.id))

    def add_response(
        self,
        form: RoutingForm,
        *,
        filler_id: str,
        routed_to: str,
        response: JSONObject,
        moment: float,
    ) -> FormResponse:
        """A new response to ``form`` submitted at ``moment``."""
        row = FormResponse(
            self._next_response, form.id, filler_id, routed_to, response, moment, moment
        )
        self._next_response += 1
        self.responses[row.id] = row
        self._by_form.setdefault(form.id, []).append(row)
        return row

    def responses_of(self, form_id: str) -> list[FormResponse]:
        """The responses to a form, in the order they were submitted (do not modify)."""
        return self._by_form.get(form_id, [])

    @staticmethod
    def update_response(row: FormResponse, response: JSONObject, moment: float) -> None:
        """Merge ``response`` into the row's fields, stamped ``moment``."""
        row.response = {**row.response, **response}
        row.updated = moment
