"""Row locks on orders."""

from ..models import Order


def order_lock(pk: int) -> Order:
    """SELECT ... FOR NO KEY UPDATE: serializes status changes of one order without waiting on the
    transactions that merely reference it (payment_charge inserts a Payment, which holds FOR KEY SHARE
    on the order for as long as its gateway call lasts). No-op on SQLite, which serializes writers."""
    return Order.objects.select_for_update(no_key=True).get(pk=pk)
