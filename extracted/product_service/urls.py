"""The Product service's routes: chassis (health, readiness, metrics), /api/v1 catalog reads and staff
writes (api/writes.py), /api/v2 catalog reads, /internal/v1 and the OpenAPI schema at /api/schema/."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from chassis.urls import chassis_urlpatterns

from .api import internal, v2, writes

urlpatterns = [
    *chassis_urlpatterns(),
    path("api/v1/catalog/categories", writes.CategoryListCreateApi.as_view(), name="v1-catalog-categories"),
    path("api/v1/catalog/products", writes.ProductListCreateApi.as_view(), name="v1-catalog-products"),
    path(
        "api/v1/catalog/products/<int:product_id>",
        writes.ProductDetailApi.as_view(),
        name="v1-catalog-product",
    ),
    path(
        "api/v1/catalog/products/<int:product_id>/stock",
        writes.ProductStockApi.as_view(),
        name="v1-catalog-product-stock",
    ),
    path(
        "api/v1/catalog/products/<int:product_id>/stock-movements",
        writes.ProductStockMovementListApi.as_view(),
        name="v1-catalog-product-stock-movements",
    ),
    path("api/v2/catalog/categories", v2.CategoryListV2Api.as_view(), name="v2-catalog-categories"),
    path("api/v2/catalog/products", v2.ProductSearchApi.as_view(), name="v2-catalog-products"),
    path(
        "api/v2/catalog/products/<int:product_id>", v2.ProductDetailV2Api.as_view(), name="v2-catalog-product"
    ),
    path("internal/v1/import/products", internal.ProductImportApi.as_view(), name="internal-import-products"),
    path(
        "internal/v1/import/categories",
        internal.CategoryImportApi.as_view(),
        name="internal-import-categories",
    ),
    path(
        "internal/v1/import/movements",
        internal.MovementImportApi.as_view(),
        name="internal-import-movements",
    ),
    path("internal/v1/verify/checksums", internal.ChecksumsApi.as_view(), name="internal-verify-checksums"),
    path("internal/v1/verify/digests", internal.DigestsApi.as_view(), name="internal-verify-digests"),
    path(
        "internal/v1/verify/movement-checksums",
        internal.MovementChecksumsApi.as_view(),
        name="internal-verify-movement-checksums",
    ),
    path(
        "internal/v1/verify/movement-digests",
        internal.MovementDigestsApi.as_view(),
        name="internal-verify-movement-digests",
    ),
    path("internal/v1/export/products", internal.ProductExportApi.as_view(), name="internal-export-products"),
    path("internal/v1/sync/status", internal.SyncStatusApi.as_view(), name="internal-sync-status"),
    path("internal/v1/stock/reserve", internal.StockReserveApi.as_view(), name="internal-stock-reserve"),
    path("internal/v1/stock/release", internal.StockReleaseApi.as_view(), name="internal-stock-release"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]

handler400 = "chassis.errors.bad_request"
handler403 = "chassis.errors.permission_denied"
handler404 = "chassis.errors.not_found"
handler500 = "chassis.errors.server_error"
