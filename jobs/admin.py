"""Admin: browse what the sync stored, fix prices, and act on jobs in AWS.

Everything on a training job comes from AWS, so it is read-only here; of
the two actions, "sync now" queues the sync's own describe task and "stop"
goes through jobs.sagemaker like every other AWS call. Lists filter only
through their list filters and search (``StrictLookupsMixin``). The job
list is built for 100k rows: one query for the page, one COUNT for the
filtered total, never a full-table count.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.models import Group, User
from django.core.exceptions import BadRequest, FieldDoesNotExist, ValidationError
from django.db.models import Model, QuerySet, Subquery
from django.db.models.constants import LOOKUP_SEP
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.functional import cached_property
from django.utils.html import format_html
from kombu.exceptions import OperationalError
from rest_framework.authtoken.models import TokenProxy

from jobs import sagemaker, sync, tasks
from jobs.domain import statuses
from jobs.domain.chunks import chunked
from jobs.domain.health import SyncState
from jobs.models import (
    FinalMetric,
    InstancePrice,
    LogTail,
    MetricSeries,
    PriceOrigin,
    Source,
    StatusTransition,
    SyncCycle,
    SyncError,
    TeamBudget,
    TrainingJob,
    TuningJob,
)
from jobs.templatetags.trainwatch import status_class

# StopTrainingJob calls run inside the request, one by one, against a
# rate-limited management API: keep a batch well under a timeout. Syncs are
# queued, but one click should not flood the describe queue either.
ACTION_CAP = 50


def status_badge(status: str) -> str:
    # The pages' own status -> class mapping, so both agree on unknown statuses.
    return format_html('<span class="tw-badge tw-{}">{}</span>', status_class(status), status or "?")


def instance_hours(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 3600:,.1f} h"


# Lookups whose value is one of the column's own: checked against the field
# (type, range, length) before it reaches the database.
_VALUE_LOOKUPS = {"", "exact", "gt", "gte", "lt", "lte"}
# A job's change page shows its last transitions, and links to the rest.
TRANSITIONS_SHOWN = 50
# Longer searches are a typo or a probe: each word is a LIKE over every row.
SEARCH_MAX_LENGTH = 200


def value_fits(model: type[Model], lookup: str, value: str) -> bool:
    """Whether ``value`` can be compared with the column ``lookup`` names.

    A 30-digit id overflows SQLite's integer (a 500) and PostgreSQL's bigint,
    a NUL byte is refused by PostgreSQL's text type: both are 400s here.
    """
    if "\x00" in value:
        return False
    opts, field, parts = model._meta, None, lookup.split(LOOKUP_SEP)
    while parts:
        try:
            field = opts.get_field(parts[0])
        except FieldDoesNotExist:
            break
        parts.pop(0)
        if not field.is_relation:
            break
        opts = field.related_model._meta
    if field is None or LOOKUP_SEP.join(parts) not in _VALUE_LOOKUPS:
        return True  # isnull, isempty: the list filter checks its own values
    if field.is_relation:
        field = field.target_field
    try:
        field.run_validators(field.to_python(value))
    except ValidationError:
        return False
    return True


class FilterOnlyChangeList(ChangeList):
    """A changelist filtered only by its list filters.

    Django lets a query string filter on any local field (``?name__regex=``
    pinned a worker on a regex over every row; ``?raw__contains=`` reads
    every job's JSON). Whatever no list filter took is refused here, before
    the page's query runs.
    """

    def get_filters(self, request: HttpRequest) -> tuple:
        specs, has_filters, remaining, may_have_duplicates, has_active = super().get_filters(request)
        # A date hierarchy's year/month/day come back as these two.
        hierarchy = {f"{self.date_hierarchy}__gte", f"{self.date_hierarchy}__lt"} if self.date_hierarchy else set()
        if extra := set(remaining) - hierarchy:
            raise DisallowedModelAdminLookup(f"Filtering by {', '.join(sorted(extra))} not allowed")
        return specs, has_filters, remaining, may_have_duplicates, has_active


class StrictLookupsMixin:
    """For every ModelAdmin here: filter through list_filter and search only; bad values are 400s."""

    # "Show counts" aggregates every filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return FilterOnlyChangeList

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return value_fits(self.model, lookup, value) and super().lookup_allowed(lookup, value, request)

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        # Django answers a filter value it cannot use (a date that is not a
        # date) with a redirect to the unfiltered list: say so instead.
        try:
            return super().get_changelist_instance(request)
        except IncorrectLookupParameters as exc:
            raise BadRequest(f"Bad filter: {exc}") from exc

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        # (A NUL byte never gets here: Django's search form refuses it.)
        if len(search_term) > SEARCH_MAX_LENGTH:
            raise BadRequest(f"Search for at most {SEARCH_MAX_LENGTH} characters.")
        return super().get_search_results(request, queryset, search_term)


class ReadOnlyMixin:
    """Rows written only by the sync: browsable, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LastTransitionsFormSet(BaseInlineFormSet):
    """A job's last ``TRANSITIONS_SHOWN`` transitions, and how many it has.

    A job in a restart loop has thousands, and a formset renders a row for
    every object it is given; the rest are a link away, on the transitions'
    own list (``StatusTransitionAdmin``).
    """

    def get_queryset(self) -> QuerySet[StatusTransition]:
        if not hasattr(self, "_queryset"):
            rows = super().get_queryset()  # this job's, in position order
            # Formsets need an unsliced queryset: the slice goes in a subquery.
            last = rows.order_by("-position").values("pk")[:TRANSITIONS_SHOWN]
            self._queryset = rows.filter(pk__in=Subquery(last))
        return self._queryset

    @cached_property
    def shown(self) -> int:
        return len(self.get_queryset())

    @cached_property
    def total(self) -> int:
        if self.shown < TRANSITIONS_SHOWN:
            return self.shown  # all of them: no need to count
        return StatusTransition.objects.filter(job=self.instance).count()


class StatusTransitionInline(ReadOnlyMixin, admin.TabularInline):
    model = StatusTransition
    formset = LastTransitionsFormSet
    template = "admin/jobs/trainingjob/transitions_inline.html"
    ordering = ("position",)  # the model's ("job", ...) would join the job table for nothing
    fields = readonly_fields = ("position", "status", "start_time", "end_time", "message")
    extra = 0
    can_delete = False


class FinalMetricInline(ReadOnlyMixin, admin.TabularInline):
    model = FinalMetric
    ordering = ("name",)
    fields = readonly_fields = ("name", "value", "timestamp")
    extra = 0
    can_delete = False


@admin.register(TrainingJob)
class TrainingJobAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "status_display",
        "secondary_status",
        "instances",
        "creation_time",
        "billable",
        "cost_basis",
        "source",
    )
    list_filter = (
        "status",
        "secondary_status",
        "instance_type",
        "source",
        "is_spot",
        ("gone_at", admin.EmptyFieldListFilter),
        # Not date_hierarchy: its year/month/day links come from a SELECT
        # DISTINCT over the truncated date of every row in range.
        ("creation_time", admin.DateFieldListFilter),
    )
    search_fields = ("name", "failure_reason")
    list_select_related = ("source",)
    # COUNT(*) over 100k rows on every page view buys nothing; the filtered
    # count (what the paginator needs) is still shown.
    show_full_result_count = False
    list_per_page = 100
    inlines = (StatusTransitionInline, FinalMetricInline)
    actions = ("sync_selected", "stop_selected")
    fieldsets = (
        (None, {"fields": ("name", "arn", "source", "status", "secondary_status", "failure_reason")}),
        (
            "Times",
            {"fields": ("creation_time", "training_start_time", "training_end_time", "last_modified_time")},
        ),
        (
            "Resources",
            {
                "fields": (
                    "instance_type",
                    "instance_count",
                    "instance_groups",
                    "volume_size_gb",
                    "keep_alive_seconds",
                    "is_spot",
                    "max_runtime_seconds",
                    "max_wait_seconds",
                    "max_pending_seconds",
                )
            },
        ),
        (
            "Billing",
            {
                "fields": (
                    "training_time_seconds",
                    "reported_billable_seconds",
                    "billable_seconds",
                    "cost_basis",
                    "warm_pool_status",
                    "warm_pool_retained_seconds",
                )
            },
        ),
        (
            "Configuration",
            {
                "fields": (
                    "hyperparameters",
                    "algorithm",
                    "input_channels",
                    "output_path",
                    "model_artifacts",
                    "role_arn",
                    "tuning_job_arn",
                    "labeling_job_arn",
                    "network_isolation",
                    "inter_container_encryption",
                    "tags",
                )
            },
        ),
        (
            "Sync",
            {
                "classes": ("collapse",),
                "fields": (
                    "failure_signature",
                    "described_at",
                    "described_last_modified_time",
                    "tags_fetched_at",
                    "not_found_count",
                    "gone_at",
                    "raw_pretty",
                ),
            },
        ),
    )

    class Media:
        css = {"all": ("jobs/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrainingJob]:
        # The change page shows the source too; one join instead of a second query.
        return super().get_queryset(request).select_related("source")

    def get_readonly_fields(self, request: HttpRequest, obj: TrainingJob | None = None) -> list[str]:
        # Every column mirrors AWS (or the sync's bookkeeping); an edit here
        # would be silently overwritten by the next describe.
        return [f.name for f in TrainingJob._meta.concrete_fields if f.name not in {"id", "raw"}] + [
            "cost_basis",
            "raw_pretty",
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TrainingJob | None = None) -> bool:
        # Jobs mirror AWS; a deleted row would hide a job until it next changes.
        return False

    def has_stop_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.stop_trainingjob")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="status", ordering="status")
    def status_display(self, job: TrainingJob) -> str:
        if job.gone_at is not None:
            return format_html("{} gone at source", status_badge(job.status))
        return status_badge(job.status)

    @admin.display(description="instances", ordering="instance_type")
    def instances(self, job: TrainingJob) -> str:
        return f"{job.instance_type or '?'} x {job.instance_count}"

    @admin.display(description="billable", ordering="billable_seconds")
    def billable(self, job: TrainingJob) -> str:
        return instance_hours(job.billable_seconds_now())

    @admin.display(description="cost basis")
    def cost_basis(self, job: TrainingJob) -> str:
        # Which figure the job's estimated cost is priced from (jobs.domain.billing).
        billed = job.billed_time()
        if billed is None:
            return "-"
        return format_html('<span title="{}">{}</span>', billed.explanation, billed.label)

    @admin.display(description="raw DescribeTrainingJob response")
    def raw_pretty(self, job: TrainingJob) -> str:
        return format_html('<pre class="tw-raw">{}</pre>', json.dumps(job.raw, indent=2, sort_keys=True))

    def _over_cap(self, request: HttpRequest, queryset: QuerySet, verb: str) -> bool:
        count = queryset.count()
        if count > ACTION_CAP:
            self.message_user(
                request,
                f"Select at most {ACTION_CAP} jobs to {verb} at once ({count} selected); nothing was done.",
                messages.ERROR,
            )
            return True
        return False

    @admin.action(description="Sync selected jobs now", permissions=["change"])
    def sync_selected(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        if self._over_cap(request, queryset, "sync"):
            return
        names: dict[int, list[str]] = defaultdict(list)
        for source_id, name in queryset.order_by("pk").values_list("source_id", "name"):
            names[source_id].append(name)
        # The sync's own describe task, on a worker: a request never waits on
        # AWS's rate limits and retries, and failures land in SyncError as usual.
        try:
            for source_id, source_names in names.items():
                for chunk in chunked(source_names, sync.DESCRIBE_CHUNK):
                    tasks.describe_jobs.delay(source_id, chunk, None)
        except OperationalError as exc:
            self.message_user(request, f"The task queue did not answer, nothing was queued: {exc}", messages.ERROR)
            return
        count = sum(len(n) for n in names.values())
        self.message_user(
            request,
            f"Queued {count} job{'s' if count != 1 else ''} to be described; "
            "each row updates when a worker has described it (failures go to sync errors).",
            messages.SUCCESS,
        )

    @admin.action(description="Stop selected training jobs", permissions=["stop"])
    def stop_selected(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> HttpResponse | None:
        if self._over_cap(request, queryset, "stop"):
            return None
        jobs = list(queryset.select_related("source").order_by("pk"))
        # The changelist runs actions on POST only; the confirmation form
        # posts back here with "confirm" (and the CSRF token) to act.
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/jobs/trainingjob/stop_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Stop training jobs?",
                    "opts": self.model._meta,
                    "to_stop": [job for job in jobs if stoppable(job)],
                    "to_skip": [job for job in jobs if not stoppable(job)],
                    "selected": [job.pk for job in jobs],
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                    "media": self.media,
                },
            )
        for job in jobs:
            level, message = stop_one(job)
            if level == messages.SUCCESS:
                self.log_change(request, job, "Requested StopTrainingJob")
            self.message_user(request, f"{job.name}: {message}", level)
        return None


def stoppable(job: TrainingJob) -> bool:
    """Whether StopTrainingJob makes sense for what we last stored.

    Terminal jobs cannot be stopped and a Stopping job is already on its
    way; anything else (including statuses AWS adds later) gets the call
    and AWS has the last word.
    """
    return job.status not in statuses.TERMINAL and job.status != statuses.STOPPING


def stop_one(job: TrainingJob) -> tuple[int, str]:
    if job.status in statuses.TERMINAL:
        return messages.WARNING, f"already {job.status}, skipped."
    if job.status == statuses.STOPPING:
        return messages.WARNING, "already stopping, skipped."
    try:
        sagemaker.stop_job(sagemaker.SourceConfig.of(job.source), job.name)
    except sagemaker.NotFound as exc:
        return messages.ERROR, f"not found in SageMaker: {exc}"
    except sagemaker.SageMakerError as exc:
        return messages.ERROR, f"AWS error: {exc}"
    # Read the job back so the list shows Stopping now rather than at the
    # next cycle; a failed read is recorded as a sync error and the next
    # cycle catches up.
    result = sync.describe_and_store(job.source, job.name, cycle_id=None)
    if result.error:
        return messages.SUCCESS, "stopped (StopTrainingJob accepted; reading the job back failed)."
    job.refresh_from_db(fields=["status"])
    return messages.SUCCESS, f"stopped (StopTrainingJob accepted; now {job.status})."


@admin.register(Source)
class SourceAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "region",
        "endpoint_url",
        "enabled",
        "health",
        "last_success_at",
        "last_sync_finished_at",
        "short_error",
    )
    list_filter = ("enabled",)
    search_fields = ("name", "region", "account_id")
    readonly_fields = (
        "account_id",
        "list_cursor",
        "sync_lease_until",
        "last_sync_started_at",
        "last_sync_finished_at",
        "last_success_at",
        "last_error",
    )

    class Media:
        css = {"all": ("jobs/admin.css",)}

    @admin.display(description="health")
    def health(self, source: Source) -> str:
        if not source.enabled:
            return format_html('<span class="tw-badge tw-stopped">{}</span>', "disabled")
        health = source.health()
        badge = {
            SyncState.OK: "completed",
            SyncState.STALE: "stopping",
            SyncState.FAILING: "failed",
            SyncState.NEVER: "unknown",
            SyncState.UNFINISHED: "stopping",
        }[health.state]
        return format_html(
            '<span class="tw-badge tw-{}" title="{}">{}</span>', badge, health.reason, health.state.label
        )

    @admin.display(description="last error")
    def short_error(self, source: Source) -> str:
        return source.last_error[:120]


class OneJobFilter(admin.RelatedFieldListFilter):
    """Filter by job, offering only the job chosen (from its change page's link).

    Django's related filter lists every job as a choice: the whole jobs table.
    """

    def field_choices(self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[Any, str]]:
        if not self.lookup_val:
            return []
        return list(TrainingJob.objects.filter(pk__in=self.lookup_val).values_list("pk", "name"))

    def has_output(self) -> bool:
        return bool(self.lookup_choices)


@admin.register(StatusTransition)
class StatusTransitionAdmin(StrictLookupsMixin, ReadOnlyMixin, admin.ModelAdmin):
    """All of a job's transitions, for the jobs with more than its change page shows."""

    list_display = ("job", "position", "status", "start_time", "end_time", "message")
    list_filter = (("job", OneJobFilter),)
    # Exact: a substring search would join every transition to its job's name.
    search_fields = ("job__name__exact",)
    list_select_related = ("job",)
    # Newest first, on the (job, position) unique index; the model's ("job",
    # ...) would sort by the job's creation time through a join.
    ordering = ("-job_id", "-position")
    show_full_result_count = False
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusTransition]:
        # The job is only named here: not its raw JSON a hundred times over.
        return super().get_queryset(request).only(*(f.name for f in StatusTransition._meta.fields), "job__name")


@admin.register(SyncCycle)
class SyncCycleAdmin(StrictLookupsMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "started_at",
        "source",
        "finished_at",
        "listed",
        "list_pages",
        "queued",
        "described",
        "changed",
        "errors",
        "state",
    )
    list_filter = ("source", ("started_at", admin.DateFieldListFilter))
    list_select_related = ("source",)
    show_full_result_count = False

    class Media:
        css = {"all": ("jobs/admin.css",)}

    # A cycle's state -> the badge colour of the job status it reads like.
    _BADGES = {
        "ok": "completed",
        "errors": "stopping",
        "failed": "failed",
        "running": "running",
        "unfinished": "unknown",
    }

    @admin.display(description="state")
    def state(self, cycle: SyncCycle) -> str:
        state = cycle.state()
        label = f"{cycle.errors} error{'s' if cycle.errors != 1 else ''}" if state == "errors" else state
        return format_html('<span class="tw-badge tw-{}">{}</span>', self._BADGES[state], label)


@admin.register(SyncError)
class SyncErrorAdmin(StrictLookupsMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "source", "kind", "job_name", "short_message")
    list_filter = ("kind", "source", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("source",)
    search_fields = ("job_name", "message")
    show_full_result_count = False
    raw_id_fields = ("cycle",)

    @admin.display(description="message")
    def short_message(self, error: SyncError) -> str:
        return error.message[:160]


@admin.register(MetricSeries)
class MetricSeriesAdmin(StrictLookupsMixin, ReadOnlyMixin, admin.ModelAdmin):
    """What the CloudWatch sync stored per series; the points themselves are drawn on the job's page."""

    list_display = ("job", "kind", "name", "host", "point_count", "last_value", "cursor", "updated_at")
    list_filter = ("kind", ("job", OneJobFilter))
    search_fields = ("job__name__exact",)
    list_select_related = ("job",)
    exclude = ("display",)  # hundreds of pairs: the job page draws them
    ordering = ("-job_id", "kind", "host", "name")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[MetricSeries]:
        # Never the display copy (the points live in SeriesChunk rows).
        return super().get_queryset(request).defer("display", "job__raw")


@admin.register(LogTail)
class LogTailAdmin(StrictLookupsMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("job", "host", "stream", "events_seen", "last_event_at", "updated_at")
    list_filter = (("job", OneJobFilter),)
    search_fields = ("job__name__exact",)
    list_select_related = ("job",)
    exclude = ("lines",)  # up to a thousand untrusted lines: the job page shows them escaped
    ordering = ("-job_id", "host", "stream")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[LogTail]:
        return super().get_queryset(request).defer("lines", "job__raw")


@admin.register(InstancePrice)
class InstancePriceAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("instance_type", "hourly_usd", "origin", "effective_date", "note")
    list_editable = ("hourly_usd",)
    list_filter = ("origin",)
    search_fields = ("instance_type",)
    readonly_fields = ("origin",)

    def save_model(self, request: HttpRequest, obj: InstancePrice, form: Any, change: bool) -> None:
        # A price set here wins over import_prices from now on.
        if not change or form.has_changed():
            obj.origin = PriceOrigin.HAND
        super().save_model(request, obj, form, change)


@admin.register(TuningJob)
class TuningJobAdmin(ReadOnlyMixin, StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("name", "source", "status", "objective_metric", "objective_type", "described_at", "error")
    list_filter = ("source", "status")
    search_fields = ("name",)
    exclude = ("raw",)


@admin.register(TeamBudget)
class TeamBudgetAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("tag_key", "tag_value", "monthly_usd")
    list_editable = ("monthly_usd",)
    search_fields = ("tag_value",)


def _guard_other_admins(models: list[type[Model]]) -> None:
    """Give the framework's and libraries' own admins the same lookup guard as ours.

    ``jobs`` comes last in INSTALLED_APPS, so these are registered by now.
    """
    for model in models:
        if not admin.site.is_registered(model):
            continue
        original = type(admin.site.get_model_admin(model))
        admin.site.unregister(model)
        admin.site.register(model, type(original.__name__, (StrictLookupsMixin, original), {}))


_guard_other_admins([User, Group, TokenProxy, AccessAttempt, AccessLog, AccessFailureLog])
