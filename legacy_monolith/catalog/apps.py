from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "legacy_monolith.catalog"
    label = "catalog"
