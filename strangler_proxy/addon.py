"""The gateway's one composition point: `mitmdump --mode reverse:<monolith> -s strangler_proxy/addon.py`.

Order matters (each hook runs addon by addon in this order):
- ConnectionLimits caps connections per client address (its head size and time limits act while a head is
  read, before any hook);
- Tracing first, so even requests the gateway refuses carry a request id and a traceparent;
- RequestGuard makes the request canonical (one target, no fragment, no hop-by-hop or client-claimed
  X-Forwarded-* fields) and refuses malformed ones (HTTP version, oversized or folded headers, Host,
  path traversal) before anything is looked up or forwarded;
- EdgeIdentity strips client X-Strangler-* headers before anything reads them and says who the user is;
  JwtAuth verifies a Bearer JWT locally (a bad one: 401 from the gateway) and makes it the identity;
- RateLimit may answer 429; Router picks the upstream; TesterOverride sends a staff tester holding a
  signed override to the route's target; LoginStickiness re-buckets an anonymous login by the username in
  its body; PayloadValidation checks the parameters and JSON body of a route that names its target's
  OpenAPI contract (400 invalid_request); IdentityHeader swaps a JWT for the signed X-Strangler-Identity
  (bound to the method, target and body) on requests routed to the monolith; Shadow snapshots shadow
  routes' requests and mirrors them in the background (publishing the shadow pairs once legacy has
  answered); Forwarder calls the upstream (pooled
  connections, timeouts, bulkheads, breakers, fallback): the last request hook, so no check runs after
  the request has left; Audit and Metrics record what happened.

Every addon built here fails closed (fail_closed.guard): an exception in its request hooks ends the request
with the gateway's 500 and nothing is forwarded. New addons are one line in CHAIN and are guarded too.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("strangler_proxy") is None:  # loaded by path as a mitmproxy script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strangler_proxy import connection_limits, gateway_errors, protocol_errors
from strangler_proxy.fail_closed import guard

# (module, class) in chain order.
CHAIN: tuple[tuple[str, str], ...] = (
    ("strangler_proxy.connection_limits", "ConnectionLimits"),
    ("strangler_proxy.tracing", "Tracing"),
    ("strangler_proxy.guard", "RequestGuard"),
    ("strangler_proxy.identity", "EdgeIdentity"),
    ("strangler_proxy.jwt_auth", "JwtAuth"),
    ("strangler_proxy.ratelimit", "RateLimit"),
    ("strangler_proxy.routing", "Router"),
    ("strangler_proxy.override", "TesterOverride"),
    ("strangler_proxy.jwt_auth", "LoginStickiness"),
    ("strangler_proxy.openapi_validation", "PayloadValidation"),
    ("strangler_proxy.jwt_auth", "IdentityHeader"),
    ("strangler_proxy.shadow_capture", "Shadow"),
    ("strangler_proxy.forwarding", "Forwarder"),
    ("strangler_proxy.recorder", "Recorder"),
    ("strangler_proxy.audit", "Audit"),
    ("strangler_proxy.metrics", "Metrics"),
)


def build_addons() -> list[object]:
    """One fail-closed instance of each addon of CHAIN whose module exists in this checkout (rate limiting,
    forwarding, audit and metrics are optional while they are being written); an existing module that
    fails to import is an error, never skipped."""
    built: list[object] = []
    for module_name, class_name in CHAIN:
        if importlib.util.find_spec(module_name) is None:
            continue
        built.append(guard(getattr(importlib.import_module(module_name), class_name)()))
    return built


protocol_errors.install()  # mitmproxy's own protocol-error pages become the gateway's JSON errors
connection_limits.install()  # request heads bounded in size and time, idle connections closed
gateway_errors.install()  # the body of a request the gateway answered itself is dropped, not buffered
addons = build_addons()

__all__ = ["CHAIN", "addons", "build_addons"]
