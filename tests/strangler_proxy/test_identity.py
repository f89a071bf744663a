"""EdgeIdentity: internal headers stripped, credentials read, identities looked up through the monolith's
GET /api/v1/accounts/me (here a stand-in that answers like it) behind a bounded, TTL'd, coalescing cache."""

import asyncio
import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow, tutils

from strangler_proxy.identity import (
    IDENTITY_KEY,
    SESSION_KEY,
    EdgeIdentity,
    IdentityCache,
    Lookup,
    identity_from_me,
    read_credential,
    strip_internal_headers,
)
from strangler_proxy.routes import ANONYMOUS, Identity
from tests.strangler_proxy.conftest import addon_context

ALICE = Identity("7", "alice", ("customer",), "legacy_token")


def request(*headers: tuple[bytes, bytes]):
    return tutils.treq(headers=headers)


# --- headers and credentials -------------------------------------------------------------------------


def test_every_client_supplied_internal_header_is_stripped_whatever_its_case():
    req = request(
        (b"X-Strangler-User-Id", b"1"),
        (b"x-strangler-route", b"evil"),
        (b"X-STRANGLER-UPSTREAM", b"evil"),
        (b"X-Strangler-User-Id", b"2"),
        (b"X-Request-ID", b"kept"),
        (b"X-Stranglers", b"kept"),
    )

    strip_internal_headers(req.headers)

    assert list(req.headers.keys()) == ["X-Request-ID", "X-Stranglers"]


CREDENTIALS = [
    ("token", [(b"Authorization", b"Token abc123")], "legacy_token", ("Authorization", "Token abc123")),
    (
        "keyword in any case",
        [(b"Authorization", b"token abc123")],
        "legacy_token",
        ("Authorization", "Token abc123"),
    ),
    (
        "session cookie",
        [(b"Cookie", b"csrftoken=x; sessionid=s3ss")],
        "session",
        ("Cookie", "sessionid=s3ss"),
    ),
    (
        "token wins over cookie",
        [(b"Cookie", b"sessionid=s"), (b"Authorization", b"Token t")],
        "legacy_token",
        ("Authorization", "Token t"),
    ),
    ("bearer is not a legacy token", [(b"Authorization", b"Bearer abc")], None, None),
    ("token without key", [(b"Authorization", b"Token")], None, None),
    ("token with two keys", [(b"Authorization", b"Token a b")], None, None),
    ("empty session cookie", [(b"Cookie", b"sessionid=")], None, None),
    ("other cookies only", [(b"Cookie", b"csrftoken=x")], None, None),
    ("nothing", [], None, None),
]


@pytest.mark.parametrize(
    ("headers", "kind", "presented"), [c[1:] for c in CREDENTIALS], ids=[c[0] for c in CREDENTIALS]
)
def test_the_credential_is_the_legacy_token_else_the_session_cookie(headers, kind, presented):
    credential = read_credential(request(*headers))

    assert (credential.kind if credential else None) == kind
    assert (credential.header if credential else None) == presented


def test_the_digest_hides_the_credential_and_differs_between_kinds():
    token = read_credential(request((b"Authorization", b"Token same")))
    session = read_credential(request((b"Cookie", b"sessionid=same")))

    assert len(token.digest) == 64
    assert "same" not in token.digest
    assert token.digest != session.digest
    assert token.digest == read_credential(request((b"Authorization", b"Token same"))).digest


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id": 7, "username": "alice", "role": "customer"}, ALICE),
        ({"id": 8, "username": "", "role": None}, Identity("8", None, (), "legacy_token")),
        ({"username": "no id"}, None),
        ([1, 2], None),
        ("text", None),
    ],
)
def test_the_monolith_user_json_becomes_an_identity(body, expected):
    assert identity_from_me(body, "legacy_token") == expected


# --- the cache ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting(result: Lookup | Exception, calls: list, delay: float = 0.0):
    async def lookup() -> Lookup:
        calls.append(1)
        if delay:
            await asyncio.sleep(delay)
        if isinstance(result, Exception):
            raise result
        return result

    return lookup


def test_a_found_identity_is_served_from_the_cache_until_its_ttl_ends():
    clock, calls = Clock(), []
    cache = IdentityCache(ttl=30, clock=clock)

    async def scenario():
        first = await cache.resolve("d", counting(Lookup(ALICE), calls))
        clock.now += 29
        second = await cache.resolve("d", counting(Lookup(ALICE), calls))
        clock.now += 2
        third = await cache.resolve("d", counting(Lookup(ALICE), calls))
        return first, second, third

    assert asyncio.run(scenario()) == (ALICE, ALICE, ALICE)
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("found", "remembered_for"),
    [(Lookup(None, rejected=True), 5.0), (Lookup(None), 1.0), (RuntimeError("boom"), 1.0)],
    ids=["rejected credential", "failed lookup", "lookup raised"],
)
def test_a_credential_without_identity_is_anonymous_and_remembered_briefly(found, remembered_for):
    clock, calls = Clock(), []
    cache = IdentityCache(ttl=30, negative_ttl=5, failure_ttl=1, clock=clock)

    async def scenario():
        results = [await cache.resolve("d", counting(found, calls))]
        clock.now += remembered_for - 0.01
        results.append(await cache.resolve("d", counting(found, calls)))
        clock.now += 0.02
        results.append(await cache.resolve("d", counting(found, calls)))
        return results

    assert asyncio.run(scenario()) == [None, None, None]
    assert len(calls) == 2


def test_the_cache_keeps_at_most_max_entries_evicting_the_least_recently_used():
    calls = []
    cache = IdentityCache(max_entries=2, clock=Clock())

    async def scenario():
        await cache.resolve("a", counting(Lookup(ALICE), calls))
        await cache.resolve("b", counting(Lookup(ALICE), calls))
        await cache.resolve("a", counting(Lookup(ALICE), calls))  # a is now the most recent
        await cache.resolve("c", counting(Lookup(ALICE), calls))  # evicts b
        await cache.resolve("a", counting(Lookup(ALICE), calls))
        await cache.resolve("b", counting(Lookup(ALICE), calls))

    asyncio.run(scenario())
    assert len(cache) == 2
    assert len(calls) == 4  # a, b, c, and b again


def test_concurrent_requests_with_one_credential_make_one_lookup():
    calls = []
    cache = IdentityCache()

    async def scenario():
        lookup = counting(Lookup(ALICE), calls, delay=0.05)
        return await asyncio.gather(*(cache.resolve("d", lookup) for _ in range(50)))

    assert asyncio.run(scenario()) == [ALICE] * 50
    assert len(calls) == 1


def test_a_client_that_goes_away_does_not_cancel_the_lookup_others_wait_for():
    calls = []
    cache = IdentityCache()

    async def scenario():
        lookup = counting(Lookup(ALICE), calls, delay=0.05)
        leaver = asyncio.ensure_future(cache.resolve("d", lookup))
        stayer = asyncio.ensure_future(cache.resolve("d", lookup))
        await asyncio.sleep(0.01)
        leaver.cancel()
        return await stayer

    assert asyncio.run(scenario()) == ALICE
    assert len(calls) == 1


# --- the addon against a stand-in monolith -------------------------------------------------------------


USERS = {"Token good": {"id": 7, "username": "alice", "role": "customer"}}


def me_endpoint(received):
    """Answers GET /api/v1/accounts/me like the monolith: the user for a good credential, else 401."""
    if received.path != "/api/v1/accounts/me":
        return None
    user = USERS.get(received.header("Authorization") or "")
    if user is None and received.header("Cookie") == "sessionid=good-session":
        user = {"id": 9, "username": "bob", "role": "staff"}
    if user is None:
        return 401, {"code": "authentication_failed", "message": "no", "extra": {}}
    return 200, user


@pytest.fixture
def monolith(standin_upstream):
    standin_upstream.responder = me_endpoint
    return standin_upstream


def flow_with(*headers: tuple[bytes, bytes]):
    return tflow.tflow(req=tutils.treq(headers=((b"host", b"legacy"), *headers)))


async def identify(monolith, *flows, **options):
    addon = EdgeIdentity()
    with addon_context(addon, strangler_identity_url=monolith.url, **options):
        await asyncio.gather(*(addon.requestheaders(f) for f in flows))
        await addon.done()
    return flows


def test_a_legacy_token_identifies_the_user_and_the_gateway_passes_the_user_id_upstream(monolith):
    (flow,) = asyncio.run(
        identify(monolith, flow_with((b"Authorization", b"Token good"), (b"X-Strangler-User-Id", b"1")))
    )

    assert flow.metadata[IDENTITY_KEY] == ALICE
    assert flow.request.headers.get_all("X-Strangler-User-Id") == ["7"]
    assert len(flow.metadata[SESSION_KEY]) == 64
    (lookup,) = monolith.requests_to("/api/v1/accounts/me")
    assert lookup.header("Authorization") == "Token good"


def test_a_session_cookie_identifies_the_user_and_only_that_cookie_is_sent_to_the_monolith(monolith):
    (flow,) = asyncio.run(identify(monolith, flow_with((b"Cookie", b"theme=dark; sessionid=good-session"))))

    assert flow.metadata[IDENTITY_KEY] == Identity("9", "bob", ("staff",), "session")
    (lookup,) = monolith.requests_to("/api/v1/accounts/me")
    assert lookup.header("Cookie") == "sessionid=good-session"
    assert lookup.header("Authorization") is None


def test_a_rejected_credential_is_anonymous_and_remembered(monolith):
    flows = asyncio.run(
        identify(
            monolith, flow_with((b"Authorization", b"Token bad")), flow_with((b"Authorization", b"Token bad"))
        )
    )
    # the two flows ran concurrently: coalesced; a third, later, is served by the negative cache
    later = asyncio.run(identify(monolith, flow_with((b"Authorization", b"Token bad"))))

    for flow in (*flows, *later):
        assert flow.metadata[IDENTITY_KEY] == ANONYMOUS
        assert "X-Strangler-User-Id" not in flow.request.headers
    assert len(monolith.requests_to("/api/v1/accounts/me")) == 2  # one per addon instance (cache)


def test_many_concurrent_requests_with_one_credential_make_one_call_to_the_monolith(monolith):
    monolith.delay = 0.1
    flows = [flow_with((b"Authorization", b"Token good")) for _ in range(30)]

    asyncio.run(identify(monolith, *flows))

    assert {f.metadata[IDENTITY_KEY] for f in flows} == {ALICE}
    assert len(monolith.requests_to("/api/v1/accounts/me")) == 1


def test_when_the_monolith_is_down_the_request_goes_on_as_anonymous(monolith):
    monolith.stop()

    (flow,) = asyncio.run(
        identify(monolith, flow_with((b"Authorization", b"Token good")), strangler_identity_timeout=1.0)
    )

    assert flow.metadata[IDENTITY_KEY] == ANONYMOUS
    assert flow.response is None
    assert flow.metadata[SESSION_KEY]  # still sticky per credential


def test_a_slow_monolith_costs_at_most_the_lookup_timeout(monolith):
    monolith.delay = 2.0

    (flow,) = asyncio.run(
        identify(monolith, flow_with((b"Authorization", b"Token good")), strangler_identity_timeout=0.2)
    )

    assert flow.metadata[IDENTITY_KEY] == ANONYMOUS


def test_with_legacy_credentials_retired_a_token_is_refused_a_session_ignored_and_nothing_looked_up(monolith):
    token, session, jwt_user = asyncio.run(
        identify(
            monolith,
            flow_with((b"Authorization", b"Token good")),
            flow_with((b"Cookie", b"sessionid=good-session")),
            flow_with((b"Authorization", b"Bearer x.y.z"), (b"Cookie", b"sessionid=good-session")),
            strangler_legacy_credentials=False,
        )
    )

    assert (token.response.status_code, json.loads(token.response.content)["code"]) == (
        401,
        "legacy_credentials_retired",
    )
    for flow in (session, jwt_user):  # forwarded as anonymous (a JWT is the JwtAuth addon's business)
        assert flow.response is None
        assert flow.metadata[IDENTITY_KEY] == ANONYMOUS
    assert monolith.received == []


def test_a_request_without_credential_is_anonymous_and_nothing_is_looked_up(monolith):
    (flow,) = asyncio.run(identify(monolith, flow_with((b"X-Strangler-User-Id", b"1"))))

    assert flow.metadata[IDENTITY_KEY] == ANONYMOUS
    assert SESSION_KEY not in flow.metadata
    assert "X-Strangler-User-Id" not in flow.request.headers
    assert monolith.received == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strangler_identity_url": "ftp://x"}, "http://"),
        ({"strangler_identity_url": "", "mode": ["regular"]}, "set it"),
        ({"strangler_identity_url": "http://h:1", "strangler_identity_ttl": 0.0}, "strangler_identity_ttl"),
        ({"strangler_identity_url": "http://h:1", "strangler_identity_max_entries": 0}, "max_entries"),
    ],
)
def test_bad_identity_options_are_refused_at_configure_time(options, message, monkeypatch):
    monkeypatch.delenv("MONOLITH_URL", raising=False)
    addon = EdgeIdentity()
    with (
        addon_context(addon, strangler_identity_url="http://127.0.0.1:8000") as tctx,
        pytest.raises(exceptions.OptionsError, match=message),
    ):
        tctx.configure(addon, **options)
    assert addon.lookup_url == "http://127.0.0.1:8000/api/v1/accounts/me"  # the good configuration stays


def test_without_an_identity_url_the_reverse_mode_upstream_answers_lookups():
    addon = EdgeIdentity()
    with addon_context(addon, strangler_identity_url="", mode=["reverse:http://127.0.0.1:8765"]):
        pass

    assert addon.lookup_url == "http://127.0.0.1:8765/api/v1/accounts/me"


@pytest.mark.parametrize(
    "modes",
    [
        ["reverse:http://127.0.0.1:8000"],
        ["reverse:http://127.0.0.1:8000@8080"],
        ["regular", "reverse:http://127.0.0.1:8000"],
    ],
)
def test_the_legacy_upstream_comes_from_any_reverse_mode_spec_mitmproxy_accepts(modes):
    from strangler_proxy.identity import _legacy_from_mode

    legacy = _legacy_from_mode(modes)
    assert (legacy.host, legacy.port) == ("127.0.0.1", 8000)
