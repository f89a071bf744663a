from django.apps import AppConfig


class PaymentServiceConfig(AppConfig):
    name = "extracted.payment_service"
    label = "payment_service"
    default_auto_field = "django.db.models.BigAutoField"
