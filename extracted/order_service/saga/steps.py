"""The checkout saga's steps: their order, which run where, and what undoes each.

Forward: create_order (pending; in the checkout request's transaction) -> reserve_stock -> redeem_coupon
(only with a coupon) -> authorize_payment -> confirm_order -> capture_payment (both only when there is
something to pay). Compensations run in reverse: refund or void the payment, give the coupon back, release
the stock, fail the order with a reason the customer can act on (and put the lines back in the cart).

Remote steps are commands to a participant (stock, payment) over the broker; local steps touch only this
service's tables and run inline, in the same transaction as the saga's state change, so they happen exactly
once by construction.
"""

from __future__ import annotations

FORWARD = (
    "create_order",
    "reserve_stock",
    "redeem_coupon",
    "authorize_payment",
    "confirm_order",
    "capture_payment",
)
REMOTE = frozenset(
    {
        "reserve_stock",
        "authorize_payment",
        "capture_payment",
        "release_stock",
        "void_payment",
        "refund_payment",
    }
)
PAYMENT_STEPS = frozenset({"authorize_payment", "confirm_order", "capture_payment"})
COMPENSATION_STEPS = ("refund_payment", "void_payment", "return_coupon", "release_stock", "fail_order")


def forward_steps(*, with_coupon: bool, with_payment: bool) -> list[str]:
    steps = list(FORWARD)
    if not with_coupon:
        steps.remove("redeem_coupon")
    if not with_payment:
        steps = [step for step in steps if step not in PAYMENT_STEPS]
    return steps


def next_forward(plan: list[str], done: list[str]) -> str | None:
    for step in plan:
        if step not in done:
            return step
    return None


def compensation_plan(*, done: list[str], current: str | None, current_refused: bool) -> list[str]:
    """What undoes the saga so far, in reverse. The step in hand is undone too unless its participant
    refused it (then it did nothing); undoing what never happened is a no-op for every participant."""
    steps = list(reversed(done))
    if current and current not in done and not current_refused:
        steps.insert(0, current)
    captured = "capture_payment" in steps
    plan: list[str] = []
    for step in steps:
        undo = {
            "capture_payment": "refund_payment",
            "authorize_payment": None if captured else "void_payment",
            "redeem_coupon": "return_coupon",
            "reserve_stock": "release_stock",
            "create_order": "fail_order",
        }.get(step)
        if undo and undo not in plan:
            plan.append(undo)
    if "fail_order" not in plan:
        plan.append("fail_order")
    return plan
