"""/api/v2/notifications: a user's own notifications and their delivery states, and their preferences
(opt-outs per channel and category, locale). Callers come through the gateway (identity.py)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.pagination import StandardPagination
from contracts.errors import ApplicationError
from contracts.notifications import ANY, CATEGORIES, CHANNELS, LOCALES, STATES

from ..models import Notification
from ..selectors import notification_list, preferences_get
from ..services.preferences import preferences_set
from ..services.receipts import receipt_apply

SIGNATURE_HEADER = "X-Sandbox-Signature"


class ListParams(serializers.Serializer):
    state = serializers.ChoiceField(choices=STATES, required=False)
    channel = serializers.ChoiceField(choices=CHANNELS, required=False)
    page = serializers.IntegerField(required=False)
    page_size = serializers.IntegerField(required=False)


class NotificationOut(serializers.ModelSerializer):
    address = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id", "event_type", "channel", "category", "address", "locale", "subject", "state", "reason",
            "attempts", "created_at", "sent_at", "finished_at",
        ]  # fmt: skip

    def get_address(self, row: Notification) -> str:
        return "" if row.address.startswith("none:") else row.address


class OptOut(serializers.Serializer):
    channel = serializers.ChoiceField(choices=(*CHANNELS, ANY))
    category = serializers.ChoiceField(choices=(*CATEGORIES, ANY))


class PreferencesIn(serializers.Serializer):
    locale = serializers.ChoiceField(choices=("", *LOCALES), allow_blank=True)
    opt_outs = OptOut(many=True, max_length=len((*CHANNELS, ANY)) * len((*CATEGORIES, ANY)))


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ApplicationError(
            "validation_error", "The request is not valid", extra={"fields": serializer.errors}
        )
    return serializer.validated_data


class NotificationsApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        params = _valid(ListParams, request.query_params)
        rows = notification_list(
            user_id=request.user.id, state=params.get("state"), channel=params.get("channel")
        )
        paginator = StandardPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(NotificationOut(page, many=True).data)


class PreferencesApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(preferences_get(user_id=request.user.id))

    def put(self, request):
        data = _valid(PreferencesIn, request.data)
        preferences_set(
            user_id=request.user.id,
            locale=data["locale"],
            opt_outs=[(o["channel"], o["category"]) for o in data["opt_outs"]],
        )
        return Response(preferences_get(user_id=request.user.id))


class ReceiptsApi(APIView):
    """A provider's signed delivery receipt (push or SMS); authenticated by its signature alone."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request, channel: str):
        if channel not in ("push", "sms"):
            raise ApplicationError("channel_not_found", f"No receipts for channel {channel!r}", status=404)
        state = receipt_apply(
            channel=channel, body=request.body, signature=request.headers.get(SIGNATURE_HEADER)
        )
        return Response({"state": state})
