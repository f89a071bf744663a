"""/internal/v1: the import path (backfill, follow), verify, export, sync status and stock reserve/release.

Callers are other services and migration jobs with `Authorization: Bearer <INTERNAL_API_TOKEN>`. Bodies
are validated strictly: unknown keys, wrong types and oversized batches are a 400 before the store sees
them; documents go through the product contract's validation (invalid_document names the field)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from chassis.fields import StrictIntegerField, StrictRegexField
from chassis.internal_auth import InternalAPIView
from chassis.internal_inputs import ChecksumsInput, DigestsInput, StrictSerializer, validated
from contracts import product as contract
from contracts.errors import ApplicationError
from extracted.product_service import services, writes
from extracted.product_service.selectors import catalog_store
from extracted.product_service.store.port import ProductNotFound, StockLine

from .openapi import CategoryDocumentField, ProductDocumentField, TombstoneDocumentField
from .v1 import ERROR

MAX_IMPORT_DOCUMENTS = 5000
MAX_STOCK_LINES = 200
# Who may call what over mutual TLS (chassis.internal_auth): the sync jobs, and the monolith and the control
# loop for the read-only status; the Order service's saga (and the monolith's checkout) reserve stock.
SYNC_CALLERS = ("sync",)
STATUS_CALLERS = ("sync", "monolith", "control")
STOCK_CALLERS = ("order_service", "monolith")


class InternalTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents the internal bearer token."""

    target_class = "chassis.internal_auth.InternalTokenAuthentication"
    name = "internalApiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "INTERNAL_API_TOKEN"}


class ProductImportInput(StrictSerializer):
    products = serializers.ListField(
        child=ProductDocumentField(), max_length=MAX_IMPORT_DOCUMENTS, default=list
    )
    deleted = serializers.ListField(
        child=TombstoneDocumentField(), max_length=MAX_IMPORT_DOCUMENTS, default=list
    )


class CategoryImportInput(StrictSerializer):
    categories = serializers.ListField(child=CategoryDocumentField(), max_length=MAX_IMPORT_DOCUMENTS)


class MovementImportInput(StrictSerializer):
    movements = serializers.ListField(child=serializers.DictField(), max_length=MAX_IMPORT_DOCUMENTS)


class StockLineInput(StrictSerializer):
    product_id = StrictIntegerField(min_value=1, max_value=contract.MAX_ID)
    quantity = StrictIntegerField(min_value=1, max_value=contract.MAX_INT32)


# JSON strings only: an integer reference was once coerced to "123" and reserved stock (issue 12).
class ReserveInput(StrictSerializer):
    reference = StrictRegexField(r"^[A-Za-z0-9._:-]{1,64}$", max_length=64)
    lines = serializers.ListField(child=StockLineInput(), min_length=1, max_length=MAX_STOCK_LINES)
    # The monolith's checkout past its stock cutover sends "service": it reserves here only once this
    # service owns stock (PRODUCT_STOCK_OWNER=service), else 503 stock_not_owned and nothing is taken.
    require_owner = serializers.ChoiceField(choices=["service"], required=False)


class ReleaseInput(StrictSerializer):
    reference = StrictRegexField(r"^[A-Za-z0-9._:-]{1,64}$", max_length=64)
    # true: an unknown reference is fenced (recorded released, still a 404), so a reserve under it that
    # arrives later (a caller's request that outlived its timeout) takes nothing (409 reservation_conflict).
    fence = serializers.BooleanField(required=False, default=False)


IMPORT_RESULT = inline_serializer(
    name="ImportResult",
    fields={
        "applied": serializers.IntegerField(),
        "stale": serializers.IntegerField(),
        "deleted": serializers.IntegerField(),
    },
)
RESERVATION = inline_serializer(
    name="Reservation",
    fields={
        "reference": serializers.CharField(),
        "status": serializers.CharField(),
        "created": serializers.BooleanField(),
        "lines": serializers.ListField(child=serializers.DictField()),
    },
)

RANGE_CHECKSUMS = inline_serializer(
    name="RangeChecksums",
    fields={
        "ranges": serializers.ListField(
            child=inline_serializer(
                name="RangeChecksum",
                fields={
                    "lo": serializers.IntegerField(),
                    "hi": serializers.IntegerField(),
                    "count": serializers.IntegerField(),
                    "digest": serializers.CharField(),
                },
            )
        )
    },
)
PRODUCT_DIGESTS = inline_serializer(
    name="ProductDigests",
    fields={"digests": serializers.DictField(child=serializers.CharField())},
)


def checked_documents(docs: list[Any], validate, where: str) -> list[dict]:
    try:
        return contract.validate_many(docs, validate, where)
    except contract.ContractError as exc:
        raise ApplicationError(exc.code, exc.message, extra=exc.extra) from None


def import_result(result) -> dict:
    return {"applied": result.applied, "stale": result.stale, "deleted": result.deleted}


def require_stock_owner() -> None:
    """A reserve that requires this service to own stock (REST `require_owner`, gRPC `require_owner`)."""
    if not services.stock_owned_by_service():
        raise ApplicationError(
            "stock_not_owned",
            "This service does not own stock yet (PRODUCT_STOCK_OWNER=monolith): nothing was reserved",
            extra={"owner": settings.PRODUCT_STOCK_OWNER},
            status=503,
        )


def reservation_not_found(reference: str) -> ApplicationError:
    """An unknown reference's release (REST 404, gRPC NOT_FOUND): a compensation takes it as done."""
    return ApplicationError(
        "reservation_not_found",
        f"Reservation {reference} does not exist",
        extra={"reference": reference},
        status=404,
    )


def reservation_body(reservation) -> dict:
    return {
        "reference": reservation.reference,
        "status": reservation.status,
        "created": reservation.created,
        "lines": [{"product_id": line.product_id, "quantity": line.quantity} for line in reservation.lines],
    }


class ProductImportApi(InternalAPIView):
    """Bulk upsert keyed by id with the version rule, then tombstones; idempotent."""

    internal_callers = SYNC_CALLERS

    @extend_schema(
        request=ProductImportInput, responses={200: IMPORT_RESULT, 400: ERROR, 401: ERROR, 413: ERROR}
    )
    def post(self, request):
        data = validated(ProductImportInput, request, settings.PRODUCT_INTERNAL_MAX_BODY_BYTES)
        products = checked_documents(data["products"], contract.validate_product, "products")
        deleted = checked_documents(data["deleted"], contract.validate_tombstone, "deleted")
        return Response(import_result(services.products_import(products=products, deleted=deleted)))


class CategoryImportApi(InternalAPIView):
    internal_callers = SYNC_CALLERS

    @extend_schema(
        request=CategoryImportInput, responses={200: IMPORT_RESULT, 400: ERROR, 401: ERROR, 413: ERROR}
    )
    def post(self, request):
        data = validated(CategoryImportInput, request, settings.PRODUCT_INTERNAL_MAX_BODY_BYTES)
        categories = checked_documents(data["categories"], contract.validate_category, "categories")
        return Response(import_result(services.categories_import(categories=categories)))


class MovementImportApi(InternalAPIView):
    """The monolith's stock movements into the service's history, once per id (`applied`: the new ones)."""

    internal_callers = SYNC_CALLERS

    @extend_schema(
        request=MovementImportInput, responses={200: IMPORT_RESULT, 400: ERROR, 401: ERROR, 413: ERROR}
    )
    def post(self, request):
        data = validated(MovementImportInput, request, settings.PRODUCT_INTERNAL_MAX_BODY_BYTES)
        movements = checked_documents(data["movements"], contract.validate_movement, "movements")
        applied = writes.movements_import(movements=movements)
        return Response({"applied": applied, "stale": len(movements) - applied, "deleted": 0})


class ChecksumsApi(InternalAPIView):
    """Count and digest of each id range lo <= id < hi (verify's first pass)."""

    internal_callers = STATUS_CALLERS

    @extend_schema(request=ChecksumsInput, responses={200: RANGE_CHECKSUMS, 400: ERROR, 401: ERROR})
    def post(self, request):
        data = validated(ChecksumsInput, request)
        checksums = catalog_store().range_checksums(data["ranges"])
        return Response(
            {"ranges": [{"lo": c.lo, "hi": c.hi, "count": c.count, "digest": c.digest} for c in checksums]}
        )


class DigestsApi(InternalAPIView):
    """Each product's digest in lo <= id < hi (verify's drill-down)."""

    internal_callers = STATUS_CALLERS

    @extend_schema(request=DigestsInput, responses={200: PRODUCT_DIGESTS, 400: ERROR, 401: ERROR})
    def post(self, request):
        data = validated(DigestsInput, request)
        digests = catalog_store().digests(data["lo"], data["hi"])
        return Response({"digests": {str(pid): digest for pid, digest in sorted(digests.items())}})


class MovementChecksumsApi(InternalAPIView):
    """Count and digest of the stock movements in each id range (`sync products verify`)."""

    internal_callers = STATUS_CALLERS

    @extend_schema(request=ChecksumsInput, responses={200: RANGE_CHECKSUMS, 400: ERROR, 401: ERROR})
    def post(self, request):
        data = validated(ChecksumsInput, request)
        checksums = writes.movement_checksums(data["ranges"])
        return Response(
            {"ranges": [{"lo": lo, "hi": hi, "count": n, "digest": d} for lo, hi, n, d in checksums]}
        )


class MovementDigestsApi(InternalAPIView):
    """Each stock movement's digest in lo <= id < hi (verify's drill-down)."""

    internal_callers = STATUS_CALLERS

    @extend_schema(request=DigestsInput, responses={200: PRODUCT_DIGESTS, 400: ERROR, 401: ERROR})
    def post(self, request):
        data = validated(DigestsInput, request)
        digests = writes.movement_digests(data["lo"], data["hi"])
        return Response({"digests": {str(mid): digest for mid, digest in sorted(digests.items())}})


class ExportInput(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=contract.MAX_ID),
        max_length=MAX_IMPORT_DOCUMENTS,
    )


class ProductExportApi(InternalAPIView):
    """These products' documents as the store holds them, inactive ones included, absent ids left out
    (`sync products verify --repair` applies the service's own products to the monolith)."""

    internal_callers = SYNC_CALLERS

    @extend_schema(
        request=ExportInput,
        responses={
            200: inline_serializer(
                name="ProductExport",
                fields={"products": serializers.ListField(child=serializers.DictField())},
            ),
            400: ERROR,
            401: ERROR,
        },
    )
    def post(self, request):
        data = validated(ExportInput, request)
        store, found = catalog_store(), []
        for product_id in sorted(set(data["ids"])):
            try:
                found.append(store.get_product(product_id, include_inactive=True))
            except ProductNotFound:
                continue
        return Response({"products": found})


class SyncStatusApi(InternalAPIView):
    """How far the import path got: product count, highest version, when the last write landed."""

    internal_callers = STATUS_CALLERS

    @extend_schema(
        responses={
            200: inline_serializer(
                name="SyncStatus",
                fields={
                    "products": serializers.IntegerField(),
                    "max_version": serializers.IntegerField(),
                    "last_applied_at": serializers.DateTimeField(allow_null=True),
                },
            ),
            401: ERROR,
        }
    )
    def get(self, request):
        stats = catalog_store().stats()
        last = stats.last_applied_at
        return Response(
            {
                "products": stats.products,
                "max_version": stats.max_version,
                "last_applied_at": serializers.DateTimeField().to_representation(last) if last else None,
            }
        )


class StockReserveApi(InternalAPIView):
    """All lines or none; a replayed reference returns the first answer (409 out_of_stock: short lines)."""

    internal_callers = STOCK_CALLERS

    @extend_schema(
        request=ReserveInput,
        responses={200: RESERVATION, 201: RESERVATION, 400: ERROR, 401: ERROR, 409: ERROR, 503: ERROR},
    )
    def post(self, request):
        data = validated(ReserveInput, request)
        if data.get("require_owner"):
            require_stock_owner()
        lines = [StockLine(line["product_id"], line["quantity"]) for line in data["lines"]]
        reservation = services.stock_reserve(reference=data["reference"], lines=lines)
        return Response(reservation_body(reservation), status=201 if reservation.created else 200)


class StockReleaseApi(InternalAPIView):
    """Give a reservation back (once); 404 reservation_not_found for an unknown reference."""

    internal_callers = STOCK_CALLERS

    @extend_schema(request=ReleaseInput, responses={200: RESERVATION, 400: ERROR, 401: ERROR, 404: ERROR})
    def post(self, request):
        data = validated(ReleaseInput, request)
        reservation = services.stock_release(reference=data["reference"], fence=data["fence"])
        if reservation is None:
            raise reservation_not_found(data["reference"])
        return Response(reservation_body(reservation))
