"""RequestGuard: requests no well-behaved client sends are answered by the gateway, never forwarded."""

import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow, tutils

from strangler_proxy.guard import PATH_KEY, RequestGuard
from tests.strangler_proxy.conftest import addon_context


def guarded(request, **options):
    if "host" not in request.headers:  # tutils.treq has none; HTTP/1.1 needs one (test_edge_headers.py)
        request.headers["Host"] = "gateway.test"
    addon = RequestGuard()
    flow = tflow.tflow(req=request)
    with addon_context(addon, **options):
        addon.requestheaders(flow)
    return flow


def many_headers(count: int, value: bytes = b"v"):
    return tuple((b"X-H%d" % i, value) for i in range(count))


# (name, request, status, code)
REFUSED = [
    ("unknown HTTP version", tutils.treq(http_version=b"HTTP/9.9"), 400, "unsupported_http_version"),
    ("long target", tutils.treq(path=b"/" + b"a" * 9000), 414, "uri_too_long"),
    (
        "too many header fields",
        tutils.treq(headers=many_headers(101)),
        431,
        "request_header_fields_too_large",
    ),
    (
        "header block too large",
        tutils.treq(headers=many_headers(5, b"a" * 8000)),
        431,
        "request_header_fields_too_large",
    ),
    (
        "one huge header",
        tutils.treq(headers=((b"X-Big", b"a" * 1_000_000),)),
        431,
        "request_header_fields_too_large",
    ),
    ("traversal", tutils.treq(path=b"/api/v1/../../etc/passwd"), 400, "bad_request_path"),
    ("encoded traversal", tutils.treq(path=b"/api/%2e%2e/admin"), 400, "bad_request_path"),
    ("double slash", tutils.treq(path=b"//api/v1"), 400, "bad_request_path"),
    ("NUL", tutils.treq(path=b"/api/v1%00"), 400, "bad_request_path"),
]


@pytest.mark.parametrize(
    ("request_", "status", "code"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_a_malformed_request_is_answered_by_the_gateway_in_the_monolith_error_shape(request_, status, code):
    flow = guarded(request_)

    assert flow.response.status_code == status
    body = flow.response.json()
    assert body["code"] == code
    assert set(body) == {"code", "message", "extra"}
    assert PATH_KEY not in flow.metadata


@pytest.mark.parametrize(
    "request_",
    [
        tutils.treq(path=b"/api/v1/catalog/products?q=a"),
        tutils.treq(http_version=b"HTTP/1.0"),
        tutils.treq(headers=many_headers(99)),  # + Host: exactly the limit of 100
        tutils.treq(path=b"/" + b"a" * 8000),
    ],
)
def test_a_well_formed_request_passes_with_its_decoded_path_for_the_router(request_):
    flow = guarded(request_)

    assert flow.response is None
    assert flow.metadata[PATH_KEY] == request_.path.split("?")[0]


def test_the_limits_are_options():
    flow = guarded(tutils.treq(headers=many_headers(3)), strangler_max_headers=2)

    assert flow.response.status_code == 431


def test_a_limit_below_one_is_refused_at_configure_time():
    addon = RequestGuard()
    with addon_context(addon) as tctx, pytest.raises(exceptions.OptionsError, match="strangler_max_headers"):
        tctx.configure(addon, strangler_max_headers=0)
