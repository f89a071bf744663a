from django.urls import path

from .apis import views

urlpatterns = [
    path("categories", views.CategoryListCreateApi.as_view(), name="catalog-categories"),
    path("products", views.ProductListCreateApi.as_view(), name="catalog-products"),
    path("products/<int:product_id>", views.ProductDetailApi.as_view(), name="catalog-product"),
    path("products/<int:product_id>/stock", views.ProductStockApi.as_view(), name="catalog-product-stock"),
    path(
        "products/<int:product_id>/stock-movements",
        views.ProductStockMovementListApi.as_view(),
        name="catalog-product-stock-movements",
    ),
]
