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


class Decommission(models.Model):
    """One route retired from the monolith (`manage.py decommission apply ROUTE`): what was changed, so
    that `restore` can put it back and `finalize` can drop exactly the archived tables. At most one
    applied or finalized record per route; a restored one stays as history."""

    class State(models.TextChoices):
        APPLIED = "applied"  # legacy side none, endpoints 410, sync jobs stopped, tables archived
        FINALIZED = "finalized"  # the tables dropped after the archive was checked
        RESTORED = "restored"  # rolled back: route, endpoints and data as before

    RETIRED = (State.APPLIED, State.FINALIZED)

    route = models.CharField(max_length=100)
    state = models.CharField(max_length=20, choices=State.choices, default=State.APPLIED)
    legacy = models.CharField(max_length=100)  # the route's legacy upstream before apply
    # the routes.yaml lines apply replaced ({key: [offset in the route's block, line]}), put back by restore
    route_lines = models.JSONField(default=dict)
    # The monolith URLconf entries answered 410 while retired: [{"view": name, "methods": [...], "path": ...}]
    entries = models.JSONField(default=list)
    apps = models.JSONField(default=list)  # the monolith apps whose tables this record archived ([] if none)
    tables = models.JSONField(default=list)
    sync_entities = models.JSONField(default=list)  # the sync jobs stopped
    archive_path = models.TextField(blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True)
    evidence = models.JSONField(null=True, blank=True)  # the status that made it decommissionable
    actor = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(auto_now_add=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["route"],
                condition=Q(state__in=["applied", "finalized"]),
                name="control_one_retirement_per_route",
            )
        ]
        ordering = ["applied_at", "id"]

    def __str__(self) -> str:
        return f"decommission of {self.route} ({self.state})"


class TrafficSample(models.Model):
    """Counters read from a Prometheus endpoint at one moment, kept so that a decommission window (days)
    can be judged from differences: `gateway` = strangler_requests_total by "route upstream" (the final
    upstream, fallbacks included), `monolith` = the monolith's http_requests_total by URLconf entry."""

    source = models.CharField(max_length=20)
    taken_at = models.DateTimeField()
    counters = models.JSONField(default=dict)

    class Meta:
        ordering = ["taken_at", "id"]
        indexes = [models.Index(fields=["source", "taken_at"], name="control_sample_source_time")]

    def __str__(self) -> str:
        return f"{self.source} sample at {self.taken_at:%Y-%m-%d %H:%M:%S}"
