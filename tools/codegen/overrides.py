"""The one table of the generator: naming overrides and deliberate repairs of the document.

Everything the generator does *not* derive mechanically from ``spec/openapi.json`` is written
here, and nowhere else. Generated code is never edited by hand: change this table, run
``python -m tools.codegen``, and commit the result. Each repair is applied by
:mod:`tools.codegen.spec`, which logs every change it makes (``spec/REPAIRS.md``).
"""

from __future__ import annotations

from typing import NamedTuple

# --------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------

#: Tag → dotted group path from the client, where the default rule (split the tag on " / " and
#: snake-case each part: ``Orgs / Teams / Memberships`` → ``orgs.teams.memberships``) reads badly.
TAG_GROUPS: dict[str, str] = {
    "Cal Unified Calendars": "unified_calendars",
    "Event Types Private Links": "event_types.private_links",
    "Managed Orgs": "orgs.managed_orgs",  # the product docs' "Orgs / Orgs"
    "OAuth Clients": "oauth_clients",
    "Organization Team Verified Resources": "orgs.teams.verified_resources",
    "Teams Verified Resources": "teams.verified_resources",
}

#: operationId → method name, where the name derived from method, path and summary is wrong,
#: awkward, or collides with another operation of the same group. A key also matches the
#: operationIds it ends with (``VerifiedResourcesController_verifyEmail`` names the user, team
#: and org-team ones); the longest matching key wins.
METHOD_NAMES: dict[str, str] = {
    # Platform / Managed Users
    "OAuthFlowController_refreshTokens": "refresh_tokens",
    "OAuthClientUsersController_forceRefresh": "force_refresh_tokens",
    # Orgs / Attributes / Options
    "OrganizationsAttributesOptionsController_getOrganizationAttributeAssignedOptionsBySlug": (
        "list_assigned_by_slug"
    ),
    "OrganizationsAttributesOptionsController_assignOrganizationAttributeOptionToUser": (
        "assign_to_user"
    ),
    "OrganizationsAttributesOptionsController_getOrganizationAttributeOptionsForUser": (
        "list_for_user"
    ),
    "OrganizationsAttributesOptionsController_unassignOrganizationAttributeOptionFromUser": (
        "unassign_from_user"
    ),
    # Orgs / Teams
    "OrganizationsTeamsController_getMyTeams": "list_mine",
    # Orgs / Teams / Event Types
    "OrganizationsEventTypesController_getTeamsEventTypes": "list_all",
    # Conferencing (user and org team)
    "ConferencingController_redirect": "get_oauth_url",
    "ConferencingController_save": "save_oauth_credentials",
    "ConferencingController_default": "set_default",
    "OrganizationsConferencingController_getTeamOAuthUrl": "get_oauth_url",
    "OrganizationsConferencingController_saveTeamOauthCredentials": "save_oauth_credentials",
    "OrganizationsConferencingController_setTeamDefaultApp": "set_default",
    # Calendars
    "CalendarsController_createIcsFeed": "save_ics_feed",
    "CalendarsController_checkIcsFeed": "check_ics_feed",
    "CalendarsController_getBusyTimes": "get_busy_times",
    "CalendarsController_redirect": "get_connect_url",
    "CalendarsController_save": "save_oauth_credentials",
    "CalendarsController_syncCredentials": "save_credentials",
    "CalendarsController_deleteCalendarCredentials": "disconnect",
    "CalendarsController_check": "check",
    "CalendarsController_getCalendars": "list",
    # Cal Unified Calendars
    "CalUnifiedCalendarsController_getCalendarEventDetails": "get_event",
    "CalUnifiedCalendarsController_updateCalendarEvent": "update_event",
    # Bookings
    "BookingsController_2024_08_13_reassignBookingToUser": "reassign_to_user",
    "BookingsController_2024_08_13_getCalendarLinks": "get_calendar_links",
    # Stripe (user and org team)
    "StripeController_redirect": "get_connect_url",
    "StripeController_save": "save_credentials",  # and OrganizationsStripeController_save
    "StripeController_check": "check",
    "OrganizationsStripeController_getTeamStripeConnectUrl": "get_connect_url",
    "OrganizationsStripeController_checkTeamStripeConnection": "check",
    # Slots
    "SlotsController_2024_09_04_getAvailableSlots": "get_available",
    "SlotsController_2024_09_04_reserveSlot": "reserve",
    "SlotsController_2024_09_04_getReservedSlot": "get_reservation",
    "SlotsController_2024_09_04_updateReservedSlot": "update_reservation",
    "SlotsController_2024_09_04_deleteReservedSlot": "delete_reservation",
    # Routing forms
    "RoutingFormsController_calculateSlotsBasedOnRoutingFormResponse": "calculate_slots",
    # Verified resources: one entry each for the user, team and org-team controllers
    "VerifiedResourcesController_requestEmailVerificationCode": "request_email_code",
    "VerifiedResourcesController_requestPhoneVerificationCode": "request_phone_code",
    "VerifiedResourcesController_verifyEmail": "verify_email",
    "VerifiedResourcesController_verifyPhoneNumber": "verify_phone",
    "VerifiedResourcesController_getVerifiedEmails": "list_emails",
    "VerifiedResourcesController_getVerifiedPhoneNumbers": "list_phones",
    "VerifiedResourcesController_getVerifiedEmailById": "get_email",
    "VerifiedResourcesController_getVerifiedPhoneById": "get_phone",
    # Api Keys, Selected Calendars
    "ApiKeysController_refresh": "refresh",
    "SelectedCalendarsController_addSelectedCalendar": "add",
    # Orgs / Users / OOO
    "OrganizationsUsersOOOController_getOrganizationUsersOOO": "list_all",
}

#: Enum classes are shared by (property name, first value); these give them readable names.
#: Entries naming the same class merge their values (an input list and its longer output list).
ENUM_NAMES: dict[tuple[str, str | int], str] = {
    ("status", "success"): "ResponseStatus",
    ("status", "cancelled"): "BookingStatus",
    ("action", "email_host"): "WorkflowStepAction",
    ("recipient", "const"): "WorkflowStepRecipient",
    ("template", "reminder"): "WorkflowStepTemplate",
    ("role", "MEMBER"): "MembershipRole",
    ("organizationRole", "MEMBER"): "MembershipRole",
    ("locale", "ar"): "Locale",
    ("language", "ar"): "Locale",
    ("integration", "cal-video"): "LocationIntegration",
    ("integration", "apple_calendar"): "CalendarIntegration",
    ("type", "businessDays"): "BookingWindowType",
    ("type", "TEXT"): "AttributeType",
    ("type", "always"): "ConfirmationPolicyType",
    ("type", "beforeEvent"): "WorkflowTriggerType",
    ("weekStart", "Monday"): "Weekday",
    ("days", "Monday"): "Weekday",
    ("triggers", "BOOKING_CREATED"): "WebhookTrigger",
    ("reason", "unspecified"): "OutOfOfficeReason",
    ("permissions", "EVENT_TYPE_READ"): "OAuthClientPermission",
    ("defaultLayout", "month"): "BookerLayout",
    ("enabledLayouts", "month"): "BookerLayout",
    ("frequency", "yearly"): "RecurrenceFrequency",
    ("priority", "lowest"): "HostPriority",
    ("schedulingType", "collective"): "SchedulingType",
    ("schedulingType", "roundRobin"): "SchedulingType",
    ("templateType", "CHECK_IN_APPOINTMENT"): "PhoneCallTemplateType",
    ("unit", "hour"): "WorkflowTriggerOffsetUnit",
    ("timeFormat", 12): "TimeFormat",
}

# --------------------------------------------------------------------------------------------
# Repairs of the document (NOTES.md, "Known defects of the document")
# --------------------------------------------------------------------------------------------


class Repair(NamedTuple):
    """One deliberate repair: what is wrong in the document and what the generator does."""

    key: str
    defect: str
    action: str


REPAIRS: tuple[Repair, ...] = (
    Repair(
        "oneof-as-anyof",
        "`oneOf` without a discriminator whose branches overlap (a valid value matches several)",
        "read as `anyOf`; the decoder picks the branch by its literal `type` (or `slug`) field, "
        "then by the best match of required and known fields",
    ),
    Repair(
        "literal-discriminator",
        "the literal value of a union branch's `type`/`slug` is given only in prose "
        "(`only allowed value for type is `x``), as a lone `default`, or not at all",
        "give the property `enum: [x]` (from the prose, the default, or LITERAL_VALUES); the "
        "model types it `Literal['x']` with that default",
    ),
    Repair(
        "object-with-scalar-example",
        "`type: object` whose `example`/`default` is a scalar (`slotInterval: 60`)",
        "take the type from the example (`boolean`, `number`, `string`)",
    ),
    Repair(
        "nested-enum",
        "`enum` whose only value is the list of values (`enum: [[...]]` on an object)",
        "flatten into a string enum",
    ),
    Repair(
        "placeholder-pattern",
        'pattern `"TIME_FORMAT_HH_MM"` is a placeholder, not a regex',
        "use `^([01]\\d|2[0-3]):[0-5]\\d$` (HH:MM)",
    ),
    Repair(
        "js-literal-pattern",
        "pattern written as a JavaScript literal (`/^\\+[1-9]\\d{1,14}$/`)",
        "strip the slashes",
    ),
    Repair("enum-on-array", "`enum` on an array schema (schedule `days`)", "move it to `items`"),
    Repair(
        "path-params",
        "path parameters used in the path but not declared, or declared on a path without them",
        "declare the missing ones (typed from ID_PARAM_TYPES or `string`), drop the extra ones",
    ),
    Repair(
        "id-types",
        "ids typed `number` in one operation and `string` in another",
        "type every path parameter in ID_PARAM_TYPES the same way (methods take `int`)",
    ),
    Repair(
        "untyped-query-params",
        "query parameters with an empty schema (`/v2/slots`)",
        "type them from their example (`string` or `number`)",
    ),
    Repair(
        "query-date-formats",
        "date and date-time query parameters typed as plain strings (`afterStart`, `start` of "
        "`/v2/slots`, `dateFrom`); their examples show the format (some prefixed with "
        "`?afterStart=`)",
        "add `format: date-time` (or `format: date`) from the example: methods take `datetime` "
        "(or `date`) and send ISO 8601",
    ),
    Repair(
        "date-time-from-example",
        "date-time strings without `format: date-time` in schemas (`createdAt`, `start`, ...)",
        "add `format: date-time` where the example is a full ISO 8601 date-time",
    ),
    Repair(
        "array-items-from-example",
        "arrays of numbers whose items are typed `string` (`lengthInMinutesOptions`, example "
        "`[15, 30, 60]`, described as minutes; `assignedUserIds`, example `[124, 224]`)",
        "type the items `number`, as the example and the service do",
    ),
    Repair(
        "empty-object-schema",
        "component schemas of `type: object` with no properties (`UpdateOrganizationUserInput`, "
        "`ValidateBookingLocation_2024_08_13`): a model of them would drop every field",
        "declare `additionalProperties: true`; they are typed `dict[str, Any]`, kept as sent",
    ),
    Repair(
        "webhook-triggers",
        "webhook inputs declare `triggers` as one string of the trigger enum, while their own "
        "example (and the service) uses a list of trigger names; webhook outputs declare it as "
        "a list of objects, while the service sends the names",
        "`triggers` is an array of trigger names everywhere; the names are the enum's values "
        "and the further ones the document's example gives",
    ),
    Repair(
        "example-type-mismatch",
        "examples of another type than their schema (`verifiedEmailId: '31214'` and "
        "`slotDuration: '30'` typed `number`; a workflow step's `email: 31214` typed `string`): a "
        "mock serving the document answers them, and a client reading the declared type fails",
        "a numeric text example of a number becomes the number; any other example that does not "
        "fit its type is dropped",
    ),
    Repair(
        "self-referencing-data",
        "an envelope whose `data` is the envelope itself (infinite recursion): no finite answer "
        "fits `GetReservedSlotOutput_2024_09_04`, so a mock of the published document (Prism) "
        "cannot answer `GET /v2/slots/reservations/{uid}` and the contract test skips it",
        "point `data` at the schema in SELF_REFERENCING_DATA",
    ),
    Repair(
        "list-data-not-array",
        "a paginated list operation whose `data` is declared as a single object",
        "declare `data` as an array of that object",
    ),
    Repair(
        "wrong-data-schema",
        "verified-resource envelopes whose `data` is `ScheduleOutput` (a copy-paste error)",
        "declare `data` as an untyped object (an array of them for lists); methods return `Any`",
    ),
    Repair(
        "slot-maps",
        "slot maps declared empty (`SlotsOutput_2024_09_04`) or as lists of strings "
        "(`GET /v2/slots`) while their examples are `{date: [{start[, end]}]}`",
        "declare `Slot_2024_09_04` / `RangeSlot_2024_09_04` and the two maps of them "
        "(range first: a range slot also fits the plain one)",
    ),
    Repair(
        "non-envelope-response",
        "success responses whose schema is the `data` (or a bare object), not the envelope "
        "every response has",
        "wrap them in `{status, data}`; an example that is an envelope without data makes the "
        "method return `None`",
    ),
    Repair(
        "untyped-response",
        "success responses without a schema",
        "declare the generic envelope `{status, data}`; methods return `Any`",
    ),
    Repair(
        "documented-additions",
        "operations the service documents and runs that were added after the document was "
        "published (OAuth 2.0 for partner apps: the authorize page and the token endpoint)",
        "add them from ADDITIONS, after every other repair, marked `x-icalendly-addition` (the "
        "source) and `x-icalendly-hand-written` (no generated method: `OAuthApp` covers them)",
    ),
    Repair(
        "auth-headers",
        "auth headers (`Authorization`, `x-cal-client-id`, `x-cal-secret-key`) and "
        "`cal-api-version` declared as operation parameters",
        "never method arguments: the client sends them (credential; version from the "
        "parameter's enum/default/description, overridable per call and per client)",
    ),
)

#: Path parameters that are ids, and the one type they get everywhere ("id-types").
ID_PARAM_TYPES: dict[str, str] = {
    "orgId": "number",
    "teamId": "number",
    "eventTypeId": "number",
    "scheduleId": "number",
    "userId": "number",
    "membershipId": "number",
    "managedOrganizationId": "number",
    "workflowId": "number",
    "oooId": "number",
    "responseId": "number",
    "id": "number",
}

#: String path parameters whose ids the document's outputs give as numbers (``webhookId``: the
#: webhook outputs' ``id`` is a ``number``): methods take ``int | str`` and send either as is.
LOOSE_ID_PARAMS: frozenset[str] = frozenset({"webhookId"})

#: Discriminator literals the document does not state at all ("literal-discriminator").
LITERAL_VALUES: dict[tuple[str, str], str] = {
    ("BusinessDaysWindow_2024_06_14", "type"): "businessDays",
    ("CalendarDaysWindow_2024_06_14", "type"): "calendarDays",
    ("RangeWindow_2024_06_14", "type"): "range",
}

#: Envelopes whose ``data`` refers to themselves ("self-referencing-data").
SELF_REFERENCING_DATA: dict[str, dict[str, object]] = {
    "GetReservedSlotOutput_2024_09_04": {
        "nullable": True,
        "allOf": [{"$ref": "#/components/schemas/ReserveSlotOutput_2024_09_04"}],
    },
    # "ReassignAutoBookingOutput / ReassignManualBookingOutput" are named but not in the document.
    "ReassignBookingOutput_2024_08_13": {"type": "object"},
}

#: Envelopes of verified-resource operations whose ``data`` is wrong ("wrong-data-schema"):
#: schema → whether ``data`` is a list.
WRONG_DATA_SCHEMAS: dict[str, bool] = {
    "UserVerifiedEmailOutput": False,
    "UserVerifiedPhoneOutput": False,
    "UserVerifiedEmailsOutput": True,
    "UserVerifiedPhonesOutput": True,
    "TeamVerifiedEmailOutput": False,
    "TeamVerifiedPhoneOutput": False,
    "TeamVerifiedEmailsOutput": True,
    "TeamVerifiedPhonesOutput": True,
}

#: Header parameters that are never method arguments ("auth-headers").
AUTH_HEADERS: frozenset[str] = frozenset({"authorization", "x-cal-client-id", "x-cal-secret-key"})
VERSION_HEADER = "cal-api-version"

#: Schemas whose ``triggers`` is a webhook's list of trigger names ("webhook-triggers").
WEBHOOK_TRIGGER_SCHEMAS: tuple[str, ...] = (
    "CreateWebhookInputDto",
    "UpdateWebhookInputDto",
    "UserWebhookOutputDto",
    "EventTypeWebhookOutputDto",
    "OAuthClientWebhookOutputDto",
    "TeamWebhookOutputDto",
)

#: The token refresh takes the client secret that the access-token credential holds.
CLIENT_SECRET_OPERATIONS: frozenset[str] = frozenset({"OAuthFlowController_refreshTokens"})

# --------------------------------------------------------------------------------------------
# Documented additions: operations the service runs that the published document lacks
# --------------------------------------------------------------------------------------------


class Addition(NamedTuple):
    """One operation added to the repaired document ("documented-additions")."""

    method: str
    path: str
    source: str  # where the service documents it
    operation: dict[str, object]


_OAUTH_SOURCE = (
    "the service's public OAuth 2.0 documentation (NOTES.md, 'OAuth 2.0 for partner apps'); "
    "added to the service after openapi.json was published"
)
#: The module that covers the additions: the generator makes no methods of them.
HAND_WRITTEN = "x-icalendly-hand-written"
ADDITION_MARK = "x-icalendly-addition"


def _query(
    name: str, description: str, schema: dict[str, object], required: bool = False
) -> dict[str, object]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


_STRING: dict[str, object] = {"type": "string"}
_OAUTH_ERROR: dict[str, object] = {
    "type": "object",
    "description": "An RFC 6749 §5.2 error.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "string",
            "example": "invalid_grant",
            "description": "invalid_request, invalid_client, invalid_grant, unauthorized_client, "
            "unsupported_grant_type or invalid_scope",
        },
        "error_description": {"type": "string"},
    },
}
_NO_STORE_HEADERS: dict[str, object] = {
    "Cache-Control": {"schema": {"type": "string", "example": "no-store"}},
}
_PAGE: dict[str, object] = {"text/html": {"schema": {"type": "string"}}}
_TOKEN_FIELDS: dict[str, object] = {
    "type": "object",
    "required": ["grant_type", "client_id"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
        "client_id": _STRING,
        "client_secret": {"type": "string", "description": "Confidential clients only."},
        "code": {"type": "string", "description": "authorization_code: the code received."},
        "redirect_uri": {
            "type": "string",
            "description": "authorization_code: the redirect_uri of the authorization request.",
        },
        "code_verifier": {
            "type": "string",
            "minLength": 43,
            "maxLength": 128,
            "description": "authorization_code, public clients: the PKCE verifier (RFC 7636).",
        },
        "refresh_token": {"type": "string", "description": "refresh_token: the refresh token."},
    },
}

ADDITIONS: tuple[Addition, ...] = (
    Addition(
        "get",
        "/auth/oauth2/authorize",
        _OAUTH_SOURCE,
        {
            "operationId": "OAuth2Controller_authorize",
            "summary": "Ask the user to authorize a partner app (in the user's browser)",
            "description": "The page of 'Continue with iCalendly'. After consent the browser is "
            "redirected to `redirect_uri?code=…&state=…` (codes are single-use and live 10 "
            "minutes); a refusal redirects with an RFC 6749 `error`. An unknown or unapproved "
            "client, or a `redirect_uri` that is not exactly a registered one, is shown to the "
            "user and never redirected.",
            "tags": ["OAuth 2.0"],
            "servers": [{"url": "https://app.icalendly.com"}],
            "security": [],
            "parameters": [
                _query("client_id", "The app's client id.", _STRING, required=True),
                _query("redirect_uri", "Exactly one of the app's registered URIs.", _STRING),
                _query("state", "Echoed to the redirect; check it there (CSRF).", _STRING),
                _query("scope", "Space-separated scopes.", _STRING),
                _query("response_type", "`code`.", {"type": "string", "enum": ["code"]}),
                _query(
                    "code_challenge",
                    "PKCE (RFC 7636): BASE64URL(SHA-256(code_verifier)); public clients must "
                    "send it.",
                    {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
                ),
                _query("code_challenge_method", "`S256`.", {"type": "string", "enum": ["S256"]}),
            ],
            "responses": {
                "200": {
                    "description": "The consent page, where a signed-in user approves or denies.",
                    "content": _PAGE,
                },
                "302": {
                    "description": "To the app's redirect_uri with `code` and `state` (or "
                    "`error`, `error_description` and `state`).",
                    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                },
                "400": {"description": "A malformed request, shown to the user.", "content": _PAGE},
                "403": {
                    "description": "The app is not approved, shown to the user.",
                    "content": _PAGE,
                },
            },
        },
    ),
    Addition(
        "post",
        "/v2/auth/oauth2/token",
        _OAUTH_SOURCE,
        {
            "operationId": "OAuth2Controller_token",
            "summary": "Exchange an authorization code, or a refresh token, for tokens",
            "description": "RFC 6749 §4.1.3 and §6. Refresh tokens rotate: a used one is refused "
            "(`invalid_grant`). `expires_in` is in seconds.",
            "tags": ["OAuth 2.0"],
            "security": [],
            "parameters": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": _TOKEN_FIELDS},
                    "application/json": {"schema": _TOKEN_FIELDS},
                },
            },
            "responses": {
                "200": {
                    "description": "The token pair.",
                    "headers": _NO_STORE_HEADERS,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["access_token", "token_type", "expires_in"],
                                "properties": {
                                    "access_token": _STRING,
                                    "token_type": {"type": "string", "example": "bearer"},
                                    "refresh_token": _STRING,
                                    "expires_in": {"type": "number", "example": 1800},
                                    "scope": _STRING,
                                },
                            }
                        }
                    },
                },
                "400": {
                    "description": "An RFC 6749 error (invalid_grant, ...).",
                    "headers": _NO_STORE_HEADERS,
                    "content": {"application/json": {"schema": _OAUTH_ERROR}},
                },
                "401": {
                    "description": "invalid_client.",
                    "headers": _NO_STORE_HEADERS,
                    "content": {"application/json": {"schema": _OAUTH_ERROR}},
                },
            },
        },
    ),
)


# --------------------------------------------------------------------------------------------
# Families (models that appear together in unions share a generated base class)
# --------------------------------------------------------------------------------------------

#: First member of a family (document order) → the name of its base class, where the name
#: derived from the members' common words reads badly.
FAMILY_NAMES: dict[str, str] = {
    "BookingOutput_2024_08_13": "Booking",
    "RescheduleBookingInput_2024_08_13": "RescheduleBookingBody",
    "TextAttribute": "AttributeWithOptions",
    "NameDefaultFieldInput_2024_06_14": "BookingFieldInput",
    "NameDefaultFieldOutput_2024_06_14": "BookingFieldOutput",
    "InputAddressLocation_2024_06_14": "Location",
    "TimeBasedPrivateLinkOutput": "PrivateLinkOutput",
    "OnBeforeEventTriggerDto": "WorkflowTriggerDto",
    "HtmlWorkflowMessageDto": "WorkflowMessageDto",
}

#: Family base → (class, attribute) of its series: the list some operations answer with
#: instead of one (a recurring booking's occurrences).
SERIES_NAMES: dict[str, tuple[str, str]] = {
    "Booking": ("BookingSeries", "occurrences"),
    "TeamEventTypeOutput_2024_06_14": ("TeamEventTypeOutputs", "event_types"),
}
