"""The monolith's transactional outbox and the checkpoints of long-running sync jobs."""

from django.db import models
from django.db.models.functions import Now


class OutboxEvent(models.Model):
    """One change of a synced row, written by a database trigger in the changing transaction.

    Catalog rows are never written by Python code: the triggers of migration 0002 insert them, so every
    write path (ORM save, QuerySet.update, bulk_create/bulk_update, raw SQL) is covered (account emails
    are the exception, see Entity). The relay
    (`migrations_data.outbox.relay`) publishes pending rows and sets `sent_at`.
    """

    class Entity(models.TextChoices):
        PRODUCT = "product", "Product"
        CATEGORY = "category", "Category"
        # An account email for the Notification service (legacy_monolith.accounts.AccountEmail): an event,
        # not a row change, so it is the one kind of row written by Python code, in the transaction of the
        # registration or reset request (legacy_monolith/accounts/services/emails.py); never coalesced.
        ACCOUNT_EMAIL = "account_email", "Account email"
        # A stock movement made through the monolith's stock services (legacy_monolith/catalog/services), for
        # the Product service's history: written by Python code in the movement's transaction, like the
        # account emails (the seeding's bulk inserts are left to `sync products backfill`).
        STOCK_MOVEMENT = "stock_movement", "Stock movement"

    class Op(models.TextChoices):
        UPSERT = "upsert", "Insert or update"
        DELETE = "delete", "Delete"

    id = models.BigAutoField(primary_key=True)
    entity = models.CharField(max_length=32, choices=Entity.choices)
    entity_id = models.BigIntegerField()
    op = models.CharField(max_length=8, choices=Op.choices)
    # The row's sync_version after the change; a delete takes a fresh version from the same counter,
    # greater than any the row had, so the tombstone wins over every earlier upsert.
    version = models.BigIntegerField()
    # Database defaults: the triggers insert rows without going through Django.
    created_at = models.DateTimeField(db_default=Now())
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, db_default=0)
    # The trace of the request that made the change (PostgreSQL: the triggers read the session setting
    # strangler.trace_id that migrations_data.outbox.trace sets for write requests); "" = none known.
    trace_id = models.CharField(max_length=32, default="", db_default="", blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's claim query: pending rows in id order.
            models.Index(
                fields=["id"],
                name="outbox_pending_idx",
                condition=models.Q(sent_at__isnull=True),
            ),
            models.Index(fields=["entity", "entity_id"], name="outbox_entity_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.entity}:{self.entity_id} {self.op} v{self.version}"


class SyncCheckpoint(models.Model):
    """Where a resumable sync job (backfill, verify...) stands; one row per job name."""

    name = models.CharField(max_length=120, unique=True)
    position = models.JSONField(default=dict, blank=True)
    rows_done = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.rows_done} rows)"
