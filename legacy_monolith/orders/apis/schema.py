"""OpenAPI pieces shared by the orders endpoints."""

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

ERROR = inline_serializer(
    name="OrdersError",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "extra": serializers.DictField(),
    },
)
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="1-based; past the last page is 404"),
    OpenApiParameter("page_size", int, description="1 to 100, default 20"),
]
IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=True,
    description="8 to 64 of [A-Za-z0-9._:-]; a replay returns the first outcome, never a new charge",
)


def page_of(output, name: str):
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": output(many=True),
        },
    )
