"""A scripted shopping journey over the monolith's public HTTP API.

register -> browse -> cart -> coupon -> checkout -> webhook -> refund, each step checked, so the demo
shows what happened and the e2e test fails at the first step that misbehaves. It knows nothing of the
monolith's internals: it is what a client (and later the gateway) sees. Through the gateway with
auth.login moved, the token it logs in with is the Auth service's JWT (`token_type: Bearer`), and it is
sent as such.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests

APPROVED_CARD = {
    "number": "4242424242424242",
    "exp_month": 12,
    "exp_year": 2030,
    "cvc": "123",
    "holder": "Demo Shopper",
}
SHIPPING = {
    "name": "Ada Lovelace",
    "line1": "10 rue de Rivoli",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}


class JourneyError(AssertionError):
    """A step of the journey got an answer it should not have."""


@dataclass
class Step:
    name: str
    detail: str
    status: int
    elapsed_ms: float


@dataclass
class JourneyResult:
    steps: list[Step] = field(default_factory=list)
    username: str = ""
    user_id: int | None = None
    password: str = ""  # the shopper's, made up at registration (a test logs in again with it)
    order_number: str = ""
    payment_id: int | None = None
    order_total: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    final_order_status: str = ""
    webhook_events: list[str] = field(default_factory=list)


@dataclass
class Journey:
    base_url: str
    sandbox_url: str
    webhook_secret: str
    staff_username: str
    staff_password: str
    coupon_code: str = "WELCOME10"
    gateway: str = "cardinal"
    on_step: Callable[[Step], None] = lambda step: None
    webhook_url: str | None = None  # where the sandbox reaches the monolith; defaults to base_url
    timeout: float = 15.0
    http: requests.Session = field(default_factory=requests.Session)
    steps: list[Step] = field(default_factory=list)
    schemes: dict[str, str] = field(default_factory=dict)  # token -> its scheme (Token, or Bearer)

    def run(self) -> JourneyResult:
        result = JourneyResult(steps=self.steps)
        self._point_sandbox_webhooks_at_monolith()
        token = self._register_and_log_in(result)
        product = self._browse(token)
        self._fill_cart(token, product)
        self._quote_and_validate_coupon(token)
        order = self._checkout(token, result)
        self._await_webhook(result, "charge.captured")
        self._refund(order, result)
        self._check_history(token, result)
        return result

    # --- steps -------------------------------------------------------------------------------------------

    def _point_sandbox_webhooks_at_monolith(self) -> None:
        target = (self.webhook_url or self.base_url).rstrip("/")
        self._call(
            "configure sandbox",
            "PUT",
            f"{self.sandbox_url}/_sandbox/gateways/{self.gateway}",
            json={
                "webhook_url": f"{target}/api/v1/payments/webhooks/{self.gateway}",
                "webhook_secret": self.webhook_secret,
            },
            expect=200,
            describe=lambda body: f"{self.gateway} webhooks -> monolith",
        )

    def _register_and_log_in(self, result: JourneyResult) -> str:
        username = f"shopper-{uuid.uuid4().hex[:8]}"
        password = f"Pw-{uuid.uuid4().hex}"
        registered = self._call(
            "register",
            "POST",
            self._api("/accounts/register"),
            json={
                "username": username,
                "email": f"{username}@example.com",
                "password": password,
                "first_name": "Ada",
                "last_name": "Lovelace",
            },
            expect=201,
            describe=lambda body: f"{body['username']} (role {body['role']})",
        )
        body = self._call(
            "log in",
            "POST",
            self._api("/accounts/tokens"),
            json={"username": username, "password": password, "name": "journey"},
            expect=201,
            describe=lambda body: f"legacy API token {body['prefix']}… until {body['expires_at']}",
        )
        result.username = username
        result.user_id = registered["id"]
        result.password = password
        return self._remember_scheme(body)

    def _browse(self, token: str) -> dict[str, Any]:
        categories = self._call(
            "list categories",
            "GET",
            self._api("/catalog/categories"),
            expect=200,
            describe=lambda b: f"{len(_results(b))} categories",
        )
        slug = _results(categories)[0]["slug"]
        self._call(
            "filter products",
            "GET",
            self._api("/catalog/products"),
            token=token,
            expect=200,
            params={"category": slug, "in_stock": "true", "ordering": "price"},
            describe=lambda b: f"{b['count']} in stock in '{slug}'",
        )
        listing = self._call(
            "search products",
            "GET",
            self._api("/catalog/products"),
            token=token,
            expect=200,
            params={"in_stock": "true", "ordering": "-stock", "page_size": 5},
            describe=lambda b: f"top stock: {b['results'][0]['name'] if b['results'] else '-'}",
        )
        candidates = [p for p in listing["results"] if p["stock"] >= 2]
        if not candidates:
            raise JourneyError("no product with at least 2 units in stock to buy")
        product = candidates[0]
        term = product["name"].split()[0]
        self._call(
            "text search",
            "GET",
            self._api("/catalog/products"),
            token=token,
            expect=200,
            params={"q": term},
            describe=lambda b: f"'{term}' -> {b['count']} hits",
        )
        self._call(
            "product detail",
            "GET",
            self._api(f"/catalog/products/{product['id']}"),
            token=token,
            expect=200,
            describe=lambda b: f"{b['sku']} {b['name']} at {b['price']} {b['currency']}",
        )
        return product

    def _fill_cart(self, token: str, product: dict[str, Any]) -> None:
        self._call(
            "add to cart",
            "POST",
            self._api("/orders/cart/items"),
            token=token,
            expect=201,
            json={"product_id": product["id"], "quantity": 2},
            describe=lambda b: f"{b['item_count']} items, subtotal {b['subtotal']}",
        )
        self._call(
            "bad quantity refused",
            "POST",
            self._api("/orders/cart/items"),
            token=token,
            expect=400,
            json={"product_id": product["id"], "quantity": -1},
            describe=lambda b: b["code"],
        )

    def _quote_and_validate_coupon(self, token: str) -> None:
        self._call(
            "shipping quote",
            "POST",
            self._api("/orders/shipping/quote"),
            token=token,
            expect=200,
            json={"country": SHIPPING["country"], "postal_code": SHIPPING["postal_code"]},
            describe=lambda b: f"{b['carrier']} {b['price']} in {b['delivery_days']} days",
        )
        self._call(
            "validate coupon",
            "POST",
            self._api("/orders/coupons/validate"),
            token=token,
            expect=200,
            json={"code": self.coupon_code},
            describe=lambda b: f"{b['code']}: -{b['discount']}",
        )

    def _checkout(self, token: str, result: JourneyResult) -> dict[str, Any]:
        key = uuid.uuid4().hex
        payload = {
            "shipping": SHIPPING,
            "coupon_code": self.coupon_code,
            "payment": {"gateway": self.gateway, "card": APPROVED_CARD},
        }
        order = self._call(
            "checkout",
            "POST",
            self._api("/orders/checkout"),
            token=token,
            json=payload,
            expect=201,
            headers={"Idempotency-Key": key},
            describe=lambda b: (
                f"order {b['number']} {b['status']}, total {b['total']} (discount {b['discount_total']}, "
                f"shipping {b['shipping_total']}), card …{b['payment']['card_last4']}"
            ),
        )
        if order["status"] != "paid":
            raise JourneyError(f"checkout ended {order['status']}, expected paid")
        replay = self._call(
            "checkout replay",
            "POST",
            self._api("/orders/checkout"),
            token=token,
            json=payload,
            expect=200,
            headers={"Idempotency-Key": key},
            describe=lambda b: f"same key -> same order {b['number']}, no second charge",
        )
        if replay["number"] != order["number"]:
            raise JourneyError("an idempotent checkout replay created another order")
        result.order_number = order["number"]
        result.order_total = Decimal(order["total"])
        result.payment_id = order["payment"]["id"]
        return order

    def _await_webhook(self, result: JourneyResult, event_type: str) -> None:
        """Wait until the sandbox has delivered `event_type` for our payment and the monolith took it."""
        url = f"{self.sandbox_url}/_sandbox/gateways/{self.gateway}/webhooks"
        deadline = time.monotonic() + self.timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            deliveries = self.http.get(url, timeout=self.timeout).json()["deliveries"]
            done = [d for d in deliveries if d["type"] == event_type and d.get("response_status") == 200]
            if done:
                step = Step(
                    "webhook",
                    f"{event_type} delivered to the monolith, answered 200",
                    200,
                    (time.monotonic() - started) * 1000,
                )
                self._record(step)
                result.webhook_events.append(event_type)
                return
            time.sleep(0.1)
        raise JourneyError(f"the sandbox did not deliver {event_type} within {self.timeout:.0f} s")

    def _refund(self, order: dict[str, Any], result: JourneyResult) -> None:
        staff = self._remember_scheme(
            self._call(
                "staff log in",
                "POST",
                self._api("/accounts/tokens"),
                expect=201,
                json={"username": self.staff_username, "password": self.staff_password},
                describe=lambda b: f"{self.staff_username}",
            )
        )
        refund = self._call(
            "refund",
            "POST",
            self._api(f"/payments/{result.payment_id}/refunds"),
            token=staff,
            expect=201,
            json={"reason": "customer changed their mind"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
            describe=lambda b: f"{b['amount']} refunded, {b['status']}",
        )
        result.refunded = Decimal(refund["amount"])

    def _check_history(self, token: str, result: JourneyResult) -> None:
        history = self._call(
            "order history",
            "GET",
            self._api("/orders"),
            token=token,
            expect=200,
            describe=lambda b: ", ".join(f"{o['number']} {o['status']}" for o in b["results"]),
        )
        mine = [o for o in history["results"] if o["number"] == result.order_number]
        if not mine:
            raise JourneyError("the order is missing from the customer's history")
        result.final_order_status = mine[0]["status"]

    # --- plumbing ----------------------------------------------------------------------------------------

    def _remember_scheme(self, issued: dict[str, Any]) -> str:
        """The token of a POST /accounts/tokens answer, sent later with the scheme it was issued for."""
        self.schemes[issued["token"]] = issued.get("token_type") or "Token"
        return issued["token"]

    def _api(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/api/v1{path}"

    def _call(
        self,
        name: str,
        method: str,
        url: str,
        *,
        expect: int,
        describe: Callable[[Any], str],
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs,
    ) -> Any:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"{self.schemes.get(token, 'Token')} {token}"
        started = time.monotonic()
        response = self.http.request(method, url, headers=all_headers, timeout=self.timeout, **kwargs)
        elapsed = (time.monotonic() - started) * 1000
        try:
            body = response.json()
        except ValueError:
            body = None
        if body is None and response.content:  # e.g. an HTML error page: say so, never print it
            first = response.text.strip().splitlines()[0][:120] if response.text.strip() else ""
            raise JourneyError(
                f"{name}: {method} {url} answered {response.status_code} with "
                f"{response.headers.get('Content-Type', 'no content type')}, not JSON: {first}"
            )
        if response.status_code != expect:
            raise JourneyError(
                f"{name}: {method} {url} answered {response.status_code}, expected {expect}: "
                f"{response.text[:500]}"
            )
        self._record(Step(name, describe(body), response.status_code, elapsed))
        return body

    def _record(self, step: Step) -> None:
        self.steps.append(step)
        self.on_step(step)


def _results(body: Any) -> list[dict[str, Any]]:
    return body["results"] if isinstance(body, dict) else body
