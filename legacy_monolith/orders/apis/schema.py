"""OpenAPI pieces shared by the orders endpoints."""

from drf_spectacular.utils import OpenApiParameter

from chassis.openapi import ERROR, PAGE_PARAMETERS, page_of
from chassis.orders_v1 import IDEMPOTENCY_KEY_SCHEMA

__all__ = ["ERROR", "IDEMPOTENCY_KEY_HEADER", "PAGE_PARAMETERS", "page_of"]

IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    IDEMPOTENCY_KEY_SCHEMA,
    location=OpenApiParameter.HEADER,
    required=True,
    description="8 to 64 of [A-Za-z0-9._:-]; a replay returns the first outcome, never a new charge",
)
