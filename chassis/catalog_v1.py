"""The /api/v1/catalog write bodies: served alike by the monolith (legacy_monolith/catalog/apis) and, while
route `catalog.write` moves them, by the Product service (extracted/product_service/api/writes.py). One
copy, so the two answers cannot drift. They check JSON types and shapes only (a JSON string, integer or
boolean, never a coerced one); the rules are in chassis.catalog_rules."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .catalog_rules import MAX_ATTRIBUTES, MAX_IMAGE_URLS, MAX_URL_LENGTH, STAFF_STOCK_REASONS
from .fields import StrictCharField, StrictIntegerField


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean: "true", 1 and "yes" are refused (DRF would coerce them)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"},
            {"type": "number"},
        ]
    }
)
class PriceField(serializers.DecimalField):
    """A price: a decimal string ("19.99", as every answer writes it) or a JSON number. The range and the
    cents are rules (invalid_price)."""


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_ATTRIBUTES,
        "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
    }
)
class AttributesField(serializers.JSONField):
    """A flat JSON object of scalars (names and lengths: rule invalid_attributes)."""


@extend_schema_field(
    {
        "type": "array",
        "maxItems": MAX_IMAGE_URLS,
        "items": {"type": "string", "maxLength": MAX_URL_LENGTH, "pattern": r"^https?://"},
    }
)
class ImageUrlsField(serializers.JSONField):
    """A list of http(s) URLs (each checked by rule invalid_image_urls)."""


@extend_schema_field({"not": {}, "description": "never accepted: post a stock adjustment instead"})
class NotEditableField(serializers.JSONField):
    """Any value reaches the rules, which answer 400 stock_not_editable (null: this field's 400); so no
    value is schema-valid."""


class CategoryCreateInput(serializers.Serializer):
    name = StrictCharField(max_length=120)
    slug = StrictCharField(max_length=140, required=False, allow_blank=True, default="")
    parent_id = StrictIntegerField(required=False, allow_null=True, default=None)


class ProductWriteFields(serializers.Serializer):
    """Shapes shared by create and update; required-ness differs."""

    sku = StrictCharField(max_length=64)
    name = StrictCharField(max_length=200)
    slug = StrictCharField(max_length=220, required=False, allow_blank=True)
    description = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    category_id = StrictIntegerField()
    price = PriceField(max_digits=10, decimal_places=2)
    currency = StrictCharField(max_length=3, required=False)
    attributes = AttributesField(required=False)
    image_urls = ImageUrlsField(required=False)
    weight_grams = StrictIntegerField(required=False)
    is_active = StrictBooleanField(required=False)


class ProductCreateInput(ProductWriteFields):
    stock = StrictIntegerField(required=False)


class ProductUpdateInput(ProductWriteFields):
    # Any value reaches the rules, which answer stock_not_editable.
    stock = NotEditableField(required=False)


@extend_schema_field({"type": "integer", "not": {"enum": [0]}})
class NonZeroIntegerField(StrictIntegerField):
    """A JSON integer; 0 passes here and is refused by the rules (invalid_delta), as the schema says."""


class StockAdjustInput(serializers.Serializer):
    delta = NonZeroIntegerField()
    reason = serializers.ChoiceField(choices=list(STAFF_STOCK_REASONS))
    reference = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
