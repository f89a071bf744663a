"""/internal/v1/import/...: what `manage.py sync orders` loads into the Order service (bearer
INTERNAL_API_TOKEN): the monolith's shipping rate table and coupons (upserted by the monolith's ids, so a
quote names the same rule on both sides) and the monolith's orders (copies with origin `monolith`, applied
only when newer; an order this service created is never overwritten)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from chassis.internal_auth import InternalAPIView
from contracts.orders import validate_order

from ..documents import order_document
from ..models import Coupon, Order, ShippingRule
from ..services.copies import order_copy_apply

MAX_BATCH = 1000


class RuleInput(serializers.ModelSerializer):
    id = serializers.IntegerField(min_value=1)

    class Meta:
        model = ShippingRule
        fields = [
            "id",
            "name",
            "country",
            "postal_prefix",
            "min_weight_grams",
            "max_weight_grams",
            "price",
            "carrier",
            "delivery_days",
            "priority",
            "is_active",
        ]


class CouponInput(serializers.ModelSerializer):
    id = serializers.IntegerField(min_value=1)

    class Meta:
        model = Coupon
        fields = [
            "id",
            "code",
            "kind",
            "value",
            "min_order_total",
            "valid_from",
            "expires_at",
            "usage_limit",
            "times_used",
            "is_active",
            "created_at",
        ]
        extra_kwargs = {"code": {"validators": []}}


def _rows(request, key: str, serializer_class) -> list[dict]:
    items = request.data.get(key) if isinstance(request.data, dict) else None
    if not isinstance(items, list) or len(items) > MAX_BATCH:
        from contracts.errors import ApplicationError

        raise ApplicationError("invalid_document", f"{key}: a list of at most {MAX_BATCH} objects")
    data = serializer_class(data=items, many=True)
    data.is_valid(raise_exception=True)
    return data.validated_data


class ShippingRulesImportApi(InternalAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        rows = _rows(request, "rules", RuleInput)
        with transaction.atomic():
            for row in rows:
                ShippingRule.objects.update_or_create(id=row.pop("id"), defaults=row)
        return Response({"applied": len(rows)})


class CouponsImportApi(InternalAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        rows = _rows(request, "coupons", CouponInput)
        with transaction.atomic():
            for row in rows:
                created_at = row.pop("created_at", None)
                coupon, _ = Coupon.objects.update_or_create(id=row.pop("id"), defaults=row)
                if created_at:
                    Coupon.objects.filter(pk=coupon.pk).update(created_at=created_at)
        return Response({"applied": len(rows)})


class OrdersImportApi(InternalAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        items = request.data.get("orders") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or len(items) > MAX_BATCH:
            from contracts.errors import ApplicationError

            raise ApplicationError("invalid_document", f"orders: a list of at most {MAX_BATCH} documents")
        counts = {"created": 0, "updated": 0, "stale": 0, "not_ours": 0}
        for doc in items:
            counts[order_copy_apply(validate_order(doc))] += 1
        return Response(counts)


class OrdersExportApi(InternalAPIView):
    """`GET ?after=<number>&limit=N&origin=service|monolith`: order documents by ascending number (verify)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        after = request.query_params.get("after", "")
        try:
            limit = max(1, min(MAX_BATCH, int(request.query_params.get("limit", "500"))))
        except ValueError:
            limit = 500
        orders = Order.objects.filter(number__gt=after).order_by("number").prefetch_related("items")
        if request.query_params.get("origin") in Order.Origin.values:
            orders = orders.filter(origin=request.query_params["origin"])
        return Response({"orders": [order_document(order) for order in orders[:limit]]})


class SyncStatusApi(InternalAPIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        from django.db.models import Count

        by_origin = dict(Order.objects.values_list("origin").annotate(n=Count("id")))
        return Response(
            {"orders": by_origin, "coupons": Coupon.objects.count(), "rules": ShippingRule.objects.count()}
        )
