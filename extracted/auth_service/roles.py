"""The monolith's roles (legacy_monolith.accounts.models.Role), one per user. Kept apart from the models
so resource servers can use the RBAC and ABAC modules without installing this service's app."""

from django.db import models


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    STAFF = "staff", "Staff"
    ADMIN = "admin", "Admin"
