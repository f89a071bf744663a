"""/internal/v1 for `sync payments` (bearer INTERNAL_API_TOKEN, strict validation):

POST /internal/v1/import/payments        {"payments": [doc]}  -> {"applied", "stale", "deleted"}
POST /internal/v1/import/blocklists      {"bins": [{bin, reason}], "countries": [{code, reason}]}
POST /internal/v1/import/webhook_events  {"events": [{gateway, event_id, type, payload, received_at,
                                          processed_at}]}
GET  /internal/v1/export/payments?after=ID&limit=N | ?ids=1,2   {"payments": [doc]}, by ascending id
GET  /internal/v1/sync/status            payments per origin, highest version, pending sync events
"""

from __future__ import annotations

from dataclasses import asdict

from django.db.models import Count, Max
from rest_framework import serializers
from rest_framework.response import Response

from chassis.internal_auth import InternalAPIView
from chassis.internal_inputs import StrictSerializer, validated
from chassis.outbox.models import OutboxEvent
from contracts import payment as contract

from ..errors import ApplicationError
from ..models import Payment
from ..services.sync import blocklists_import, payment_document, payments_import, webhook_events_import

MAX_IMPORT = 1000
MAX_IMPORT_BYTES = 16 * 1024 * 1024


class PaymentsInput(StrictSerializer):
    payments = serializers.ListField(child=serializers.DictField(), max_length=MAX_IMPORT)
    force = serializers.BooleanField(default=False)  # verify --repair: apply even when not newer


class BinInput(StrictSerializer):
    bin = serializers.RegexField(r"^[0-9]{6}$")
    reason = serializers.CharField(max_length=200, allow_blank=True, default="")


class CountryInput(StrictSerializer):
    code = serializers.RegexField(r"^[A-Z]{2}$")
    reason = serializers.CharField(max_length=200, allow_blank=True, default="")


class BlocklistsInput(StrictSerializer):
    bins = BinInput(many=True, max_length=MAX_IMPORT, default=list)
    countries = CountryInput(many=True, max_length=MAX_IMPORT, default=list)


class WebhookEventInput(StrictSerializer):
    gateway = serializers.CharField(max_length=20)
    event_id = serializers.CharField(max_length=64)
    type = serializers.CharField(max_length=40)
    payload = serializers.DictField()
    received_at = serializers.CharField(max_length=40)
    processed_at = serializers.CharField(max_length=40, allow_null=True, required=False)


class WebhookEventsInput(StrictSerializer):
    events = WebhookEventInput(many=True, max_length=MAX_IMPORT)


class PaymentsImportApi(InternalAPIView):
    def post(self, request):
        data = validated(PaymentsInput, request, max_bytes=MAX_IMPORT_BYTES)
        return Response(asdict(payments_import(data["payments"], force=data["force"])))


class BlocklistsImportApi(InternalAPIView):
    def post(self, request):
        data = validated(BlocklistsInput, request)
        return Response(asdict(blocklists_import(bins=data["bins"], countries=data["countries"])))


class WebhookEventsImportApi(InternalAPIView):
    def post(self, request):
        data = validated(WebhookEventsInput, request, max_bytes=MAX_IMPORT_BYTES)
        return Response(asdict(webhook_events_import(data["events"])))


def _int(value: str, name: str, *, default: int, high: int) -> int:
    try:
        number = int(value) if value not in (None, "") else default
    except ValueError:
        number = -1
    if not 0 <= number <= high:
        raise ApplicationError(
            "validation_error",
            f"{name} must be an integer from 0 to {high}",
            extra={"fields": {name: ["invalid"]}},
        )
    return number


class PaymentsExportApi(InternalAPIView):
    def get(self, request):
        payments = Payment.objects.prefetch_related("refunds").order_by("id")
        ids = request.query_params.get("ids")
        if ids is not None:
            try:
                wanted = [int(i) for i in ids.split(",") if i][:MAX_IMPORT]
            except ValueError:
                raise ApplicationError(
                    "validation_error",
                    "ids must be comma-separated integers",
                    extra={"fields": {"ids": ["invalid"]}},
                ) from None
            payments = payments.filter(pk__in=wanted)
        else:
            after = _int(request.query_params.get("after"), "after", default=0, high=contract.MAX_ID)
            limit = _int(request.query_params.get("limit"), "limit", default=500, high=MAX_IMPORT)
            payments = payments.filter(pk__gt=after)[:limit]
        return Response({"payments": [payment_document(p) for p in payments]})


class SyncStatusApi(InternalAPIView):
    def get(self, request):
        per_origin = {
            row["origin"]: {"payments": row["n"], "max_version": row["v"]}
            for row in Payment.objects.values("origin").annotate(n=Count("id"), v=Max("version"))
        }
        pending = OutboxEvent.objects.filter(sent_at__isnull=True, type=contract.PAYMENT_SYNCED).count()
        return Response({"payments": per_origin, "pending_sync_events": pending})
