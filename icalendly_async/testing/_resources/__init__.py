"""The emulated operations, one module per endpoint group; :data:`ROUTES` lists them all.

Each route names the document's operation it serves; every other operation of the document
answers 501 (see :mod:`.._routes`). ``PUBLIC`` marks what the service serves without
credentials (a booker's calls and the slots); a credential sent there is still checked.
"""

from __future__ import annotations

from ...plans import tier_for_path
from .._auth import AuthKind
from .._context import Context, Handler, RouteSpec
from .._envelope import ApiError, Reply
from .._store.webhooks import Scope
from . import (
    bookings,
    event_types,
    me,
    oauth,
    oauth_clients,
    oauth_flow,
    organizations,
    out_of_office,
    routing_forms,
    schedules,
    slots,
    teams,
    webhooks,
)

__all__ = ["NOT_FOUND", "ROUTES"]

PUBLIC = AuthKind.PUBLIC
PLATFORM = AuthKind.PLATFORM_CLIENT


async def _not_found(ctx: Context) -> Reply:
    request = ctx.request
    raise ApiError(404, f"Cannot {request.method} {request.path}")


def _route(
    operation_id: str, method: str, path: str, handler: Handler, auth: AuthKind = AuthKind.ANY
) -> RouteSpec:
    return RouteSpec(method, path, handler, auth, tier_for_path(path), operation_id)


def _webhook_routes(scope: Scope, prefix: str, base: str, *, many: bool) -> list[RouteSpec]:
    handlers = webhooks.HANDLERS[scope]
    auth = PLATFORM if scope is Scope.OAUTH_CLIENT else AuthKind.ANY
    one = f"{base}/{{webhookId}}"
    names = {
        "create": ("POST", base),
        "list": ("GET", base),
        "get": ("GET", one),
        "update": ("PATCH", one),
        "delete": ("DELETE", one),
    }
    if many:
        names["delete_all"] = ("DELETE", base)
    return [
        _route(f"{prefix}{suffix}", method, path, handlers[name], auth)
        for name, (method, path) in names.items()
        for suffix in [_WEBHOOK_SUFFIXES[scope][name]]
    ]


_WEBHOOK_SUFFIXES: dict[Scope, dict[str, str]] = {
    Scope.USER: {
        "create": "createWebhook",
        "list": "getWebhooks",
        "get": "getWebhook",
        "update": "updateWebhook",
        "delete": "deleteWebhook",
    },
    Scope.EVENT_TYPE: {
        "create": "createEventTypeWebhook",
        "list": "getEventTypeWebhooks",
        "get": "getEventTypeWebhook",
        "update": "updateEventTypeWebhook",
        "delete": "deleteEventTypeWebhook",
        "delete_all": "deleteAllEventTypeWebhooks",
    },
    Scope.ORGANIZATION: {
        "create": "createOrganizationWebhook",
        "list": "getAllOrganizationWebhooks",
        "get": "getOrganizationWebhook",
        "update": "updateOrgWebhook",
        "delete": "deleteWebhook",
    },
    Scope.OAUTH_CLIENT: {
        "create": "createOAuthClientWebhook",
        "list": "getOAuthClientWebhooks",
        "get": "getOAuthClientWebhook",
        "update": "updateOAuthClientWebhook",
        "delete": "deleteOAuthClientWebhook",
        "delete_all": "deleteAllOAuthClientWebhooks",
    },
}

_B = "BookingsController_2024_08_13_"
_ET = "EventTypesController_2024_06_14_"
_S = "SchedulesController_2024_06_11_"
_SL = "SlotsController_2024_09_04_"
_OS = "OrganizationsSchedulesController_"
_OT = "OrganizationsTeamsController_"
_OTM = "OrganizationsTeamsMembershipsController_"
_OM = "OrganizationsMembershipsController_"
_OU = "OrganizationsUsersController_"
_TM = "TeamsMembershipsController_"
_MU = "OAuthClientUsersController_"
_RF = "OrganizationsRoutingFormsController_"
_RFR = "OrganizationsRoutingFormsResponsesController_"
_TRF = "OrganizationsTeamsRoutingFormsController_"
_TRFR = "OrganizationsTeamsRoutingFormsResponsesController_"
_OOO = "OrganizationsUsersOOOController_"
_OC = "OAuthClientsController_"

_BOOKING = "/v2/bookings/{bookingUid}"
_ORG = "/v2/organizations/{orgId}"
_ORG_TEAM = f"{_ORG}/teams/{{teamId}}"
_ORG_USER_SCHEDULES = f"{_ORG}/users/{{userId}}/schedules"
_TEAM = "/v2/teams/{teamId}"
_USERS = "/v2/oauth-clients/{clientId}/users"
_FORMS = f"{_ORG}/routing-forms"
_TEAM_FORMS = f"{_ORG_TEAM}/routing-forms"
_USER_OOO = f"{_ORG}/users/{{userId}}/ooo"

ROUTES: tuple[RouteSpec, ...] = (
    # me
    _route("MeController_getMe", "GET", "/v2/me", me.get_me),
    _route("MeController_updateMe", "PATCH", "/v2/me", me.update_me),
    # bookings
    _route(f"{_B}createBooking", "POST", "/v2/bookings", bookings.create_booking, PUBLIC),
    _route(f"{_B}getBookings", "GET", "/v2/bookings", bookings.list_bookings),
    _route(f"{_B}getBooking", "GET", _BOOKING, bookings.get_booking, PUBLIC),
    _route(
        f"{_B}rescheduleBooking",
        "POST",
        f"{_BOOKING}/reschedule",
        bookings.reschedule_booking,
        PUBLIC,
    ),
    _route(f"{_B}cancelBooking", "POST", f"{_BOOKING}/cancel", bookings.cancel_booking, PUBLIC),
    _route(f"{_B}markNoShow", "POST", f"{_BOOKING}/mark-absent", bookings.mark_absent),
    _route(f"{_B}confirmBooking", "POST", f"{_BOOKING}/confirm", bookings.confirm_booking),
    _route(f"{_B}declineBooking", "POST", f"{_BOOKING}/decline", bookings.decline_booking),
    _route(
        "OrganizationsBookingsController_getAllOrgTeamBookings",
        "GET",
        f"{_ORG}/bookings",
        bookings.list_org_bookings,
    ),
    # slots
    _route(f"{_SL}getAvailableSlots", "GET", "/v2/slots", slots.get_slots, PUBLIC),
    _route(f"{_SL}reserveSlot", "POST", "/v2/slots/reservations", slots.reserve_slot, PUBLIC),
    _route(
        f"{_SL}getReservedSlot",
        "GET",
        "/v2/slots/reservations/{uid}",
        slots.get_reservation,
        PUBLIC,
    ),
    _route(
        f"{_SL}updateReservedSlot",
        "PATCH",
        "/v2/slots/reservations/{uid}",
        slots.update_reservation,
        PUBLIC,
    ),
    _route(
        f"{_SL}deleteReservedSlot",
        "DELETE",
        "/v2/slots/reservations/{uid}",
        slots.delete_reservation,
        PUBLIC,
    ),
    # event types
    _route(f"{_ET}createEventType", "POST", "/v2/event-types", event_types.create_event_type),
    _route(f"{_ET}getEventTypes", "GET", "/v2/event-types", event_types.list_event_types, PUBLIC),
    _route(
        f"{_ET}getEventTypeById",
        "GET",
        "/v2/event-types/{eventTypeId}",
        event_types.get_event_type,
    ),
    _route(
        f"{_ET}updateEventType",
        "PATCH",
        "/v2/event-types/{eventTypeId}",
        event_types.update_event_type,
    ),
    _route(
        f"{_ET}deleteEventType",
        "DELETE",
        "/v2/event-types/{eventTypeId}",
        event_types.delete_event_type,
    ),
    # schedules
    _route(f"{_S}createSchedule", "POST", "/v2/schedules", schedules.create_schedule),
    _route(f"{_S}getSchedules", "GET", "/v2/schedules", schedules.list_schedules),
    _route(
        f"{_S}getDefaultSchedule", "GET", "/v2/schedules/default", schedules.get_default_schedule
    ),
    _route(f"{_S}getSchedule", "GET", "/v2/schedules/{scheduleId}", schedules.get_schedule),
    _route(f"{_S}updateSchedule", "PATCH", "/v2/schedules/{scheduleId}", schedules.update_schedule),
    _route(
        f"{_S}deleteSchedule", "DELETE", "/v2/schedules/{scheduleId}", schedules.delete_schedule
    ),
    _route(
        f"{_OS}getOrganizationSchedules", "GET", f"{_ORG}/schedules", schedules.list_org_schedules
    ),
    _route(
        f"{_OS}createUserSchedule",
        "POST",
        _ORG_USER_SCHEDULES,
        schedules.create_org_user_schedule,
    ),
    _route(f"{_OS}getUserSchedules", "GET", _ORG_USER_SCHEDULES, schedules.list_org_user_schedules),
    _route(
        f"{_OS}getUserSchedule",
        "GET",
        f"{_ORG_USER_SCHEDULES}/{{scheduleId}}",
        schedules.get_org_user_schedule,
    ),
    _route(
        f"{_OS}updateUserSchedule",
        "PATCH",
        f"{_ORG_USER_SCHEDULES}/{{scheduleId}}",
        schedules.update_org_user_schedule,
    ),
    _route(
        f"{_OS}deleteUserSchedule",
        "DELETE",
        f"{_ORG_USER_SCHEDULES}/{{scheduleId}}",
        schedules.delete_org_user_schedule,
    ),
    _route(
        "TeamsSchedulesController_getTeamSchedules",
        "GET",
        f"{_TEAM}/schedules",
        schedules.list_team_schedules,
    ),
    # webhooks
    *_webhook_routes(Scope.USER, "WebhooksController_", "/v2/webhooks", many=False),
    *_webhook_routes(
        Scope.EVENT_TYPE,
        "EventTypeWebhooksController_",
        "/v2/event-types/{eventTypeId}/webhooks",
        many=True,
    ),
    *_webhook_routes(
        Scope.ORGANIZATION, "OrganizationsWebhooksController_", f"{_ORG}/webhooks", many=False
    ),
    *_webhook_routes(
        Scope.OAUTH_CLIENT,
        "OAuthClientWebhooksController_",
        "/v2/oauth-clients/{clientId}/webhooks",
        many=True,
    ),
    # teams
    _route("TeamsController_createTeam", "POST", "/v2/teams", teams.create_team),
    _route("TeamsController_getTeams", "GET", "/v2/teams", teams.list_teams),
    _route("TeamsController_getTeam", "GET", _TEAM, teams.get_team),
    _route("TeamsController_updateTeam", "PATCH", _TEAM, teams.update_team),
    _route("TeamsController_deleteTeam", "DELETE", _TEAM, teams.delete_team),
    _route(f"{_TM}createTeamMembership", "POST", f"{_TEAM}/memberships", teams.create_membership),
    _route(f"{_TM}getTeamMemberships", "GET", f"{_TEAM}/memberships", teams.list_memberships),
    _route(
        f"{_TM}getTeamMembership",
        "GET",
        f"{_TEAM}/memberships/{{membershipId}}",
        teams.get_membership,
    ),
    _route(
        f"{_TM}updateTeamMembership",
        "PATCH",
        f"{_TEAM}/memberships/{{membershipId}}",
        teams.update_membership,
    ),
    _route(
        f"{_TM}deleteTeamMembership",
        "DELETE",
        f"{_TEAM}/memberships/{{membershipId}}",
        teams.delete_membership,
    ),
    # the organization
    _route(f"{_OT}getAllTeams", "GET", f"{_ORG}/teams", organizations.list_teams),
    _route(f"{_OT}createTeam", "POST", f"{_ORG}/teams", organizations.create_org_team),
    _route(f"{_OT}getMyTeams", "GET", f"{_ORG}/teams/me", organizations.list_my_org_teams),
    _route(f"{_OT}getTeam", "GET", _ORG_TEAM, organizations.get_org_team),
    _route(f"{_OT}updateTeam", "PATCH", _ORG_TEAM, organizations.update_org_team),
    _route(f"{_OT}deleteTeam", "DELETE", _ORG_TEAM, organizations.delete_org_team),
    _route(
        f"{_OTM}getAllOrgTeamMemberships",
        "GET",
        f"{_ORG_TEAM}/memberships",
        organizations.list_org_team_memberships,
    ),
    _route(
        f"{_OTM}createOrgTeamMembership",
        "POST",
        f"{_ORG_TEAM}/memberships",
        organizations.create_org_team_membership,
    ),
    _route(
        f"{_OTM}getOrgTeamMembership",
        "GET",
        f"{_ORG_TEAM}/memberships/{{membershipId}}",
        organizations.get_org_team_membership,
    ),
    _route(
        f"{_OTM}updateOrgTeamMembership",
        "PATCH",
        f"{_ORG_TEAM}/memberships/{{membershipId}}",
        organizations.update_org_team_membership,
    ),
    _route(
        f"{_OTM}deleteOrgTeamMembership",
        "DELETE",
        f"{_ORG_TEAM}/memberships/{{membershipId}}",
        organizations.delete_org_team_membership,
    ),
    _route(
        f"{_OM}getAllMemberships", "GET", f"{_ORG}/memberships", organizations.list_org_memberships
    ),
    _route(
        f"{_OM}createMembership",
        "POST",
        f"{_ORG}/memberships",
        organizations.create_org_membership,
    ),
    _route(
        f"{_OM}getOrgMembership",
        "GET",
        f"{_ORG}/memberships/{{membershipId}}",
        organizations.get_org_membership,
    ),
    _route(
        f"{_OM}updateMembership",
        "PATCH",
        f"{_ORG}/memberships/{{membershipId}}",
        organizations.update_org_membership,
    ),
    _route(
        f"{_OM}deleteMembership",
        "DELETE",
        f"{_ORG}/memberships/{{membershipId}}",
        organizations.delete_org_membership,
    ),
    _route(f"{_OU}getOrganizationsUsers", "GET", f"{_ORG}/users", organizations.list_org_users),
    _route(f"{_OU}createOrganizationUser", "POST", f"{_ORG}/users", organizations.create_org_user),
    _route(
        f"{_OU}updateOrganizationUser",
        "PATCH",
        f"{_ORG}/users/{{userId}}",
        organizations.update_org_user,
    ),
    _route(
        f"{_OU}deleteOrganizationUser",
        "DELETE",
        f"{_ORG}/users/{{userId}}",
        organizations.delete_org_user,
    ),
    # the organization's routing forms and their responses
    _route(f"{_RF}getOrganizationRoutingForms", "GET", _FORMS, routing_forms.list_org_forms),
    _route(
        f"{_RFR}getRoutingFormResponses",
        "GET",
        f"{_FORMS}/{{routingFormId}}/responses",
        routing_forms.list_org_form_responses,
    ),
    _route(
        f"{_RFR}updateRoutingFormResponse",
        "PATCH",
        f"{_FORMS}/{{routingFormId}}/responses/{{responseId}}",
        routing_forms.update_org_form_response,
    ),
    _route(f"{_TRF}getTeamRoutingForms", "GET", _TEAM_FORMS, routing_forms.list_team_forms),
    _route(
        f"{_TRFR}getRoutingFormResponses",
        "GET",
        f"{_TEAM_FORMS}/{{routingFormId}}/responses",
        routing_forms.list_team_form_responses,
    ),
    _route(
        f"{_TRFR}updateRoutingFormResponse",
        "PATCH",
        f"{_TEAM_FORMS}/{{routingFormId}}/responses/{{responseId}}",
        routing_forms.update_team_form_response,
    ),
    # out of office
    _route(f"{_OOO}getOrganizationUsersOOO", "GET", f"{_ORG}/ooo", out_of_office.list_org_ooo),
    _route(f"{_OOO}getOrganizationUserOOO", "GET", _USER_OOO, out_of_office.list_user_ooo),
    _route(f"{_OOO}createOrganizationUserOOO", "POST", _USER_OOO, out_of_office.create_user_ooo),
    _route(
        f"{_OOO}updateOrganizationUserOOO",
        "PATCH",
        f"{_USER_OOO}/{{oooId}}",
        out_of_office.update_user_ooo,
    ),
    _route(
        f"{_OOO}deleteOrganizationUserOOO",
        "DELETE",
        f"{_USER_OOO}/{{oooId}}",
        out_of_office.delete_user_ooo,
    ),
    # the platform: managed users and their tokens, OAuth clients
    _route(f"{_MU}getManagedUsers", "GET", _USERS, oauth.list_managed_users, PLATFORM),
    _route(f"{_MU}createUser", "POST", _USERS, oauth.create_managed_user, PLATFORM),
    _route(f"{_MU}getUserById", "GET", f"{_USERS}/{{userId}}", oauth.get_managed_user, PLATFORM),
    _route(
        f"{_MU}updateUser", "PATCH", f"{_USERS}/{{userId}}", oauth.update_managed_user, PLATFORM
    ),
    _route(
        f"{_MU}deleteUser", "DELETE", f"{_USERS}/{{userId}}", oauth.delete_managed_user, PLATFORM
    ),
    _route(
        f"{_MU}forceRefresh",
        "POST",
        f"{_USERS}/{{userId}}/force-refresh",
        oauth.force_refresh,
        PLATFORM,
    ),
    _route(
        "OAuthFlowController_refreshTokens",
        "POST",
        "/v2/oauth/{clientId}/refresh",
        oauth.refresh,
        AuthKind.CLIENT_SECRET,
    ),
    # OAuth 2.0 for partner apps (documented additions to the document)
    _route(
        "OAuth2Controller_authorize",
        "GET",
        "/auth/oauth2/authorize",
        oauth_flow.authorize,
        AuthKind.CLIENT_SECRET,
    ),
    _route(
        "OAuth2Controller_token",
        "POST",
        "/v2/auth/oauth2/token",
        oauth_flow.token,
        AuthKind.CLIENT_SECRET,
    ),
    _route(f"{_OC}createOAuthClient", "POST", "/v2/oauth-clients", oauth_clients.create_client),
    _route(f"{_OC}getOAuthClients", "GET", "/v2/oauth-clients", oauth_clients.list_clients),
    _route(
        f"{_OC}getOAuthClientById", "GET", "/v2/oauth-clients/{clientId}", oauth_clients.get_client
    ),
    _route(
        f"{_OC}updateOAuthClient",
        "PATCH",
        "/v2/oauth-clients/{clientId}",
        oauth_clients.update_client,
    ),
    _route(
        f"{_OC}deleteOAuthClient",
        "DELETE",
        "/v2/oauth-clients/{clientId}",
        oauth_clients.delete_client,
    ),
)

# Every other method and path: authenticated and counted like the rest, then 404.
NOT_FOUND = RouteSpec("*", "/{tail:.*}", _not_found)
