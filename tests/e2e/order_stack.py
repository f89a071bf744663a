"""The e2e tests' orders stack (legacy_monolith/demo/order_stack.py, shared with the drill and bench)."""

from legacy_monolith.demo.order_stack import (
    APPROVED,
    DECLINED,
    Customer,
    OrdersStack,
    checkout_body,
    running_orders_stack,
)

__all__ = ["APPROVED", "DECLINED", "Customer", "OrdersStack", "checkout_body", "running_orders_stack"]
