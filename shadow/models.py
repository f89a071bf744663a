"""What the comparator stores (database alias `shadow`): one row per compared pair, running counts per route
and per (route, field path) for noise cancellation, and the pairs it could not read."""

from django.db import models


class PairResult(models.Model):
    """One compared shadow pair. `pair_id` is unique: a redelivered pair is recorded once."""

    pair_id = models.CharField(max_length=64, unique=True)
    route = models.CharField(max_length=100)
    trace_id = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    matched = models.BooleanField()
    paths = models.JSONField(default=list)  # stable paths that differed (primary vs candidate)
    noise_paths = models.JSONField(default=list)  # stable paths that differed in the noise comparisons
    noise_checked = models.BooleanField(default=False)  # the pair carried a secondary / second candidate
    noisy = models.BooleanField(default=False)  # noise_paths is not empty
    differences = models.JSONField(default=list)
    primary_status = models.PositiveSmallIntegerField()
    candidate_status = models.PositiveSmallIntegerField()
    primary_ms = models.FloatField()
    candidate_ms = models.FloatField()
    captured_at = models.DateTimeField()
    compared_at = models.DateTimeField(auto_now_add=True)
    example = models.JSONField(null=True)  # the pair (bodies capped), kept when it differed
    skipped = models.CharField(max_length=100, blank=True)  # not comparable (why); no sample then

    class Meta:
        indexes = [
            models.Index(fields=["route", "captured_at"], name="shadow_pair_route_time"),
            models.Index(fields=["route", "matched", "captured_at"], name="shadow_pair_route_matched"),
        ]

    def __str__(self) -> str:
        return f"{self.route} {self.pair_id} {'match' if self.matched else 'mismatch'}"


class RouteStats(models.Model):
    route = models.CharField(max_length=100, unique=True)
    samples = models.PositiveBigIntegerField(default=0)
    matched = models.PositiveBigIntegerField(default=0)
    noise_samples = models.PositiveBigIntegerField(default=0)
    skipped = models.PositiveBigIntegerField(default=0)  # pairs that could not be compared
    first_captured_at = models.DateTimeField()
    last_captured_at = models.DateTimeField()
    last_compared_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.route}: {self.matched}/{self.samples}"


class PathStats(models.Model):
    """Per route and stable field path: pairs that differed there (raw) and noise comparisons that did."""

    route = models.CharField(max_length=100)
    path = models.CharField(max_length=500)
    raw_count = models.PositiveBigIntegerField(default=0)
    noise_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["route", "path"], name="shadow_path_per_route")]

    def __str__(self) -> str:
        return f"{self.route} {self.path}: raw {self.raw_count}, noise {self.noise_count}"


class DeadLetter(models.Model):
    """A message from the queue that is not a shadow pair (kept for inspection, never retried)."""

    received_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=200, blank=True)
    error = models.TextField()
    raw = models.TextField()  # capped

    def __str__(self) -> str:
        return f"dead letter {self.pk}: {self.error[:60]}"
