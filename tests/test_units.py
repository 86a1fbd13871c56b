"""Sans-I/O pieces: credentials, header parsing, retry policy, envelopes, encoding, tiers."""

from __future__ import annotations

import datetime as dt
import traceback

import pytest

from icalendly_async import AccessToken, ApiKey, PlatformClient, RateLimit
from icalendly_async._encode import encode_body, encode_query, format_path
from icalendly_async.auth import ApiKeyMode, TokenPair, mask
from icalendly_async.errors import ConfigurationError, DecodeError
from icalendly_async.models.envelope import decode_error, decode_success
from icalendly_async.plans import Plan, Tier, tier_for_path, tier_for_tag
from icalendly_async.ratelimit import RateLimitState
from icalendly_async.retry import Outcome, OutcomeKind, RetryPolicy

LIVE = "ical_live_0123456789abcdefSECRET"
TEST = "ical_0123456789abcdefSECRETXYZ"


def test_api_key_modes() -> None:
    assert ApiKey(LIVE).mode is ApiKeyMode.LIVE
    assert ApiKey(TEST).mode is ApiKeyMode.TEST
    assert ApiKey(TEST).rate_limit == RateLimit(120, 60)
    assert ApiKey(TEST, rate_limit=RateLimit(800, 60)).rate_limit == RateLimit(800, 60)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "cal_live_abcdef0123456789",
        "sk_test_abcdefghijklmnop",
        "ical_abc def",
        f"{TEST}\n",
        "ical_",
    ],
)
def test_api_key_rejects_without_echoing(bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ApiKey(bad)
    if len(bad) > 6:
        assert bad.strip() not in str(info.value)
        assert bad.strip()[-8:] not in str(info.value)


def test_api_key_rejects_non_strings() -> None:
    with pytest.raises(ConfigurationError):
        ApiKey(None)  # type: ignore[arg-type]


def test_secrets_never_in_repr_or_traceback() -> None:
    secret = "pc_secret_0123456789abcdef"
    refresh = "refresh_0123456789abcdef"
    creds = [
        ApiKey(LIVE),
        PlatformClient("client-id-1", secret),
        AccessToken("access_0123456789abcdef", refresh, client_id="cid", client_secret=secret),
    ]
    text = " ".join(repr(c) for c in creds) + repr(TokenPair("access_0123456789abcdef", refresh))
    for value in (LIVE, secret, refresh, "access_0123456789abcdef"):
        assert value not in text
    assert mask(LIVE) == "…CRET"
    try:
        AccessToken(LIVE)
    except ConfigurationError:
        assert LIVE not in traceback.format_exc()


def test_limit_keys_are_digests() -> None:
    key = ApiKey(LIVE)
    assert LIVE not in key.limit_key and "SECRET" not in key.limit_key
    assert key.limit_key == ApiKey(LIVE).limit_key
    assert key.limit_key != ApiKey(TEST).limit_key


def test_access_token_expiry_forms() -> None:
    when = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert AccessToken("tok_0123456789", expires_at=when).kind == "access_token"
    AccessToken("tok_0123456789", expires_at=when.timestamp())
    with pytest.raises(ConfigurationError):
        AccessToken("tok_0123456789", expires_at="tomorrow")  # type: ignore[arg-type]


def test_rate_limit_headers_parse() -> None:
    state = RateLimitState.from_headers(
        {
            "X-RateLimit-Limit-Default": "120",
            "X-RateLimit-Remaining-Default": "0",
            "X-RateLimit-Reset-Default": "41",
            "x-ratelimit-limit-bookings": "10",
            "x-ratelimit-remaining-bookings": "3",
            "x-ratelimit-reset-bookings": "2.5",
            "X-RateLimit-Remaining-Broken": "lots",
            "Content-Type": "application/json",
        }
    )
    default = state.get("default")
    assert default is not None and (default.limit, default.remaining) == (120, 0)
    assert state.exhausted_for == 41
    bookings = state.get("Bookings")
    assert bookings is not None and bookings.reset_seconds == 2.5
    assert state.get("broken") is None
    assert not RateLimitState.from_headers({})
    assert not RateLimitState.no_response().received


def test_retry_policy() -> None:
    policy = RetryPolicy(max_retries=2, backoff_base=0.1, backoff_max=1.0)
    get503 = Outcome(OutcomeKind.STATUS, "GET", 503)
    post503 = Outcome(OutcomeKind.STATUS, "POST", 503)
    assert policy.decide(1, get503).retry
    assert not policy.decide(3, get503).retry
    assert not policy.decide(1, post503).retry
    assert policy.decide(1, Outcome(OutcomeKind.NOT_SENT, "POST")).retry
    assert not policy.decide(1, Outcome(OutcomeKind.TRANSPORT, "PATCH")).retry
    assert policy.decide(1, Outcome(OutcomeKind.TRANSPORT, "GET")).retry
    assert not policy.decide(1, Outcome(OutcomeKind.STATUS, "GET", 404)).retry
    rate = policy.decide(1, Outcome(OutcomeKind.STATUS, "POST", 429, retry_after=3))
    assert rate.retry and rate.delay == 3
    too_long = policy.decide(1, Outcome(OutcomeKind.STATUS, "GET", 429, retry_after=600))
    assert not too_long.retry and too_long.delay == 600
    for attempt in range(1, 6):
        assert 0 < policy.backoff(attempt) <= 1.0
    with pytest.raises(ConfigurationError):
        RetryPolicy(max_retries=-1)


def test_envelopes() -> None:
    ok = decode_success(
        200, b'{"status":"success","data":{"id":1},"pagination":{"hasNextPage":false}}'
    )
    assert ok.data == {"id": 1} and ok.pagination == {"hasNextPage": False}
    assert decode_success(204, b"").data is None
    for body in (b"<html>502 Bad Gateway</html>", b'{"status":"success","da', b'{"id": 1}', b"[]"):
        with pytest.raises(DecodeError) as info:
            decode_success(200, body)
        assert "envelope" in str(info.value) or "JSON" in str(info.value)
    err = decode_error(
        404,
        b'{"status":"error","timestamp":"t","path":"/v2/x","error":{"code":"NotFound","message":"no"}}',
    )
    assert (err.code, err.message) == ("NotFound", "no")
    html = decode_error(502, b"<html><body>Bad gateway</body></html>" * 50)
    assert "Bad gateway" in html.message and len(html.message) < 300
    # Endpoints without the envelope (RFC 6749's token endpoint): the body is the data, and
    # its error body (section 5.2) names the error code.
    bare = decode_success(200, b'{"access_token": "a", "expires_in": 1800}', envelope=False)
    assert bare.data == {"access_token": "a", "expires_in": 1800} and bare.pagination is None
    oauth = decode_error(400, b'{"error": "invalid_grant", "error_description": "code used"}')
    assert (oauth.code, oauth.message) == ("invalid_grant", "code used")
    assert decode_error(400, b'{"error": "invalid_client"}').message == "invalid_client"


def test_encoding() -> None:
    assert encode_query({"a": True, "b": None, "c": [1, 2], "d": Plan.TEAMS}, {"e": "x"}) == [
        ("a", "true"),
        ("c", "1"),
        ("c", "2"),
        ("d", "teams"),
        ("e", "x"),
    ]
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert encode_query({"t": when}) == [("t", "2026-01-02T03:04:05.000Z")]
    assert encode_body({"when": when}) == b'{"when":"2026-01-02T03:04:05.000Z"}'
    assert format_path("/v2/b/{uid}/x/{n}", ("uid", "n"), ("a/b c", 3)) == "/v2/b/a%2Fb%20c/x/3"
    with pytest.raises(ConfigurationError):
        format_path("/v2/b/{uid}", ("uid",), ())
    with pytest.raises(ConfigurationError):
        encode_query({"x": object()})
    with pytest.raises(ConfigurationError):
        encode_body({"x": object()})


def test_tiers_by_tag_and_path() -> None:
    assert tier_for_tag("Bookings") is Tier.EVERYONE
    assert tier_for_tag("Orgs / Teams / Memberships") is Tier.ORGANIZATIONS
    assert tier_for_tag("Platform / Managed Users") is Tier.PLATFORM
    assert tier_for_tag("Managed Orgs") is Tier.PLATFORM
    assert tier_for_tag("Teams / Event Types") is Tier.TEAMS
    assert tier_for_tag("Organization Team Verified Resources") is Tier.ORGANIZATIONS
    assert tier_for_path("/v2/organizations/1/organizations/2") is Tier.PLATFORM
    assert tier_for_path("/v2/organizations/1/teams") is Tier.ORGANIZATIONS
    assert tier_for_path("/v2/teams/3") is Tier.TEAMS
    assert tier_for_path("/v2/oauth-clients/x/users") is Tier.PLATFORM
    assert tier_for_path("/v2/bookings") is Tier.EVERYONE
    assert Tier.TEAMS.allows(Plan.PLATFORM) and not Tier.TEAMS.allows(Plan.ORGANIZATIONS)
    assert Tier.PLATFORM.allows(None)


def test_rate_limit_header_names_are_remembered_within_a_bound() -> None:
    from icalendly_async.ratelimit import headers as rl_headers

    for i in range(3000):  # a server (or proxy) inventing header names
        state = RateLimitState.from_headers(
            {f"X-Noise-{i}": "1", f"X-RateLimit-Remaining-N{i}": "7", "Date": "today"}
        )
        assert [(lim.name, lim.remaining) for lim in state.limits] == [(f"N{i}", 7)]
    assert len(rl_headers._MEANINGS) <= 1024
    assert RateLimitState.from_headers({"x-ratelimit-limit-default": "5"}).limits[0].limit == 5
