"""The gateway fails closed: an exception in any addon's request-path hook ends that request with the
gateway's own 500 error body, and nothing is forwarded.

mitmproxy catches an exception raised by a hook, logs "Addon error" and carries on: the request would be
forwarded with whatever checks had not run yet (an unverified Bearer token, a header the Forwarder's
client refused). `guard()` is applied to every addon at the one composition point (addon.py), so an
addon added there is guarded without doing anything. The guard calls the hook through the addon's class
at each call, so it also covers a hook replaced after start (the fault-injection test does that).
Later hooks skip the flow because it has a response; Audit and Metrics still record it.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from mitmproxy import http

from strangler_proxy.gateway_errors import answer, error_response

logger = logging.getLogger(__name__)

REQUEST_HOOKS = ("requestheaders", "request")
FAILED_KEY = "strangler.failed"  # flow.metadata: "<addon>.<hook>" that raised


def refuse(flow: http.HTTPFlow, where: str, exc: BaseException) -> None:
    """End `flow` with the gateway's 500 (once: the first failure is the one recorded)."""
    logger.error(
        "%s failed on %s %s: %r; answered 500", where, flow.request.method, flow.request.path[:200], exc
    )
    flow.metadata.setdefault(FAILED_KEY, where)
    answer(
        flow,
        error_response(
            500, "gateway_error", "The gateway could not process this request; it was not forwarded."
        ),
    )


def _sync_guard(addon: Any, hook: str, where: str):
    cls = type(addon)

    def guarded(flow: http.HTTPFlow):
        try:
            result = getattr(cls, hook)(addon, flow)
        except Exception as exc:
            refuse(flow, where, exc)
            return None
        if inspect.isawaitable(result):  # a hook replaced by an async one after start
            return _awaited(result, flow, where)
        return result

    return guarded


async def _awaited(result, flow: http.HTTPFlow, where: str) -> None:
    try:
        await result
    except Exception as exc:
        refuse(flow, where, exc)


def _async_guard(addon: Any, hook: str, where: str):
    cls = type(addon)

    async def guarded(flow: http.HTTPFlow) -> None:
        try:
            result = getattr(cls, hook)(addon, flow)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            refuse(flow, where, exc)

    return guarded


def guard(addon: Any) -> Any:
    """Make `addon`'s request-path hooks fail closed (in place); returns the addon."""
    cls = type(addon)
    for hook in REQUEST_HOOKS:
        function = getattr(cls, hook, None)
        if function is None:
            continue
        where = f"{cls.__name__}.{hook}"
        make = _async_guard if inspect.iscoroutinefunction(function) else _sync_guard
        setattr(addon, hook, make(addon, hook, where))
    return addon


def is_guarded(addon: Any) -> bool:
    return all(hook in vars(addon) for hook in REQUEST_HOOKS if getattr(type(addon), hook, None) is not None)
