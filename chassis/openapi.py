"""OpenAPI pieces every API shares, the monolith's and the services': the error body and the page shape."""

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

ERROR = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "extra": serializers.DictField(),
    },
)
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="1-based; past the last page is 404 page_not_found"),
    OpenApiParameter("page_size", int, description="1 to 100, default 20"),
]


def page_of(output, name: str):
    """One page of `output` items, as the monolith's StandardPagination and the services' v1 render it."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": output(many=True),
        },
    )
