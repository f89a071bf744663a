from django.apps import AppConfig


class OrderServiceConfig(AppConfig):
    name = "extracted.order_service"
    label = "order_service"
    default_auto_field = "django.db.models.BigAutoField"
