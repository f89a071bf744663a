"""/internal/v1/ of the auth service (bearer INTERNAL_API_TOKEN): the `sync users` import, export and
verify endpoints, shaped like the Product service's (the verify inputs are the chassis' one copy)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from chassis.internal_auth import InternalAPIView
from chassis.internal_inputs import ChecksumsInput, DigestsInput, ExportInput, StrictSerializer, validated
from chassis.openapi import ERROR
from contracts.errors import ApplicationError
from contracts.user import validate_user

from . import user_sync
from .models import User

MAX_IMPORT_USERS = 5000


class UserImportInput(StrictSerializer):
    users = serializers.ListField(child=serializers.JSONField(), max_length=MAX_IMPORT_USERS)
    deleted = serializers.ListField(child=serializers.JSONField(), max_length=0, required=False)


class UserImportApi(InternalAPIView):
    """Bulk upsert of user documents keyed by legacy_user_id with the version rule; idempotent. The
    monolith never deletes users (it deactivates them), so `deleted` must be empty."""

    @extend_schema(request=UserImportInput, responses={400: ERROR, 401: ERROR, 409: ERROR})
    def post(self, request):
        data = validated(UserImportInput, request, settings.MAX_REQUEST_BODY_BYTES)
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
        data = validated(ChecksumsInput, request)
        return Response({"ranges": user_sync.user_range_checksums(data["ranges"])})


class UserDigestsApi(InternalAPIView):
    @extend_schema(request=DigestsInput, responses={400: ERROR, 401: ERROR})
    def post(self, request):
        data = validated(DigestsInput, request)
        digests = user_sync.user_digests(data["lo"], data["hi"])
        return Response({"digests": {str(key): value for key, value in sorted(digests.items())}})


class UserExportApi(InternalAPIView):
    """The documents of these public ids as this service holds them (users it never versioned, mirrors
    of the token exchange, are left out: the monolith's copy is theirs)."""

    @extend_schema(request=ExportInput, responses={400: ERROR, 401: ERROR})
    def post(self, request):
        ids = validated(ExportInput, request)["ids"]
        users = User.objects.filter(legacy_user_id__in=ids, version__isnull=False).order_by("legacy_user_id")
        return Response({"users": [user_sync.user_document(user) for user in users]})
