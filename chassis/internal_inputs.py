"""Inputs of the service-neutral /internal/v1 protocol, validated strictly (one copy for every service).

Verify is the same for every entity a service imports (products, users, ...): `POST verify/checksums`
`{"ranges": [[lo, hi], ...]}` and `POST verify/digests` `{"lo", "hi"}` over ids lo <= id < hi. Views
validate bodies with `validated(SomeInput, request)`: a body over `max_bytes` is a 413, anything but a JSON
object, an unknown key or a wrong type a 400 `validation_error`, before a store sees it. A service's own
inputs (imports, stock) subclass StrictSerializer.
"""

from __future__ import annotations

from rest_framework import serializers

from contracts.errors import ApplicationError

MAX_ID = 2**63 - 1  # bigint primary keys
MAX_VERIFY_RANGES = 1000
MAX_DIGEST_SPAN = 100_000
SMALL_BODY_BYTES = 256 * 1024  # every internal body but bulk imports


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not declare, at every nesting level (a typo must not be silently ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({str(key)[:64]: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class ChecksumsInput(StrictSerializer):
    ranges = serializers.ListField(
        child=serializers.ListField(
            child=serializers.IntegerField(min_value=0, max_value=MAX_ID), min_length=2, max_length=2
        ),
        max_length=MAX_VERIFY_RANGES,
    )

    def validate_ranges(self, ranges):
        for index, (lo, hi) in enumerate(ranges):
            if lo > hi:
                raise serializers.ValidationError(f"ranges[{index}]: lo must not be greater than hi")
        return [(lo, hi) for lo, hi in ranges]


class DigestsInput(StrictSerializer):
    lo = serializers.IntegerField(min_value=0, max_value=MAX_ID)
    hi = serializers.IntegerField(min_value=0, max_value=MAX_ID)

    def validate(self, attrs):
        if attrs["lo"] > attrs["hi"]:
            raise serializers.ValidationError({"lo": ["lo must not be greater than hi"]})
        if attrs["hi"] - attrs["lo"] > MAX_DIGEST_SPAN:
            raise serializers.ValidationError({"hi": [f"A drill-down spans at most {MAX_DIGEST_SPAN} ids"]})
        return attrs


MAX_EXPORT_IDS = 1000


class ExportInput(StrictSerializer):
    """`POST export/<entity>` `{"ids": [...]}`: the documents of these ids, as the service holds them (verify
    --repair of a two-way sync reads the owner's copy)."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=MAX_EXPORT_IDS
    )


def validated(
    serializer_class: type[serializers.Serializer], request, max_bytes: int = SMALL_BODY_BYTES
) -> dict:
    """The request's JSON object body validated by `serializer_class` (413 / 400 as described above)."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > max_bytes:
        raise ApplicationError(
            "payload_too_large",
            f"Request body exceeds {max_bytes} bytes",
            extra={"limit_bytes": max_bytes, "content_length": length},
            status=413,
        )
    if not isinstance(request.data, dict):
        raise ApplicationError(
            "validation_error", "The request body must be a JSON object", extra={"fields": {}}
        )
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
