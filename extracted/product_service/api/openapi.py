"""The shapes the API answers, for the OpenAPI schema only (render.py builds the answers themselves: plain
dicts are faster than serializers on the hot path)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contracts import product as contract


class CategoryRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class CategoryV1Output(CategoryRefOutput):
    parent_id = serializers.IntegerField(allow_null=True)


class CategoryV2Output(CategoryV1Output):
    version = serializers.IntegerField()


class ProductV1Output(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    category = CategoryRefOutput()
    price = serializers.CharField(help_text='a decimal string with 2 places, e.g. "12.34"')
    currency = serializers.CharField()
    attributes = serializers.DictField()
    image_urls = serializers.ListField(child=serializers.URLField())
    stock = serializers.IntegerField()
    in_stock = serializers.BooleanField()
    weight_grams = serializers.IntegerField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ProductV2Output(ProductV1Output):
    version = serializers.IntegerField(help_text="the monolith's sync_version of this document")


class ProductSearchPage(serializers.Serializer):
    results = ProductV2Output(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="pass as `cursor` with the same filters")
    next = serializers.URLField(allow_null=True)
    facets = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text='{"category": [{id, slug, name, count}], "price": [{min, max, count}], '
        '"in_stock": [{value, count}], "attr.<name>": [{value, count}]}',
    )


class CategoryListV2(serializers.Serializer):
    results = CategoryV2Output(many=True)


# The documents of the import path (contracts/product.py validates them: 400 invalid_document).
_ID = {"type": "integer", "minimum": 1, "maximum": contract.MAX_ID}
_VERSION = {"type": "integer", "minimum": 0, "maximum": contract.MAX_ID}
_COUNT = {"type": "integer", "minimum": 0, "maximum": contract.MAX_INT32}
_NO_NUL = r"^[^\x00]*$"


def _text(max_length: int | None, *, blank: bool = False) -> dict:
    schema = {"type": "string", "pattern": _NO_NUL if blank else r"^[^\x00]+$"}
    return schema if max_length is None else {**schema, "maxLength": max_length}


def _document(properties: dict) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


TOMBSTONE_DOCUMENT = _document({"id": _ID, "version": _VERSION})
CATEGORY_DOCUMENT = _document(
    {
        "id": _ID,
        "name": _text(contract.MAX_CATEGORY_NAME_LENGTH),
        "slug": _text(contract.MAX_CATEGORY_SLUG_LENGTH),
        "parent_id": {**_ID, "nullable": True, "description": "never the category's own id"},
        "version": _VERSION,
    }
)
PRODUCT_DOCUMENT = _document(
    {
        "id": _ID,
        "sku": _text(contract.MAX_SKU_LENGTH),
        "name": _text(contract.MAX_PRODUCT_NAME_LENGTH),
        "slug": _text(contract.MAX_PRODUCT_SLUG_LENGTH, blank=True),
        "description": _text(None, blank=True),
        "category": _document(
            {
                "id": _ID,
                "slug": _text(contract.MAX_CATEGORY_SLUG_LENGTH),
                "name": _text(contract.MAX_CATEGORY_NAME_LENGTH),
            }
        ),
        "price": {"type": "string", "pattern": contract.PRICE_PATTERN.pattern},
        "currency": {"type": "string", "pattern": contract.CURRENCY_PATTERN.pattern},
        "attributes": {
            "type": "object",
            "maxProperties": contract.MAX_ATTRIBUTES,
            "additionalProperties": {
                "oneOf": [
                    {"type": "string", "maxLength": contract.MAX_ATTRIBUTE_VALUE_LENGTH, "pattern": _NO_NUL},
                    {"type": "number"},
                    {"type": "boolean"},
                ]
            },
            "description": "names: " + contract.ATTRIBUTE_KEY_PATTERN.pattern,
        },
        "image_urls": {
            "type": "array",
            "maxItems": contract.MAX_IMAGE_URLS,
            "items": _text(contract.MAX_URL_LENGTH),
        },
        "stock": _COUNT,
        "weight_grams": _COUNT,
        "is_active": {"type": "boolean"},
        "created_at": {"type": "string", "pattern": contract.TIMESTAMP_PATTERN.pattern},
        "updated_at": {"type": "string", "pattern": contract.TIMESTAMP_PATTERN.pattern},
        "version": _VERSION,
    }
)


@extend_schema_field(TOMBSTONE_DOCUMENT)
class TombstoneDocumentField(serializers.JSONField):
    pass


@extend_schema_field(CATEGORY_DOCUMENT)
class CategoryDocumentField(serializers.JSONField):
    pass


@extend_schema_field(PRODUCT_DOCUMENT)
class ProductDocumentField(serializers.JSONField):
    pass
