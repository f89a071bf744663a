"""OpenAPI pieces every API shares, the monolith's and the services': the error body and the page shape."""

from drf_spectacular.extensions import OpenApiSerializerExtension
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
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1},
        description="1-based; past the last page is 404 page_not_found",
    ),
    OpenApiParameter(
        "page_size", {"type": "integer", "minimum": 1, "maximum": 100}, description="1 to 100, default 20"
    ),
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


# The errors any operation can answer, whatever its view does: a malformed query or body, a bad or missing
# credential (a Token/Bearer header is checked even where no login is required), a refused role, an
# unknown object or page, a body too large or of a type no parser takes.
STANDARD_ERRORS = {
    "400": "The request did not pass validation (`validation_error`, `malformed_request`, ...)",
    "401": "A credential was missing, malformed, expired or refused",
    "403": "The caller may not do this",
    "404": "No such object, page or route",
}
BODY_ERRORS = {
    "413": "The body is larger than MAX_REQUEST_BODY_BYTES (`payload_too_large`)",
    "415": "The body's content type is not JSON (`unsupported_media_type`)",
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def standard_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): every operation
    documents the standard errors above with the error body, so a client (and schemathesis) knows every
    status it can meet. An operation that documents one already keeps its own description."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "Error",
        {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "extra": {"type": "object", "additionalProperties": {}},
            },
            "required": ["code", "message", "extra"],
        },
    )
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            wanted = dict(STANDARD_ERRORS)
            if "requestBody" in operation:
                wanted.update(BODY_ERRORS)
            responses = operation.setdefault("responses", {})
            for status, description in wanted.items():
                responses.setdefault(status, {"description": description, "content": body})
    return result


class StrictInputExtension(OpenApiSerializerExtension):
    """chassis.serializers.StrictInput refuses fields it does not declare: its schema says so
    (`additionalProperties: false`), so a client (and schemathesis) is not told that extra fields pass."""

    target_class = "chassis.serializers.StrictInput"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema
