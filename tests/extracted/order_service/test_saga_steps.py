"""The saga's step table: which steps run, and what undoes them in which order."""

import pytest

from extracted.order_service.saga.steps import compensation_plan, forward_steps, next_forward


def test_a_paid_order_with_a_coupon_runs_every_step_in_order():
    assert forward_steps(with_coupon=True, with_payment=True) == [
        "create_order",
        "reserve_stock",
        "redeem_coupon",
        "authorize_payment",
        "confirm_order",
        "capture_payment",
    ]


def test_a_free_order_without_a_coupon_only_takes_stock():
    assert forward_steps(with_coupon=False, with_payment=False) == ["create_order", "reserve_stock"]


def test_next_forward_is_the_first_step_not_done():
    plan = forward_steps(with_coupon=False, with_payment=True)
    assert next_forward(plan, ["create_order"]) == "reserve_stock"
    assert next_forward(plan, plan) is None


@pytest.mark.parametrize(
    ("done", "current", "refused", "plan"),
    [
        # stock refused: nothing was taken, the order fails
        (["create_order"], "reserve_stock", True, ["fail_order"]),
        # stock timed out: it may have been taken, so it is released
        (["create_order"], "reserve_stock", False, ["release_stock", "fail_order"]),
        # card declined after the coupon: coupon back, stock back, order failed
        (
            ["create_order", "reserve_stock", "redeem_coupon"],
            "authorize_payment",
            True,
            ["return_coupon", "release_stock", "fail_order"],
        ),
        # authorize unanswered: void it (a no-op if it never happened)
        (
            ["create_order", "reserve_stock"],
            "authorize_payment",
            False,
            ["void_payment", "release_stock", "fail_order"],
        ),
        # capture unknown: refund (which is a void when nothing was captured), never both
        (
            ["create_order", "reserve_stock", "authorize_payment", "confirm_order"],
            "capture_payment",
            False,
            ["refund_payment", "release_stock", "fail_order"],
        ),
    ],
)
def test_compensations_run_in_reverse_and_undo_only_what_may_have_happened(done, current, refused, plan):
    assert compensation_plan(done=done, current=current, current_refused=refused) == plan
