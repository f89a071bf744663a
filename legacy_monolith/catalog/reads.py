"""Catalog reads of the public API, through the ACL client while `monolith.catalog.read_from_service` is on.

With the flag on for a request, product listings, product detail and categories come from the Product
service (acl_adapters.catalog.client) as unsaved monolith instances; the views render them with the same
serializers and paginator, so the JSON does not change. When the service cannot answer, the answer comes
from the monolith's own tables (the selectors). Staff reads (inactive products) always stay local: the
service's public API shows active products only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from acl_adapters.catalog.client import (
    CatalogServiceUnavailable,
    ServicePage,
    catalog_client,
    record_fallback,
)
from flags import FlagContext, Flags
from flags.shared import replace_shared_flags, shared_flags
from legacy_monolith.core.errors import NotFoundError

from . import selectors
from .models import Category, Product

READ_FROM_SERVICE_FLAG = "monolith.catalog.read_from_service"


def flags() -> Flags:
    """The process's flags facade (flags file or Unleash server, from the environment), built on first use
    (flags/shared.py: one per process, as in the services)."""
    return shared_flags()


def use_flags(facade: Flags | None) -> Flags | None:
    """Replace the process's facade (tests, embedding); returns the previous one."""
    return replace_shared_flags(facade)


def flag_context(request) -> FlagContext:
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    return FlagContext(
        user_id=str(user.pk) if user is not None and user.is_authenticated else None,
        session_id=getattr(session, "session_key", None),
        remote_address=request.META.get("REMOTE_ADDR"),
    )


def read_from_service(request) -> bool:
    return flags().is_enabled(READ_FROM_SERVICE_FLAG, flag_context(request))


class ServiceOrLocalList:
    """What the paginator pages over: the service's page for the request's query (fetched when the
    paginator first asks for the count, after it validated page and page_size), or the local queryset
    when the service cannot answer. Slicing returns the fetched page: the paginator asks only for it."""

    ordered = True

    def __init__(
        self,
        *,
        operation: str,
        fetch: Callable[[list[tuple[str, str]]], ServicePage | None],
        query_params,
        local: Callable[[], QuerySet],
    ) -> None:
        self.operation = operation
        self._fetch = fetch
        self._query = [(key, value) for key, values in query_params.lists() for value in values]
        self._local_factory = local
        self._local: QuerySet | None = None
        self._page: ServicePage | None = None

    def _resolve(self) -> None:
        if self._page is not None or self._local is not None:
            return
        try:
            page = self._fetch(self._query)
            if page is None:
                # Past the last page: learn the count from page 1, so the paginator answers its own 404.
                first = self._fetch([(k, v) for k, v in self._query if k != "page"])
                if first is None:
                    raise CatalogServiceUnavailable(f"{self.operation}: page 1 not found")
                page = ServicePage(count=first.count, items=[])
            self._page = page
        except CatalogServiceUnavailable:
            record_fallback(self.operation)
            self._local = self._local_factory()

    def count(self) -> int:
        self._resolve()
        return self._local.count() if self._local is not None else self._page.count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: Any):
        self._resolve()
        if self._local is not None:
            return self._local[key]
        return self._page.items


def product_list(*, request, filters: selectors.ProductFilters) -> QuerySet[Product] | ServiceOrLocalList:
    if filters.include_inactive or not read_from_service(request):
        return selectors.product_list(filters=filters)
    return ServiceOrLocalList(
        operation="product_list",
        fetch=catalog_client().product_page,
        query_params=request.query_params,
        local=lambda: selectors.product_list(filters=filters),
    )


def product_get(*, request, product_id: int, include_inactive: bool) -> Product:
    if include_inactive or not read_from_service(request):
        return selectors.product_get(product_id=product_id, include_inactive=include_inactive)
    try:
        product = catalog_client().product_get(product_id)
    except CatalogServiceUnavailable:
        record_fallback("product_get")
        return selectors.product_get(product_id=product_id, include_inactive=include_inactive)
    if product is None:
        raise NotFoundError("product", product_id)
    return product


def category_list(*, request) -> QuerySet[Category] | ServiceOrLocalList:
    if not read_from_service(request):
        return selectors.category_list()
    return ServiceOrLocalList(
        operation="category_list",
        fetch=catalog_client().category_page,
        query_params=request.query_params,
        local=selectors.category_list,
    )
