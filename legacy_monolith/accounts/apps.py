from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "legacy_monolith.accounts"
    label = "accounts"
