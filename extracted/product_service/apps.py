from django.apps import AppConfig


class ProductServiceConfig(AppConfig):
    name = "extracted.product_service"
    label = "product_service"
    default_auto_field = "django.db.models.BigAutoField"
