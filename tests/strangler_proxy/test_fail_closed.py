"""The gateway fails closed: an exception in any addon's request hook answers 500 `gateway_error` from the
gateway, and the upstream sees nothing (a real gateway process, a fault injected into each hook in turn)."""

from __future__ import annotations

import asyncio

import pytest
import requests
from mitmproxy.test import tflow

from strangler_proxy.addon import CHAIN, build_addons
from strangler_proxy.fail_closed import FAILED_KEY, guard, is_guarded

from .conftest import REPO
from .fault_injection import FAULT_HEADER, request_hooks

PATH = "/api/v1/catalog/products/1"


def test_every_addon_of_the_chain_is_guarded():
    built = build_addons()
    assert len(built) == len(CHAIN)
    assert all(is_guarded(addon) for addon in built)


def test_the_chain_has_request_hooks_to_inject_into():
    hooks = request_hooks()
    for expected in ("RequestGuard.requestheaders", "JwtAuth.requestheaders", "Router.requestheaders"):
        assert expected in hooks
    assert hooks[-1] == "Forwarder.request"  # nothing runs after the request has left


class Toy:
    def requestheaders(self, flow):
        raise KeyError("sync")

    async def request(self, flow):
        raise ValueError("async")


@pytest.mark.parametrize("hook", ["requestheaders", "request"])
def test_a_guarded_hook_that_raises_answers_500_and_records_where(hook):
    flow = tflow.tflow()
    result = getattr(guard(Toy()), hook)(flow)
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    assert flow.response.status_code == 500
    assert b'"gateway_error"' in flow.response.content
    assert flow.metadata[FAILED_KEY] == f"Toy.{hook}"


def test_a_fault_in_any_request_hook_is_a_500_and_reaches_no_upstream(gateway_process, standin_upstream):
    gateway = gateway_process(
        legacy_url=standin_upstream.url,
        extra_args=["-s", str(REPO / "tests" / "strangler_proxy" / "fault_injection.py")],
    )
    refused = {}
    for where in request_hooks():
        answer = requests.get(f"{gateway.url}{PATH}", headers={FAULT_HEADER: where}, timeout=30)
        refused[where] = (answer.status_code, answer.json().get("code"))
    assert refused == {where: (500, "gateway_error") for where in request_hooks()}
    assert standin_upstream.requests_to(PATH) == []

    answer = requests.get(f"{gateway.url}{PATH}", timeout=30)  # the same request without a fault goes through
    assert answer.status_code == 200
    assert len(standin_upstream.requests_to(PATH)) == 1
