"""The ORM store's stock levels, owned by the service from cutover on: rows locked in ascending id
order, each change recorded once in the stock ledger under its reference (a replay changes nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from contracts.product import MAX_INT32, doc_digest

from ...models import StockLedgerEntry
from .. import common
from ..port import (
    InsufficientStock,
    OutOfStock,
    ProductNotFound,
    Reservation,
    ShortLine,
    StockLine,
)
from .base import OrmStoreBase


class OrmStock(OrmStoreBase):
    """Stock adjustments, reservations and releases, each once per reference."""

    def _lock(self, product_ids: Sequence[int]) -> dict[int, tuple[int, bool, dict]]:
        """SELECT ... FOR UPDATE in ascending id order (no two callers lock in opposite orders)."""
        rows = (
            self._products()
            .select_for_update()
            .filter(id__in=sorted(product_ids))
            .order_by("id")
            .values_list("id", "stock", "is_active", "doc")
        )
        return {product_id: (stock, active, doc) for product_id, stock, active, doc in rows}

    def _write_stock(self, levels: Mapping[int, tuple[int, dict]]) -> None:
        for product_id, (stock, doc) in levels.items():
            updated = common.with_stock(doc, stock)
            self._products().filter(id=product_id).update(
                stock=stock, doc=updated, digest=doc_digest(updated)
            )

    def _claim(self, reference: str, kind: str, lines: list[dict], status: str) -> StockLedgerEntry | None:
        """Record the reference, or return the entry already recorded under it (a replay)."""
        try:
            with transaction.atomic(using=self.using):
                StockLedgerEntry.objects.using(self.using).create(
                    reference=reference, kind=kind, lines=lines, status=status, created_at=timezone.now()
                )
            return None
        except IntegrityError:
            existing = StockLedgerEntry.objects.using(self.using).get(reference=reference)
            common.check_replay(reference, (existing.kind, existing.lines), (kind, lines))
            return existing

    def stock_adjust(self, product_id: int, delta: int, *, reference: str = "") -> int:
        common.check_delta(delta)
        if reference:
            common.check_reference(reference)
        with transaction.atomic(using=self.using):
            if reference:
                lines = [{"product_id": product_id, "quantity": delta}]
                if self._claim(reference, StockLedgerEntry.Kind.ADJUSTMENT, lines, "applied") is not None:
                    level = self._products().filter(id=product_id).values_list("stock", flat=True).first()
                    if level is None:
                        raise ProductNotFound(product_id)
                    return level
            locked = self._lock([product_id])
            if product_id not in locked:
                raise ProductNotFound(product_id)
            stock, _, doc = locked[product_id]
            if not 0 <= stock + delta <= MAX_INT32:
                raise InsufficientStock(
                    f"Stock of product {product_id} is {stock}; a change of {delta} is out of range",
                    extra={"product_id": product_id, "stock": stock, "delta": delta},
                )
            self._write_stock({product_id: (stock + delta, doc)})
            return stock + delta

    def stock_reserve(self, reference: str, lines: Sequence[StockLine]) -> Reservation:
        common.check_reference(reference)
        merged = common.merge_lines(lines)
        wanted = common.lines_json(merged)
        with transaction.atomic(using=self.using):
            existing = self._claim(reference, StockLedgerEntry.Kind.RESERVATION, wanted, "reserved")
            if existing is not None:
                return Reservation(reference, common.lines_from_json(existing.lines), existing.status)
            locked = self._lock(list(merged))
            short = []
            for product_id, quantity in merged.items():
                stock, active, _ = locked.get(product_id, (0, False, None))
                available = stock if active else 0
                if available < quantity:
                    short.append(ShortLine(product_id, quantity, available))
            if short:
                raise OutOfStock(short)
            self._write_stock(
                {
                    product_id: (locked[product_id][0] - quantity, locked[product_id][2])
                    for product_id, quantity in merged.items()
                }
            )
        return Reservation(reference, common.lines_from_json(wanted), "reserved", created=True)

    def _fence(self, reference: str) -> bool:
        """Record an empty, released reservation under the reference unless it has one; True if recorded.
        A reserve holding the reference uncommitted makes this wait for it, then find its entry."""
        now = timezone.now()
        try:
            with transaction.atomic(using=self.using):
                StockLedgerEntry.objects.using(self.using).create(
                    reference=reference,
                    kind=StockLedgerEntry.Kind.RESERVATION,
                    lines=[],
                    status=StockLedgerEntry.Status.RELEASED,
                    created_at=now,
                    released_at=now,
                )
            return True
        except IntegrityError:
            return False

    def stock_release(self, reference: str, *, fence: bool = False) -> Reservation | None:
        common.check_reference(reference)
        with transaction.atomic(using=self.using):
            if fence and self._fence(reference):
                return None
            entry = (
                StockLedgerEntry.objects.using(self.using)
                .select_for_update()
                .filter(reference=reference, kind=StockLedgerEntry.Kind.RESERVATION)
                .first()
            )
            if entry is None:
                return None
            lines = common.lines_from_json(entry.lines)
            if entry.status == StockLedgerEntry.Status.RELEASED:
                return Reservation(reference, lines, entry.status)
            locked = self._lock([line.product_id for line in lines])
            self._write_stock(
                {
                    line.product_id: (
                        min(locked[line.product_id][0] + line.quantity, MAX_INT32),
                        locked[line.product_id][2],
                    )
                    for line in lines
                    if line.product_id in locked
                }
            )
            entry.status = StockLedgerEntry.Status.RELEASED
            entry.released_at = timezone.now()
            entry.save(using=self.using, update_fields=["status", "released_at"])
        return Reservation(reference, lines, "released", created=True)
