"""/internal/v1/ of the auth service (bearer INTERNAL_API_TOKEN): the `sync users` import and verify
endpoints, shaped like the Product service's."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from extracted.common.errors import ApplicationError
from extracted.common.internal_auth import InternalAPIView
from legacy_monolith.core.openapi import ERROR

from . import user_sync
from .user_contract import MAX_ID, validate_user

MAX_IMPORT_USERS = 5000
MAX_VERIFY_RANGES = 1000
MAX_DIGEST_SPAN = 100_000


class StrictSerializer(serializers.Serializer):
    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field"] for name in unknown})
        return attrs


class UserImportInput(StrictSerializer):
    users = serializers.ListField(child=serializers.JSONField(), max_length=MAX_IMPORT_USERS)
    deleted = serializers.ListField(child=serializers.JSONField(), max_length=0, required=False)


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
        attrs = super().validate(attrs)
        if attrs["lo"] > attrs["hi"]:
            raise serializers.ValidationError({"lo": ["lo must not be greater than hi"]})
        if attrs["hi"] - attrs["lo"] > MAX_DIGEST_SPAN:
            raise serializers.ValidationError({"hi": [f"A drill-down spans at most {MAX_DIGEST_SPAN} ids"]})
        return attrs


def _validated(serializer_class, request) -> dict:
    if not isinstance(request.data, dict):
        raise ApplicationError(
            "validation_error", "The request body must be a JSON object", extra={"fields": {}}
        )
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class UserImportApi(InternalAPIView):
    """Bulk upsert of user documents keyed by legacy_user_id with the version rule; idempotent. The
    monolith never deletes users (it deactivates them), so `deleted` must be empty."""

    @extend_schema(request=UserImportInput, responses={400: ERROR, 401: ERROR, 409: ERROR})
    def post(self, request):
        data = _validated(UserImportInput, request)
        users = []
        for index, doc in enumerate(data["users"]):
            try:
                users.append(validate_user(doc))
            except ValueError as exc:
                raise ApplicationError(
                    "invalid_document", f"users[{index}]: {exc}", extra={"index": index}
                ) from None
        return Response(user_sync.users_import(users=users))


class UserChecksumsApi(InternalAPIView):
    @extend_schema(request=ChecksumsInput, responses={400: ERROR, 401: ERROR})
    def post(self, request):
        data = _validated(ChecksumsInput, request)
        return Response({"ranges": user_sync.user_range_checksums(data["ranges"])})


class UserDigestsApi(InternalAPIView):
    @extend_schema(request=DigestsInput, responses={400: ERROR, 401: ERROR})
    def post(self, request):
        data = _validated(DigestsInput, request)
        digests = user_sync.user_digests(data["lo"], data["hi"])
        return Response({"digests": {str(key): value for key, value in sorted(digests.items())}})
