"""What the control app stores (database alias `control`): rollouts, each with its events (the judge's
decisions with their evidence, flag writes, pauses, manual changes)."""

from django.db import models
from django.db.models import Q


class Rollout(models.Model):
    """One guarded rollout of one route. `step_index` is the step in force (its percentage was written at
    `step_started_at`; None: the step's percentage is still to be written); `window_baseline` holds the
    gateway's counters when the step's window opened, `saga_baseline` the Order service's saga figures (for
    a route whose policy reads them). `owner`/`lease_until`: the controller driving it."""

    class State(models.TextChoices):
        RUNNING = "running"
        PAUSED = "paused"
        PROMOTED = "promoted"
        ROLLED_BACK = "rolled_back"
        ABORTED = "aborted"

    ACTIVE = (State.RUNNING, State.PAUSED)

    route = models.CharField(max_length=100)
    flag = models.CharField(max_length=200)
    steps = models.JSONField()
    step_time = models.FloatField()
    step_index = models.IntegerField(default=0)
    state = models.CharField(max_length=20, choices=State.choices, default=State.RUNNING)
    reason = models.TextField(blank=True)  # why it is paused, rolled back or aborted
    actor = models.CharField(max_length=200)
    alpha_per_look = models.FloatField()
    step_started_at = models.DateTimeField(null=True, blank=True)
    window_opened_at = models.DateTimeField(null=True, blank=True)
    window_baseline = models.JSONField(null=True, blank=True)
    saga_baseline = models.JSONField(null=True, blank=True)  # the Order service's saga figures, or why none
    looks = models.IntegerField(default=0)  # judged looks in the current step
    expected_percentage = models.IntegerField(null=True, blank=True)  # what the controller last wrote
    last_verdict = models.JSONField(null=True, blank=True)
    owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # a rollback acknowledged (`rollout close`)
    close_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["route"],
                condition=Q(state__in=["running", "paused"]),
                name="control_one_active_rollout_per_route",
            )
        ]
        indexes = [models.Index(fields=["route", "state"], name="control_rollout_route_state")]

    def __str__(self) -> str:
        return f"rollout {self.pk} of {self.route} ({self.state})"

    @property
    def percentage(self) -> int:
        return int(self.steps[self.step_index])


class RolloutEvent(models.Model):
    """Something the controller or a person did to a rollout, with the evidence behind it."""

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=30)  # start, flag_write, decision, pause, resume, abort, manual, ...
    step_index = models.IntegerField(null=True)
    percentage = models.IntegerField(null=True)
    action = models.CharField(max_length=20, blank=True)  # promote | hold | rollback (decisions)
    summary = models.TextField()
    evidence = models.JSONField(null=True, blank=True)
    actor = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.summary[:60]}"
