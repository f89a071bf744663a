"""The Tracing addon: X-Request-ID and W3C traceparent, kept when sane, created otherwise, sent upstream
and returned to the client."""

import re

import pytest
from mitmproxy.test import taddons, tflow, tutils

from strangler_proxy.tracing import TRACE_KEY, Tracing, parse_traceparent, trace_context

VALID_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (VALID_PARENT, ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "00"),
        ),
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later",
            ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01"),
        ),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_traceparent_accepts_only_valid_w3c_trace_context(value, parsed):
    assert parse_traceparent(value) == parsed


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123", True),
        ("a.b:c_d-e", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("<script>", False),
        ("", False),
        (None, False),
    ],
)
def test_a_sane_client_request_id_is_kept_and_any_other_is_replaced(incoming, kept):
    trace, _ = trace_context(incoming, None)

    assert (trace.request_id == incoming) is kept
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", trace.request_id)


def test_a_valid_client_trace_is_continued_with_a_new_span_for_the_gateway_hop():
    trace, kept = trace_context("r1", VALID_PARENT)

    assert kept is True
    assert trace.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace.span_id != "00f067aa0ba902b7"
    assert trace.traceparent == f"00-4bf92f3577b34da6a3ce929d0e0e4736-{trace.span_id}-01"


def test_without_a_valid_client_trace_a_new_sampled_trace_starts():
    first, kept = trace_context(None, "00-bad")
    second, _ = trace_context(None, None)

    assert kept is False
    assert TRACEPARENT.match(first.traceparent)
    assert first.traceparent.endswith("-01")
    assert first.trace_id != second.trace_id


def run(flow):
    addon = Tracing()
    with taddons.context(addon):
        addon.requestheaders(flow)
        flow.response = flow.response or tutils.tresp()
        addon.responseheaders(flow)
    return flow


def test_the_request_goes_upstream_and_the_response_comes_back_with_the_same_ids():
    flow = run(
        tflow.tflow(
            req=tutils.treq(headers=((b"X-Request-ID", b"client-7"), (b"traceparent", VALID_PARENT.encode())))
        )
    )

    trace = flow.metadata[TRACE_KEY]
    assert flow.request.headers["X-Request-ID"] == flow.response.headers["X-Request-ID"] == "client-7"
    assert flow.request.headers["traceparent"] == flow.response.headers["traceparent"] == trace.traceparent
    assert trace.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_ids_are_created_when_the_client_sends_none():
    flow = run(tflow.tflow(req=tutils.treq(headers=((b"host", b"example.com"),))))

    assert re.fullmatch(r"[0-9a-f]{32}", flow.request.headers["X-Request-ID"])
    assert TRACEPARENT.match(flow.response.headers["traceparent"])


def test_tracestate_of_a_trace_that_is_not_continued_is_dropped_and_kept_otherwise():
    dropped = run(tflow.tflow(req=tutils.treq(headers=((b"traceparent", b"junk"), (b"tracestate", b"v=1")))))
    kept = run(
        tflow.tflow(
            req=tutils.treq(headers=((b"traceparent", VALID_PARENT.encode()), (b"tracestate", b"v=1")))
        )
    )

    assert "tracestate" not in dropped.request.headers
    assert kept.request.headers["tracestate"] == "v=1"


def test_a_response_the_gateway_made_itself_carries_the_ids_too():
    flow = tflow.tflow(req=tutils.treq(headers=((b"X-Request-ID", b"mine"),)))
    addon = Tracing()
    with taddons.context(addon):
        addon.requestheaders(flow)
        flow.response = tutils.tresp(status_code=400)
        addon.responseheaders(flow)

    assert flow.response.headers["X-Request-ID"] == "mine"
    assert TRACEPARENT.match(flow.response.headers["traceparent"])
