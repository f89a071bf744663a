"""OpenAPI pieces every API shares, the monolith's and the services': the error body and the page shape."""

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
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


class StrictSerializerExtension(StrictInputExtension):
    """The same for chassis.internal_inputs.StrictSerializer (the /internal/v1 bodies)."""

    target_class = "chassis.internal_inputs.StrictSerializer"


# DRF's CharField refuses NUL characters always, and a blank string (after trimming, when it trims) unless
# allow_blank: said as a pattern, so a schema-valid string is one the server takes. (drf-spectacular adds
# the blank string of an allow_blank field beside its pattern: oneOf [pattern, maxLength 0].)
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
NOT_EMPTY = r"^[^\x00]+$"


class StrictCharExtension(OpenApiSerializerFieldExtension):
    """chassis.fields.StrictCharField (and its subclasses without a pattern of their own): the strings the
    field refuses are outside its schema (see NOT_BLANK)."""

    target_class = "chassis.fields.StrictCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and "pattern" not in schema:
            validators = self.target.validators
            regexes = [v for v in validators if isinstance(v, RegexValidator) and not v.inverse_match]
            if regexes:  # the field's own pattern (a phone number): it refuses blank and NUL already
                pattern = regexes[0].regex.pattern  # as ECMA 262 says \A and \Z
                schema["pattern"] = pattern.replace("\\A", "^", 1).replace("\\Z", "$")
            else:
                blank_is_refused = self.target.trim_whitespace and not self.target.allow_blank
                schema["pattern"] = NOT_BLANK if blank_is_refused else NOT_EMPTY
        return schema


class StringFieldExtension(StrictCharExtension):
    """The same for chassis.serializers.StringField (the accounts bodies)."""

    target_class = "chassis.serializers.StringField"
