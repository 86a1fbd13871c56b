"""Routing forms and their responses (the Organizations tier): the organization's forms and its
teams' forms, the responses to each, and changing a response.

Lists take the document's filters: ``afterCreatedAt``/``beforeCreatedAt`` and
``afterUpdatedAt``/``beforeUpdatedAt`` (after: at or after; before: strictly before, as the
bookings list reads them), ``routedToBookingUid``, ``teamIds`` (the organization's list of
forms); order: the first of ``sortCreatedAt`` and ``sortUpdatedAt`` given (default: ascending
creation), then id; paging: ``take`` (default 100, at most 250) and ``skip``. The responses'
answers carry no ``pagination`` (the document's ``GetRoutingFormResponsesOutput`` has none): a
short page ends a walk. Only the organization's admins read them (they hold what people typed).

Submitting a response (``POST …/responses``) routes to an event type and computes its slots:
it is not emulated (501).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .._context import Context
from .._envelope import ApiError, Reply, success
from .._store.routing_forms import FormResponse, RoutingForm
from .._time import iso, now, parse_instant
from ._body import path_id, read_body
from ._params import list_values, page
from .organizations import org_of

__all__ = [
    "list_org_form_responses",
    "list_org_forms",
    "list_team_form_responses",
    "list_team_forms",
    "update_org_form_response",
    "update_team_form_response",
]

JSONObject = dict[str, Any]
Row = TypeVar("Row", RoutingForm, FormResponse)

_MAX_TAKE = 250
_BEFORE = frozenset({"beforeCreatedAt", "beforeUpdatedAt"})
_INSTANTS: dict[str, Callable[[RoutingForm | FormResponse], float]] = {
    "afterCreatedAt": lambda row: row.created,
    "beforeCreatedAt": lambda row: row.created,
    "afterUpdatedAt": lambda row: row.updated,
    "beforeUpdatedAt": lambda row: row.updated,
}
_SORTS: dict[str, Callable[[RoutingForm | FormResponse], tuple[float, str]]] = {
    "sortCreatedAt": lambda row: (row.created, str(row.id).zfill(40)),
    "sortUpdatedAt": lambda row: (row.updated, str(row.id).zfill(40)),
}


# --- views -------------------------------------------------------------------------------------


def form_view(form: RoutingForm) -> JSONObject:
    """``RoutingFormOutput``."""
    return {
        "id": form.id,
        "name": form.name,
        "description": form.description,
        "position": form.position,
        "createdAt": iso(form.created),
        "updatedAt": iso(form.updated),
        "userId": form.user_id,
        "teamId": form.team_id,
        "disabled": form.disabled,
        # The document types these as objects while the service keeps arrays in them; null is
        # what both accept until the repaired document settles their shape.
        "routes": None,
        "fields": None,
        "settings": form.settings,
    }


def response_view(row: FormResponse) -> JSONObject:
    """``RoutingFormResponseOutput``."""
    return {
        "id": row.id,
        "formId": row.form_id,
        "formFillerId": row.filler_id,
        "routedToBookingUid": row.routed_to,
        "response": row.response,
        "createdAt": iso(row.created),
    }


# --- selection ---------------------------------------------------------------------------------


def _select(ctx: Context, rows: Sequence[Row]) -> list[Row]:
    """``rows`` filtered by the time filters, ordered, one page of them."""
    query = ctx.request.query
    found = list(rows)
    for name, read in _INSTANTS.items():
        raw = query.get(name)
        if raw:
            moment = parse_instant(raw, field=name)
            found = [row for row in found if (read(row) < moment) == (name in _BEFORE)]
    order = next(((key, query[key]) for key in _SORTS if key in query), ("sortCreatedAt", "asc"))
    if order[1] not in ("asc", "desc"):
        raise ApiError(400, f"{order[0]} must be asc or desc, got {order[1]!r}")
    found.sort(key=_SORTS[order[0]], reverse=order[1] == "desc")
    skip, take = page(query, default=100, maximum=_MAX_TAKE)
    assert take is not None
    return found[skip : skip + take]


def _form(ctx: Context, org_id: int, team_id: int | None) -> RoutingForm:
    form_id = ctx.request.match_info["routingFormId"]
    form = ctx.state.data.routing_forms.forms.get(form_id)
    if form is None or form.org_id != org_id or (team_id is not None and form.team_id != team_id):
        raise ApiError(404, f"Routing form with id={form_id} was not found")
    return form


def _team_id(ctx: Context, org_id: int) -> int:
    team_id = path_id(ctx, "teamId")
    team = ctx.state.data.teams.teams.get(team_id)
    if team is None or team.parent_id != org_id:
        raise ApiError(404, f"Team with id={team_id} was not found in organization {org_id}")
    return team_id


def _routed(ctx: Context, rows: list[FormResponse]) -> list[FormResponse]:
    uid = ctx.request.query.get("routedToBookingUid")
    return [row for row in rows if row.routed_to == uid] if uid else rows


# --- handlers ----------------------------------------------------------------------------------


async def list_org_forms(ctx: Context) -> Reply:
    """The forms of the organization and of its teams (``teamIds`` narrows them to teams)."""
    org = org_of(ctx)
    forms = ctx.state.data.routing_forms.of_org(org.id)
    teams = list_values(ctx.request.query, "teamIds")
    if teams:
        if not all(value.isdigit() for value in teams):
            raise ApiError(400, "teamIds must be whole numbers separated by commas")
        wanted = {int(value) for value in teams}
        forms = [form for form in forms if form.team_id in wanted]
    return success([form_view(form) for form in _select(ctx, forms)])


async def list_team_forms(ctx: Context) -> Reply:
    """The forms of one team of the organization."""
    org = org_of(ctx)
    team_id = _team_id(ctx, org.id)
    forms = [
        form for form in ctx.state.data.routing_forms.of_org(org.id) if form.team_id == team_id
    ]
    return success([form_view(form) for form in _select(ctx, forms)])


async def list_org_form_responses(ctx: Context) -> Reply:
    """The responses to one form of the organization (its teams' forms included)."""
    org = org_of(ctx)
    form = _form(ctx, org.id, None)
    rows = _routed(ctx, ctx.state.data.routing_forms.responses_of(form.id))
    return success([response_view(row) for row in _select(ctx, rows)])


async def list_team_form_responses(ctx: Context) -> Reply:
    """The responses to one form of a team of the organization."""
    org = org_of(ctx)
    form = _form(ctx, org.id, _team_id(ctx, org.id))
    rows = _routed(ctx, ctx.state.data.routing_forms.responses_of(form.id))
    return success([response_view(row) for row in _select(ctx, rows)])


async def _update(ctx: Context, form: RoutingForm) -> Reply:
    response_id = path_id(ctx, "responseId")
    store = ctx.state.data.routing_forms
    row = store.responses.get(response_id)
    if row is None or row.form_id != form.id:
        raise ApiError(404, f"Response with id={response_id} was not found in form {form.id}")
    body = await read_body(ctx)
    answers = body.obj("response")
    if answers is not None:
        store.update_response(row, answers.raw, now())
    return success(response_view(row))


async def update_org_form_response(ctx: Context) -> Reply:
    """Change the answers of a response (merged into the old ones)."""
    org = org_of(ctx)
    return await _update(ctx, _form(ctx, org.id, None))


async def update_team_form_response(ctx: Context) -> Reply:
    """Change the answers of a response to a team's form."""
    org = org_of(ctx)
    return await _update(ctx, _form(ctx, org.id, _team_id(ctx, org.id)))
