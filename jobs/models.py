"""Training jobs as the sync keeps them; views read only these tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone

from jobs.domain import billing, polling, statuses
from jobs.domain.health import SourceHealth, source_health
from jobs.domain.parse import Transition
from jobs.indexes import PostgreSQLGinIndex, PostgreSQLIndex

# A source's sync lease lasts this many sync intervals: long enough for a slow
# cycle, short enough that one whose process died is taken over soon after.
SYNC_LEASE_INTERVALS = 5


def sync_lease_seconds() -> int:
    return settings.TRAINWATCH_SYNC_INTERVAL * SYNC_LEASE_INTERVALS


def lease_ran_out(started: datetime, now: datetime) -> bool:
    """A cycle started this long ago and still unfinished has lost its process."""
    return started < now - timedelta(seconds=sync_lease_seconds())


class TrainingJobStatus(models.TextChoices):
    IN_PROGRESS = statuses.IN_PROGRESS, "In progress"
    COMPLETED = statuses.COMPLETED, "Completed"
    FAILED = statuses.FAILED, "Failed"
    STOPPING = statuses.STOPPING, "Stopping"
    STOPPED = statuses.STOPPED, "Stopped"
    DELETING = statuses.DELETING, "Deleting"


TERMINAL = statuses.TERMINAL


class Source(models.Model):
    """One AWS account and region (or simulated endpoint) we poll."""

    name = models.SlugField(unique=True, help_text="Short label shown on pages, e.g. 'prod-us-east-1'.")
    region = models.CharField(max_length=32, blank=True, help_text="Empty: boto3's default region chain.")
    profile = models.CharField(max_length=128, blank=True, help_text="Named AWS profile; empty: default chain.")
    role_arn = models.CharField(max_length=2048, blank=True, help_text="Role to assume before calling SageMaker.")
    endpoint_url = models.CharField(
        max_length=512, blank=True, help_text="SageMaker endpoint override (simulated account, VPC endpoint)."
    )
    events_queue_url = models.CharField(
        max_length=1024,
        blank=True,
        help_text="SQS queue an EventBridge rule delivers SageMaker's state-change events to; empty: polling only.",
    )
    last_event_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the consumer last stored one of its events; recent: push, running jobs described less often.",
    )
    enabled = models.BooleanField(default=True)
    account_id = models.CharField(max_length=12, blank=True, help_text="Learned from the first job ARN seen.")
    list_cursor = models.DateTimeField(
        null=True, blank=True, help_text="Newest LastModifiedTime listed; the next cycle lists from here."
    )
    # Conditional-UPDATE lease: a cycle runs only where it claims this, so two
    # beat ticks or workers never sync one source at once; it expires if a
    # worker dies mid-cycle.
    sync_lease_until = models.DateTimeField(null=True, blank=True)
    last_sync_started_at = models.DateTimeField(null=True, blank=True)
    last_sync_finished_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return f"{self.name} ({self.region})" if self.region else self.name

    def health(self, now: datetime | None = None) -> SourceHealth:
        """Fresh, stale, failing, unfinished or never synced (see jobs.domain.health); enabled or not."""
        now = now or timezone.now()
        return source_health(
            last_success_at=self.last_success_at,
            last_error=self.last_error,
            now=now,
            interval_seconds=settings.TRAINWATCH_SYNC_INTERVAL,
            last_cycle_abandoned=self.last_cycle_abandoned(now),
        )

    def sync_mode(self, now: datetime) -> str:
        """Push while its events arrive (within TRAINWATCH_PUSH_WINDOW_SECONDS), else polling."""
        return polling.sync_mode(self.last_event_at, now, window_seconds=settings.TRAINWATCH_PUSH_WINDOW_SECONDS)

    def running_describe_interval(self, now: datetime) -> int:
        """Seconds between describes of one of its running jobs (jobs.domain.polling)."""
        return polling.describe_interval(
            settings.TRAINWATCH_SYNC_INTERVAL,
            self.last_event_at,
            now,
            window_seconds=settings.TRAINWATCH_PUSH_WINDOW_SECONDS,
            factor=settings.TRAINWATCH_PUSH_POLL_FACTOR,
        )

    def last_cycle_abandoned(self, now: datetime) -> bool:
        """The last cycle started longer than a lease ago and never finished: its process died."""
        started, finished = self.last_sync_started_at, self.last_sync_finished_at
        if started is None or (finished is not None and finished >= started):
            return False
        return lease_ran_out(started, now)


NEVER_DESCRIBED = Q(described_at__isnull=True)
GONE = Q(gone_at__isnull=False)
CHANGED_SINCE_DESCRIBE = Q(last_modified_time__gt=models.F("described_last_modified_time"))


def _not_terminal() -> Q:
    """Every status but the terminal ones, as ranges between them (see ``running``)."""
    bounds = sorted(TERMINAL)
    between = Q(status__lt=bounds[0]) | Q(status__gt=bounds[-1])
    for low, high in pairwise(bounds):
        between |= Q(status__gt=low, status__lt=high)
    return between


# The only columns a list row reads, on the pages and in the API (durations,
# cost and its basis, the row's cells): raw alone can be tens of kilobytes per
# row, and each unused datetime column costs a parse. A column a row reads that
# is missing here costs a query per row (the query-count tests catch it).
LIST_FIELDS = (
    "arn",
    "name",
    "status",
    "secondary_status",
    "failure_reason",
    "creation_time",
    "training_start_time",
    "training_end_time",
    "last_modified_time",
    "instance_type",
    "instance_count",
    "instance_groups",
    "is_spot",
    "billable_seconds",
    "reported_billable_seconds",
    "warm_pool_retained_seconds",
    "described_at",
    "gone_at",
    "tags",
    "source__name",
)


class TrainingJobQuerySet(models.QuerySet):
    def for_list(self) -> TrainingJobQuerySet:
        """Rows as the lists show them: LIST_FIELDS and the source's name, in one query."""
        return self.select_related("source").only(*LIST_FIELDS)

    def running(self) -> TrainingJobQuerySet:
        """Every status but the terminal ones, unknown ones included; not those gone at the source.

        Written as the ranges between the terminal statuses rather than NOT
        IN: the same rows, but each range is a search on the status index,
        where NOT IN made SQLite read all 100,000 jobs to find 500. Gone
        jobs are few: filtered out of what the ranges find.
        """
        return self.filter(_not_terminal(), gone_at__isnull=True)

    def unfinished(self) -> TrainingJobQuerySet:
        """Not in a terminal status, gone at the source or not."""
        return self.filter(_not_terminal())

    def gone(self) -> TrainingJobQuerySet:
        """Jobs their source no longer knows, on their own partial index."""
        return self.filter(GONE)

    def terminal(self) -> TrainingJobQuerySet:
        return self.filter(status__in=TERMINAL)

    def needing_describe(self, *, running_described_before: datetime | None = None) -> TrainingJobQuerySet:
        """Jobs whose stored detail may be behind AWS.

        Never described, listed as changed since the last describe, or still
        running (elapsed time, phases and metrics move without notice); never
        a job gone at the source (it would be not found again, every cycle).
        With ``running_described_before`` (a source under push), a running
        job unchanged since its describe is due only once described before it.
        """
        # Each term is an index search (SQLite's multi-index OR, PostgreSQL's
        # BitmapOr): two small partial indexes and the status ranges. Ordering
        # the result in SQL would make SQLite walk a creation-time index over
        # every job instead (576 ms at 100,000 jobs, against 1-3 ms), so the
        # default ordering is dropped: sort the result in Python.
        # Gone jobs are rare: dropped from what the indexes find, not a term of their own.
        running = _not_terminal()
        if running_described_before is not None:
            running &= Q(described_at__lt=running_described_before)
        due = NEVER_DESCRIBED | CHANGED_SINCE_DESCRIBE | running
        return self.filter(due, gone_at__isnull=True).order_by()

    def not_queued_since(self, moment: datetime) -> TrainingJobQuerySet:
        """Jobs with no describe task in flight: none queued, done, or queued before ``moment`` (lost)."""
        return self.filter(
            Q(describe_queued_at__isnull=True)
            | Q(describe_queued_at__lt=moment)
            | Q(described_at__gte=models.F("describe_queued_at"))
        )


class TrainingJob(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="jobs")
    arn = models.CharField("ARN", max_length=256, unique=True, help_text="A job's identity across accounts.")
    name = models.CharField(max_length=63)
    status = models.CharField(max_length=32, help_text="TrainingJobStatus; unknown values are kept as sent.")
    secondary_status = models.CharField(max_length=64, blank=True)
    failure_reason = models.TextField(blank=True, help_text="Untrusted text from AWS and the job's container.")
    failure_signature = models.CharField(max_length=300, blank=True, help_text="The reason, normalised for grouping.")

    creation_time = models.DateTimeField()
    training_start_time = models.DateTimeField(null=True, blank=True)
    training_end_time = models.DateTimeField(null=True, blank=True)
    last_modified_time = models.DateTimeField(
        null=True, blank=True, help_text="AWS's LastModifiedTime, from the newest list or describe seen."
    )

    instance_type = models.CharField(max_length=64, blank=True)
    instance_count = models.PositiveIntegerField(default=0, help_text="Billed instances across all groups.")
    instance_groups = models.JSONField(default=list, blank=True)
    volume_size_gb = models.PositiveIntegerField(null=True, blank=True)
    keep_alive_seconds = models.PositiveIntegerField(null=True, blank=True)
    is_spot = models.BooleanField("managed spot", default=False)
    max_runtime_seconds = models.PositiveIntegerField(null=True, blank=True)
    max_wait_seconds = models.PositiveIntegerField(null=True, blank=True)
    max_pending_seconds = models.PositiveIntegerField(null=True, blank=True)

    hyperparameters = models.JSONField(default=dict, blank=True)
    algorithm = models.CharField(max_length=512, blank=True, help_text="Training image or algorithm name.")
    input_channels = models.JSONField(default=list, blank=True)
    output_path = models.CharField(max_length=1024, blank=True)
    model_artifacts = models.CharField(max_length=1024, blank=True)
    role_arn = models.CharField(max_length=2048, blank=True)
    tuning_job_arn = models.CharField(max_length=256, blank=True)
    labeling_job_arn = models.CharField(max_length=2048, blank=True)
    network_isolation = models.BooleanField(default=False)
    inter_container_encryption = models.BooleanField(default=False)

    warm_pool_status = models.CharField(max_length=32, blank=True)
    warm_pool_retained_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per instance, as AWS reports it."
    )
    training_time_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="AWS's TrainingTimeInSeconds, per instance."
    )
    reported_billable_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="AWS's BillableTimeInSeconds, per instance."
    )
    billable_seconds = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Start to end x instances, computed at ingest (for running jobs: so far, at the last describe).",
    )
    tags = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,  # a response's timestamps are datetimes
        help_text="The latest DescribeTrainingJob response, whole.",
    )

    described_at = models.DateTimeField(null=True, blank=True)
    described_last_modified_time = models.DateTimeField(
        null=True, blank=True, help_text="LastModifiedTime of the response stored in the detail fields."
    )
    tags_fetched_at = models.DateTimeField(null=True, blank=True)
    describe_queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When a describe task was last queued; stops a backlog piling up duplicates."
    )
    not_found_count = models.PositiveSmallIntegerField(
        "not found count", default=0, help_text="Describes in a row that found no such job; 0 after one that did."
    )
    gone_at = models.DateTimeField(
        "gone at source",
        null=True,
        blank=True,
        help_text="When the source stopped knowing the job (TRAINWATCH_GONE_AFTER describes in a row not found).",
    )

    objects = TrainingJobQuerySet.as_manager()

    class Meta:
        ordering = ["-creation_time"]
        # Stopping a job in AWS is more than editing a row: its own permission.
        permissions = [("stop_trainingjob", "Can stop training jobs in SageMaker")]
        indexes = [
            # Jobs page default order and creation-time range filters. The id
            # is the order's tie-break: without it SQLite sorted each run of
            # equal times in a temp b-tree, and skipping to page 1,000 took
            # 30-50 ms instead of 2 ms on the index alone.
            models.Index(fields=["-creation_time", "-id"], name="job_creation_id_idx"),
            models.Index(fields=["status", "-creation_time"], name="job_status_idx"),
            models.Index(fields=["secondary_status", "-creation_time"], name="job_secondary_idx"),
            models.Index(fields=["instance_type", "-creation_time"], name="job_instance_type_idx"),
            models.Index(fields=["source", "-creation_time"], name="job_source_idx"),
            models.Index(fields=["tuning_job_arn", "-creation_time"], name="job_tuning_idx"),
            models.Index(fields=["name"], name="job_name_idx"),
            models.Index(fields=["-billable_seconds"], name="job_billable_idx"),
            # Failures page: group by signature over failed jobs.
            models.Index(fields=["failure_signature", "creation_time"], name="job_failure_sig_idx"),
            # Failures page again: status first, so the groups, the examples and
            # the per-day trend read only this index for status='Failed' (the
            # rows themselves carry kilobytes of raw JSON).
            models.Index(fields=["status", "failure_signature", "creation_time"], name="job_status_failure_idx"),
            # Status page "last 24 h": creation, end or last change after a
            # moment; with this one all three OR terms are index range scans.
            models.Index(fields=["last_modified_time"], name="job_modified_idx"),
            models.Index(fields=["-training_end_time"], name="job_end_idx"),
            # Sync: which jobs of a source still need describing (needing_describe):
            # running ones by status, and the few never described or changed
            # since their describe, each in a partial index of its own.
            models.Index(fields=["source", "status"], name="job_source_status_idx"),
            models.Index(fields=["source"], condition=NEVER_DESCRIBED, name="job_never_described_idx"),
            models.Index(fields=["source"], condition=CHANGED_SINCE_DESCRIBE, name="job_changed_idx"),
            # Source health: how many of its jobs are gone (a handful, if any).
            models.Index(fields=["source"], condition=GONE, name="job_gone_idx"),
            # PostgreSQL only (jobs.indexes); migration 0015.
            # Name search (?q=) is name__icontains, UPPER(name::text) LIKE
            # UPPER('%x%'), which no B-tree serves: a pg_trgm index on that
            # same expression does. SQLite reads job_name_idx instead (an FTS5
            # trigram table measured slower for common terms).
            PostgreSQLGinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="job_name_trgm_idx"),
            # A tuning job's trials: tuning_job_arn LIKE '%:hyper-parameter-tuning-job/<name>'
            # (the name's region and account are not known), which only a trigram index serves.
            PostgreSQLGinIndex(OpClass("tuning_job_arn", name="gin_trgm_ops"), name="job_tuning_arn_trgm_idx"),
            # The billable sort, billable_seconds DESC NULLS LAST, id DESC:
            # job_billable_idx puts nulls first on PostgreSQL, so it cannot give
            # that order. SQLite has no null order in an index and walks job_billable_idx.
            PostgreSQLIndex(
                F("billable_seconds").desc(nulls_last=True), F("id").desc(), name="job_billable_nulls_last_idx"
            ),
            # A tag with a status is counted as status = x AND id IN (the tag's
            # job ids) (JobFilter.counted): with the id in the index both sides
            # are index-only scans in id order, merged. SQLite's job_status_idx
            # already carries the rowid.
            PostgreSQLIndex(fields=["status", "id"], name="job_status_id_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_gone(self) -> bool:
        """The source no longer knows this job: its stored status is the last one seen."""
        return self.gone_at is not None

    @property
    def is_running(self) -> bool:
        return not self.is_terminal and self.gone_at is None

    def billable_seconds_now(self, now: datetime | None = None) -> int | None:
        """Like ``billable_seconds``, but up to now for a running job (to its last describe if gone)."""
        if self.is_terminal or self.gone_at is not None:
            return self.billable_seconds
        return billing.billable_seconds(
            self.training_start_time, self.training_end_time, self.instance_count, now=now or timezone.now()
        )

    def billed_time(self, now: datetime | None = None) -> billing.BilledTime | None:
        """What AWS bills for this job, and on which basis (see ``billing.billed_seconds``)."""
        return billing.billed_seconds(
            start=self.training_start_time,
            end=self.training_end_time,
            instance_count=self.instance_count,
            reported_per_instance=self.reported_billable_seconds,
            retained_per_instance=self.warm_pool_retained_seconds,
            finished=self.is_terminal,
            now=now or timezone.now(),
            gone=self.gone_at is not None,
            last_seen=self.described_at or self.gone_at,
        )

    @property
    def reported_billable_total(self) -> int | None:
        return billing.reported_billable_total(self.reported_billable_seconds, self.instance_count)

    @property
    def spot_savings_percent(self) -> float | None:
        if not self.is_spot:
            return None
        return billing.spot_savings_percent(self.reported_billable_seconds, self.training_time_seconds)

    @property
    def warm_pool_retained_total(self) -> int | None:
        return billing.warm_pool_retained_total(self.warm_pool_retained_seconds, self.instance_count)

    @property
    def warm_pool_reused_by(self) -> str:
        """The job that took over this job's warm pool (WarmPoolStatus.ReusedByJob), if any."""
        pool = self.raw.get("WarmPoolStatus") if isinstance(self.raw, dict) else None
        name = pool.get("ReusedByJob") if isinstance(pool, dict) else None
        return name if isinstance(name, str) else ""

    @property
    def instance_preferences(self) -> list[dict[str, Any]]:
        """ResourceConfig.InstancePreferences, in priority order: [{"instance_type", "instance_count"}]."""
        resources = self.raw.get("ResourceConfig") if isinstance(self.raw, dict) else None
        preferences = resources.get("InstancePreferences") if isinstance(resources, dict) else None
        if not isinstance(preferences, list):
            return []
        return [
            {"instance_type": str(p.get("InstanceType", "")), "instance_count": p.get("InstanceCount")}
            for p in preferences
            if isinstance(p, dict)
        ]

    @property
    def region(self) -> str:
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 3 else ""


class StatusTransition(models.Model):
    """One SecondaryStatusTransitions entry; repeats with restarts."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="transitions")
    position = models.PositiveIntegerField(help_text="Order within the job's history.")
    status = models.CharField(max_length=64)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, help_text="AWS's StatusMessage; shown, never branched on.")

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="transition_job_position_uniq")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.status}"

    def as_domain(self) -> Transition:
        return Transition(self.status, self.start_time, self.end_time, self.message)


class JobTag(models.Model):
    """One tag of a job, as rows so the tag filter can use an index."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="tag_rows")
    key = models.CharField(max_length=128)
    value = models.CharField(max_length=256, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="tag_job_key_uniq")]
        indexes = [
            # The tag filter: a tag-only list is counted on this index alone,
            # and a tag with other filters is counted as "id IN (the job ids
            # of this tag)": with the job id in the index that list is read
            # from the index without touching the tag rows (jobs.filters).
            models.Index(fields=["key", "value", "job"], name="tag_key_value_job_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class FinalMetricManager(models.Manager):
    def by_job(self, job_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Each job's final metrics as list rows (name, value), by name, in one query.

        Plain tuples, not a prefetch: building a FinalMetric per value and a
        related manager per job cost more than the list's own query.
        """
        by_job: dict[int, list[dict[str, Any]]] = {job_id: [] for job_id in job_ids}
        rows = self.filter(job_id__in=job_ids).order_by("name").values_list("job_id", "name", "value")
        for job_id, name, value in rows:
            by_job[job_id].append({"name": name, "value": float(value)})
        return by_job


class FinalMetric(models.Model):
    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=255)
    value = models.FloatField()
    timestamp = models.DateTimeField(null=True, blank=True)

    objects = FinalMetricManager()

    class Meta:
        ordering = ["job", "name"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="metric_job_name_uniq")]
        indexes = [
            # Sorting the jobs list by one metric walks this index.
            models.Index(fields=["name", "value"], name="metric_name_value_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class SyncCycleManager(models.Manager):
    def add_stored(self, cycle_id: int, *, described: int, changed: int) -> None:
        """Add to a cycle's counters; its chunks finish in any order, on any worker."""
        self.filter(pk=cycle_id).update(
            described=models.F("described") + described, changed=models.F("changed") + changed
        )


class SyncCycle(models.Model):
    """One pass over a source: list what changed, describe, store.

    running -> finished: ok, "errors" (jobs recorded as SyncErrors) or
    "failed" (``error``: the cycle itself could not list). A cycle with no
    ``finished_at`` after its lease ran out is "unfinished": its process was
    killed. Describes fanned out to Celery tasks add to the counters as they
    finish.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="cycles")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    listed = models.PositiveIntegerField(default=0, help_text="Summaries returned by ListTrainingJobs.")
    list_pages = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0, help_text="Jobs sent to DescribeTrainingJob.")
    described = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0, help_text="Describes that changed the stored job.")
    errors = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the cycle itself failed, if it did.")

    objects = SyncCycleManager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "-started_at"], name="cycle_source_started_idx")]

    def __str__(self) -> str:
        return f"{self.source} @ {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and not self.error and self.errors == 0

    def state(self, now: datetime | None = None) -> str:
        """running, unfinished, failed, errors or ok (see the class docstring)."""
        if self.finished_at is None:
            return "unfinished" if lease_ran_out(self.started_at, now or timezone.now()) else "running"
        if self.error:
            return "failed"
        return "errors" if self.errors else "ok"


class SyncErrorKind(models.TextChoices):
    MALFORMED = "malformed", "Malformed response"
    THROTTLED = "throttled", "Throttled"
    AWS = "aws", "AWS error"
    UNEXPECTED = "unexpected", "Refused by the database"
    EVENT = "event", "Unreadable event"


class SyncError(models.Model):
    """A job the sync could not store, and why; what was stored stays as it was."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="errors")
    cycle = models.ForeignKey(SyncCycle, on_delete=models.SET_NULL, null=True, blank=True, related_name="error_rows")
    job_name = models.CharField(max_length=256, blank=True)
    kind = models.CharField(max_length=64, choices=SyncErrorKind.choices)
    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"], name="syncerror_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.job_name}"


class TuningJob(models.Model):
    """A hyperparameter tuning job its trials name, as DescribeHyperParameterTuningJob tells it."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="tuning_jobs")
    arn = models.CharField(max_length=256, unique=True)
    name = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=32, blank=True, help_text="Empty until a describe succeeded.")
    objective_metric = models.CharField(max_length=256, blank=True)
    objective_type = models.CharField(max_length=16, blank=True, help_text="Minimize or Maximize.")
    strategy = models.CharField(max_length=32, blank=True)
    max_training_jobs = models.PositiveIntegerField(null=True, blank=True)
    raw = models.JSONField(default=dict, encoder=DjangoJSONEncoder, blank=True)
    described_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the last describe failed (no permission, throttled...).")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def minimizes(self) -> bool | None:
        return {"Minimize": True, "Maximize": False}.get(self.objective_type)


class PriceOrigin(models.TextChoices):
    SEEDED = "seeded", "Seeded (published page, us-east-1)"
    PRICE_LIST = "price-list", "AWS Price List (import_prices)"
    HAND = "hand", "Edited by hand"


class InstancePrice(models.Model):
    """On-demand hourly price per instance, for estimated cost."""

    instance_type = models.CharField(max_length=64, unique=True)
    hourly_usd = models.DecimalField(max_digits=10, decimal_places=4)
    note = models.CharField(max_length=255, blank=True, help_text="Where the figure came from.")
    # import_prices replaces seeded and imported figures, never one a person set.
    origin = models.CharField(max_length=16, choices=PriceOrigin.choices, default=PriceOrigin.HAND)
    effective_date = models.DateField(null=True, blank=True, help_text="Since when the figure applies, if known.")

    class Meta:
        ordering = ["instance_type"]

    def __str__(self) -> str:
        return f"{self.instance_type} ${self.hourly_usd}/h"


class TeamBudget(models.Model):
    """A month's spending budget for the jobs carrying one tag value (``team=vision``)."""

    tag_key = models.CharField(max_length=128, default="team", help_text="The tag whose value names the team.")
    tag_value = models.CharField(max_length=256, help_text="The team: jobs with this value of the tag.")
    monthly_usd = models.DecimalField(
        "monthly budget (USD)",
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Estimated spend allowed per calendar month (local time zone).",
    )

    class Meta:
        ordering = ["tag_key", "tag_value"]
        constraints = [models.UniqueConstraint(fields=["tag_key", "tag_value"], name="teambudget_tag_uniq")]

    def __str__(self) -> str:
        return f"{self.tag_key}={self.tag_value} ${self.monthly_usd}/month"


class JobChange(models.Model):
    """A status or secondary status a store changed, or a job it created: the ingest outbox.

    jobs.ingest writes one in the transaction that changed the job, so a row
    exists exactly when the change was committed, once, whichever worker won.
    Readers (alerts, push events, counters) take the rows after the last id
    they handled; old rows are pruned by age (``JobChange.objects.prune``).
    """

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="changes")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="job_changes")
    created_at = models.DateTimeField(default=timezone.now, help_text="When the change was stored.")
    is_new = models.BooleanField(default=False, help_text="The store created the job.")
    old_status = models.CharField(max_length=32, blank=True, help_text="Empty for a new job.")
    new_status = models.CharField(max_length=32)
    old_secondary_status = models.CharField(max_length=64, blank=True, help_text="Empty for a new job.")
    new_secondary_status = models.CharField(max_length=64, blank=True)
    last_modified_time = models.DateTimeField(
        null=True, blank=True, help_text="AWS's LastModifiedTime in the response or summary that made the change."
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            # Pruning by age.
            models.Index(fields=["created_at"], name="jobchange_created_idx"),
        ]

    def __str__(self) -> str:
        if self.is_new:
            return f"{self.job_id} new: {self.new_status}/{self.new_secondary_status}"
        return (
            f"{self.job_id}: {self.old_status}/{self.old_secondary_status}"
            f" -> {self.new_status}/{self.new_secondary_status}"
        )


class SeriesKind(models.TextChoices):
    ALGORITHM = "algorithm", "Algorithm metric"
    INSTANCE = "instance", "Instance utilization"


class MetricSeriesQuerySet(models.QuerySet):
    def algorithm(self) -> MetricSeriesQuerySet:
        return self.filter(kind=SeriesKind.ALGORITHM)

    def newest_point_of_job(self, field: str = "cursor") -> models.Subquery:
        """For ``TrainingJob.objects.annotate()``: the newest stored point's time (or, with ``field="name"``,
        its series' name) among these series of each job; NULL for a job with none.

        The one reader of where a series' points end outside the fetch: the
        ``cursor`` is the newest stored point's timestamp. One lookup per job
        on the (job, name, host) index, however the points are stored.
        """
        newest = self.filter(job=models.OuterRef("pk"), cursor__isnull=False).order_by("-cursor", "name")
        return models.Subquery(newest.values(field)[:1])


class MetricSeries(models.Model):
    """One CloudWatch series of a job; its points live in ``SeriesChunk`` rows, one per UTC day.

    ``display`` is the series downsampled for the charts at write time, so
    pages never read the points. ``cursor`` is the newest point's time: the
    one column to read for "when did this series last report".
    """

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="series")
    kind = models.CharField(max_length=16, choices=SeriesKind.choices)
    name = models.CharField(max_length=255, help_text="CloudWatch MetricName, e.g. train:loss or CPUUtilization.")
    host = models.CharField(
        max_length=128, blank=True, help_text="Host dimension (<job>/algo-<n>); empty for algorithm metrics."
    )
    point_count = models.PositiveIntegerField(default=0)
    cursor = models.DateTimeField(
        null=True, blank=True, help_text="Timestamp of the newest stored point: the next fetch starts there."
    )
    display = models.BinaryField(
        default=bytes, editable=False, help_text="The series downsampled for the charts, packed like the points."
    )
    last_value = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MetricSeriesQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "metric series"
        ordering = ["job", "kind", "host", "name"]
        constraints = [models.UniqueConstraint(fields=["job", "name", "host"], name="series_job_name_host_uniq")]

    def __str__(self) -> str:
        return f"{self.host or self.job_id}: {self.name}"


class SeriesChunkQuerySet(models.QuerySet):
    def points_of(self, series_ids: list[int]) -> dict[int, bytes]:
        """Each series' packed points, its day chunks joined in order: one query for any number of series."""
        joined: dict[int, list[bytes]] = {i: [] for i in series_ids}
        rows = self.filter(series_id__in=series_ids).order_by("series_id", "day").values_list("series_id", "points")
        for series_id, points in rows:
            joined[series_id].append(bytes(points))
        return {i: b"".join(parts) for i, parts in joined.items()}


class SeriesChunk(models.Model):
    """One UTC day of a series' points: an append rewrites only the newest day, not the whole series.

    ``points`` is little-endian float64 (epoch seconds, value) pairs
    (``jobs.domain.cloudwatch.pack_points``), oldest first.
    """

    series = models.ForeignKey(MetricSeries, on_delete=models.CASCADE, related_name="chunks")
    day = models.DateField(help_text="UTC day of every point in the chunk.")
    point_count = models.PositiveIntegerField(default=0)
    points = models.BinaryField(default=bytes, editable=False)

    objects = SeriesChunkQuerySet.as_manager()

    class Meta:
        ordering = ["series", "day"]
        # The unique index serves both the append (newest day of a series) and the read (a series' days in order).
        constraints = [models.UniqueConstraint(fields=["series", "day"], name="serieschunk_series_day_uniq")]

    def __str__(self) -> str:
        return f"{self.series_id} {self.day}"


class LogTail(models.Model):
    """The newest lines of one host's log stream, cleaned and cut (``TRAINWATCH_LOG_TAIL_LINES``)."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="log_tails")
    stream = models.CharField(max_length=512, help_text="Log stream, <job>/algo-<n>-<epoch>.")
    host = models.CharField(max_length=128, help_text="algo-<n>, from the stream's name.")
    forward_token = models.CharField(
        max_length=512, blank=True, help_text="GetLogEvents' nextForwardToken: where the next fetch starts."
    )
    lines = models.JSONField(
        default=list, blank=True, help_text="[[timestamp ms, text, length before the cut], ...], oldest first."
    )
    events_seen = models.PositiveBigIntegerField(default=0, help_text="Events read from the stream, kept or not.")
    last_event_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job", "host", "stream"]
        constraints = [models.UniqueConstraint(fields=["job", "stream"], name="logtail_job_stream_uniq")]

    def __str__(self) -> str:
        return self.stream


class CloudWatchFetch(models.Model):
    """Where a job's CloudWatch fetching stands.

    fetched while running -> one final fetch once it is terminal
    (``final_fetched_at``) -> never fetched again.
    """

    job = models.OneToOneField(TrainingJob, on_delete=models.CASCADE, primary_key=True, related_name="cloudwatch")
    metric_names = models.JSONField(
        default=list, blank=True, help_text="Algorithm metric names: MetricDefinitions and ListMetrics."
    )
    names_listed_at = models.DateTimeField(null=True, blank=True)
    streams_listed_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="Last fetch that completed.")
    final_fetched_at = models.DateTimeField(
        null=True, blank=True, help_text="The fetch after the job turned terminal; none follows."
    )

    class Meta:
        verbose_name = "CloudWatch fetch"

    def __str__(self) -> str:
        return f"CloudWatch of job {self.job_id}"
