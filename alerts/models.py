"""Alert rules, the channels they send to, the alerts decided and their deliveries."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from alerts import domain
from jobs.models import Source, TrainingJob


class AlertKind(models.TextChoices):
    FAILED = domain.FAILED, "Job failed"
    STOPPED = domain.STOPPED, "Job stopped"
    MAX_RUNTIME = domain.MAX_RUNTIME, "MaxRuntime / MaxWaitTime exceeded"
    RESTARTED = domain.RESTARTED, "Job restarted (interrupted, internal error)"
    COMPLETED = domain.COMPLETED, "Job completed"
    NEAR_MAX_RUNTIME = domain.NEAR_MAX_RUNTIME, "Running past a share of MaxRuntime"
    SOURCE_HEALTH = domain.SOURCE_HEALTH, "Source not syncing (stale, failing, abandoned cycle)"
    STALLED = domain.STALLED, "Stalled in one phase (past its p95 for the instance type)"
    TEAM_BUDGET = domain.TEAM_BUDGET, "A team's (tag value's) spend today over a budget"
    METRICS_STALLED = domain.METRICS_STALLED, "No new metric point for a while (once curves exist)"


class Channel(models.Model):
    """Where alerts go: one Apprise URL (slack://, mailto://, json://, msteams://, ...)."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(
        "Apprise URL",
        max_length=2048,
        help_text="Carries the channel's secret (a webhook token, a password): never shown whole.",
    )
    is_default = models.BooleanField(
        "from TRAINWATCH_ALERT_URLS",
        default=False,
        help_text="Used by every rule that has no channel of its own; kept in step with the setting.",
    )
    enabled = models.BooleanField(default=True)
    healthy = models.BooleanField(default=True, help_text="False after several failed sends in a row.")
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AlertRuleQuerySet(models.QuerySet):
    def active(self) -> AlertRuleQuerySet:
        return self.filter(muted=False)


class AlertRule(models.Model):
    """Which events of which jobs alert, and to whom."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    scope_tag = models.CharField(
        "tag", max_length=400, blank=True, help_text="Only jobs with this tag, as key=value (e.g. team=vision)."
    )
    scope_source = models.ForeignKey(
        Source,
        verbose_name="source",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_rules",
        help_text="Only jobs of this source.",
    )
    scope_name_pattern = models.CharField(
        "name pattern", max_length=100, blank=True, help_text="Only jobs whose name matches, e.g. resnet-* ."
    )
    share_percent = models.PositiveSmallIntegerField(
        "share of MaxRuntime (%)",
        default=90,
        help_text="Only for the MaxRuntime share rule: alert once a running job has used this much.",
    )
    stall_floor_minutes = models.PositiveIntegerField(
        "stall floor (minutes)",
        default=10,
        help_text="Only for the stall rule: a phase never counts as stalled sooner, whatever its p95.",
    )
    metric_stall_minutes = models.PositiveIntegerField(
        "metric silence (minutes)",
        default=30,
        help_text="Only for the metric stall rule: alert once a running job's newest metric point is this old.",
    )
    budget_tag_key = models.CharField(
        "budget tag key",
        max_length=128,
        blank=True,
        default="team",
        help_text="Only for the budget rule: spend is added up per value of this tag (e.g. team).",
    )
    daily_budget_usd = models.DecimalField(
        "daily budget (USD)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Only for the budget rule: alert once a tag value's spend today passes it; empty: never.",
    )
    channels = models.ManyToManyField(
        Channel, blank=True, related_name="rules", help_text="None: the TRAINWATCH_ALERT_URLS channels."
    )
    muted = models.BooleanField(default=False, help_text="A muted rule decides nothing (and catches nothing up).")
    builtin = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(
        default=timezone.now, help_text="Only changes after this moment alert: history never does."
    )

    objects = AlertRuleQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> domain.Scope:
        return domain.Scope(self.scope_tag, self.scope_source_id, self.scope_name_pattern)


class Alert(models.Model):
    """A rule fired for a job's event (or a source's, for source health): decided once."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts")
    source = models.ForeignKey(
        Source,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alerts",
        help_text="Set for a source-health alert, which is about no job.",
    )
    event = models.CharField(max_length=100, help_text="What happened: Failed, MaxRuntimeExceeded, restart@<time>.")
    status = models.CharField(max_length=32, help_text="The job's status when decided.")
    secondary_status = models.CharField(max_length=64, blank=True)
    details = models.JSONField(
        default=dict, blank=True, help_text="What the message says beyond the job: a stall's threshold, a spend."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Exactly once: two workers storing the same change cannot both decide it.
            models.UniqueConstraint(fields=["rule", "job", "event"], name="alert_rule_job_event_uniq"),
            # The same for a source's alerts, which have no job (NULLs are never equal in the one above).
            models.UniqueConstraint(
                fields=["rule", "source", "event"],
                condition=models.Q(job__isnull=True),
                name="alert_rule_source_event_uniq",
            ),
            # And for a budget alert, about neither a job nor a source (its event names the team and day).
            models.UniqueConstraint(
                fields=["rule", "event"],
                condition=models.Q(job__isnull=True, source__isnull=True),
                name="alert_rule_event_uniq",
            ),
        ]
        indexes = [
            # The job page's list of alerts about the job.
            models.Index(fields=["job", "-created_at"], name="alert_job_created_idx"),
        ]

    def __str__(self) -> str:
        about = f"job {self.job_id}" if self.job_id is not None else f"source {self.source_id}"
        return f"{self.rule}: {about} {self.event}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One alert to one channel.

    pending -> sending (claimed: attempts + 1, batch and claim set) -> sent,
    or back to pending (the send failed: next_attempt_at after a backoff),
    or failed (attempts used up). A delivery left "sending" longer than the
    send timeout lost its worker and is claimed again: one more attempt,
    never none. Deliveries of one rule and channel claimed together share a
    batch: one message, whose idempotency key is the batch, the same on
    every attempt.
    """

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    batch = models.CharField(max_length=32, blank=True, help_text="The message's idempotency key.")
    claim = models.CharField(max_length=32, blank=True, help_text="The sweep that holds the current attempt.")
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["alert", "channel"], name="delivery_alert_channel_uniq")]
        indexes = [
            # The sweep: pending ones due, and sending ones gone stale.
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["claim"], name="delivery_claim_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.alert} -> {self.channel} ({self.status})"
