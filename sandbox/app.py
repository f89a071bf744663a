"""The sandbox Flask app: both gateways plus the `/_sandbox` control plane (knobs, reset, webhook log)."""

from __future__ import annotations

import os

from flask import Flask, request

from . import cardinal, messaging, northpay
from .knobs import KnobError, Knobs
from .state import Gateway, GatewayError
from .webhooks import deliver

DEFAULT_API_KEY = "dev-only-gateway-api-key"  # DEV-ONLY: the monolith's PAYMENT_API_KEY default
DEFAULT_WEBHOOK_SECRET = "dev-only-webhook-secret"  # DEV-ONLY: the monolith's PAYMENT_WEBHOOK_SECRET default
DEFAULT_TEST_API_KEY = (
    "dev-only-gateway-test-key"  # DEV-ONLY: the Payment service's PAYMENT_TEST_API_KEY default
)
LIVE_GATEWAYS = ("cardinal", "northpay")
MAX_BODY_BYTES = 64 * 1024


def base_knobs_from_env(
    *,
    api_key: str | None = None,
    webhook_secret: str | None = None,
    webhook_url: str | None = None,
    test_api_key: str | None = None,
) -> dict[str, Knobs]:
    """The knobs each gateway starts with (and returns to on reset). `{gateway}` in the URL is filled in.

    Each gateway has a test-mode twin, `<name>-test` under `/<name>-test/...` (a provider's test endpoint,
    as Adyen has): the same API with its own key, its own ledger and no webhooks, so requests made there
    never touch the live ledger."""
    api_key = api_key or os.environ.get("SANDBOX_API_KEY", DEFAULT_API_KEY)
    test_key = test_api_key or os.environ.get("SANDBOX_TEST_API_KEY", DEFAULT_TEST_API_KEY)
    secret = webhook_secret or os.environ.get("SANDBOX_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET)
    url = webhook_url if webhook_url is not None else os.environ.get("SANDBOX_WEBHOOK_URL", "")
    knobs = {
        name: Knobs().updated(
            {"api_key": api_key, "webhook_secret": secret, "webhook_url": url.replace("{gateway}", name)}
        )
        for name in LIVE_GATEWAYS
    }
    for name in LIVE_GATEWAYS:
        knobs[f"{name}-test"] = Knobs().updated({"api_key": test_key, "webhook_secret": secret})
    return knobs


def create_app(base_knobs: dict[str, Knobs] | None = None) -> Flask:
    base = base_knobs or base_knobs_from_env()
    kinds = {"cardinal": cardinal, "northpay": northpay}
    gateways: dict[str, Gateway] = {}
    app = Flask("sandbox")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["sandbox_gateways"] = gateways
    for name in (*LIVE_GATEWAYS, *(f"{live}-test" for live in LIVE_GATEWAYS)):
        if name not in base:
            continue
        module = kinds[name.removesuffix("-test")]
        gateway = module.Cardinal(base[name]) if module is cardinal else module.Northpay(base[name])
        gateways[name] = gateway
        app.register_blueprint(module.blueprint(gateway, prefix=name))

    messaging.register(app, messaging.base_knobs_from_env(dict(os.environ)))  # push and SMS providers

    def gateway_or_404(name: str) -> Gateway:
        gateway = gateways.get(name)
        if gateway is None:
            raise _ControlError(404, "gateway_not_found", f"No gateway {name!r}; known: {sorted(gateways)}")
        return gateway

    @app.get("/_sandbox/healthz")
    def healthz():
        return {"status": "ok", "gateways": sorted(gateways)}

    @app.get("/_sandbox/gateways")
    def list_gateways():
        return {name: gw.knobs.as_dict() for name, gw in gateways.items()}

    @app.get("/_sandbox/gateways/<name>")
    def get_knobs(name: str):
        return gateway_or_404(name).knobs.as_dict()

    @app.route("/_sandbox/gateways/<name>", methods=["PUT", "PATCH"])
    def set_knobs(name: str):
        """Change some knobs (fields not sent keep their value). Takes effect on the next request."""
        gateway = gateway_or_404(name)
        changes = request.get_json(silent=True)
        if not isinstance(changes, dict):
            raise _ControlError(400, "malformed_request", "The body must be a JSON object of knobs")
        try:
            return gateway.configure(changes).as_dict()
        except KnobError as error:
            raise _ControlError(
                400, "invalid_knobs", "Some knobs were refused", fields=error.fields
            ) from None

    @app.post("/_sandbox/reset")
    def reset():
        """Forget every card, charge, refund and event; knobs back to their start values; reseed the RNG."""
        body = request.get_json(silent=True) or {}
        seed = body.get("seed") if isinstance(body, dict) else None
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise _ControlError(
                400, "invalid_knobs", "seed must be an integer", fields={"seed": "not an integer"}
            )
        for gateway in gateways.values():
            gateway.reset(seed)
        return {"status": "reset", "seed": seed}

    @app.get("/_sandbox/gateways/<name>/webhooks")
    def webhook_log(name: str):
        gateway = gateway_or_404(name)
        with gateway.lock:
            events = [e.envelope(gateway.name) for e in gateway.events.values()]
            deliveries = list(gateway.deliveries)
        return {"events": events, "deliveries": deliveries}

    @app.post("/_sandbox/gateways/<name>/webhooks/replay/<event_id>")
    def replay(name: str, event_id: str):
        """Deliver a past event again, now and synchronously, to the current webhook URL."""
        gateway = gateway_or_404(name)
        with gateway.lock:
            event = gateway.events.get(event_id)
            knobs = gateway.knobs
            attempt = 1 + sum(1 for d in gateway.deliveries if d["event_id"] == event_id)
        if event is None:
            raise _ControlError(404, "event_not_found", f"No event {event_id} at {name}")
        if not knobs.webhook_url:
            raise _ControlError(409, "webhook_url_not_set", f"Set webhook_url on {name} first")
        delivery = deliver(
            gateway,
            event,
            url=knobs.webhook_url,
            secret=knobs.webhook_secret,
            attempt=attempt,
            trigger="replay",
        )
        gateway.record_delivery(delivery)
        return delivery

    @app.get("/_sandbox/gateways/<name>/charges")
    def ledger(name: str):
        """Every charge in the gateway's own shape: what later stages reconcile against."""
        gateway = gateway_or_404(name)
        with gateway.lock:
            return {"charges": [gateway.render_charge(c) for c in gateway.charges.values()]}

    @app.errorhandler(_ControlError)
    def control_error(error: _ControlError):
        return {"error": error.code, "message": error.message, "fields": error.fields}, error.status

    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(413)
    def http_error(error):
        """Errors raised by Flask itself, rendered in the shape of the gateway the path belongs to."""
        code = {404: "not_found", 405: "not_found", 413: "malformed_request"}[error.code]
        gateway = gateways.get(request.path.strip("/").split("/")[0])
        if gateway is not None:
            _status, body = gateway.render_error(GatewayError(code, error.description))
            return body, error.code if error.code != 405 else 404
        return {"error": code, "message": error.description, "fields": {}}, error.code

    return app


class _ControlError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}
