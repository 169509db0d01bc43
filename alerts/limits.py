"""Time-based alerts: running jobs past a share of their MaxRuntime or stalled in a phase, teams over
their daily budget, sources that stopped syncing.

No change marks the moment a job crosses 90 % of its MaxRuntime, so these
are decided by the delivery sweep (every few seconds) and by ``sync_jobs``,
from the running jobs in one query however many there are; the
UNIQUE(rule, job, event) constraint keeps each one to a single alert when
sweeps overlap.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, Count, F, OuterRef, Subquery, Sum, TextField, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Greatest
from django.db.models.lookups import LessThan
from django.utils import timezone

from alerts import domain
from alerts.decide import record
from alerts.models import Alert, AlertKind, AlertRule
from jobs.costs import price_table, rate_for
from jobs.domain.dates import format_duration
from jobs.domain.health import SyncState
from jobs.models import MetricSeries, Source, StatusTransition, TrainingJob
from jobs.spend import SecondsBetween, billed_seconds_since

UNHEALTHY = frozenset({SyncState.STALE, SyncState.FAILING, SyncState.UNFINISHED})


def decide_limits(*, now: datetime | None = None) -> list[Alert]:
    """Record an alert for every running job past its rule's share of MaxRuntime, once."""
    now = now or timezone.now()
    rules = list(AlertRule.objects.active().filter(kind=AlertKind.NEAR_MAX_RUNTIME))
    if not rules:
        return []
    running = (
        TrainingJob.objects.running()
        .order_by()
        .filter(max_runtime_seconds__isnull=False, training_start_time__isnull=False)
    )
    alerts = []
    for job in running.values(
        "id", "name", "tags", "source_id", "status", "secondary_status", "training_start_time", "max_runtime_seconds"
    ):
        for rule in rules:
            event = domain.near_limit_event(
                start=job["training_start_time"],
                max_runtime_seconds=job["max_runtime_seconds"],
                share_percent=rule.share_percent,
                now=now,
                rule_created_at=rule.created_at,
            )
            if event is None or not _covers(rule, job):
                continue
            alerts.append(
                Alert(
                    rule=rule,
                    job_id=job["id"],
                    event=event,
                    status=job["status"],
                    secondary_status=job["secondary_status"],
                    created_at=now,
                )
            )
    return _record_new(alerts, rules, "runtime>=", now)


def _not_yet_decided(alerts: list[Alert], rules: list[AlertRule], prefix: str) -> list[Alert]:
    """``alerts`` less those of running jobs decided before, in one query however many run.

    A job stays past its share or stalled for many sweeps: left out here
    rather than inserted again (and ignored by the constraint) every few seconds.
    """
    if not alerts:
        return []
    decided = set(
        Alert.objects.filter(
            rule__in=rules, job__in=TrainingJob.objects.running(), event__startswith=prefix
        ).values_list("rule_id", "job_id", "event")
    )
    return [a for a in alerts if (a.rule_id, a.job_id, a.event) not in decided]


def decide_source_health(*, now: datetime | None = None) -> list[Alert]:
    """Record an alert, once per outage, for every enabled source that is stale, failing or abandoned.

    The state is jobs.domain.health's, the one /healthz and the status page
    show. A source never synced yet is left alone: it is being set up.
    """
    now = now or timezone.now()
    rules = list(AlertRule.objects.active().filter(kind=AlertKind.SOURCE_HEALTH))
    if not rules:
        return []
    alerts = []
    for source in Source.objects.filter(enabled=True):
        health = source.health(now)
        event = domain.outage_event(unhealthy=health.state in UNHEALTHY, last_success_at=source.last_success_at)
        if event is None:
            continue
        for rule in rules:
            if rule.scope_source_id is not None and rule.scope_source_id != source.pk:
                continue
            alerts.append(Alert(rule=rule, source=source, event=event, status=health.state.label, created_at=now))
    with transaction.atomic():
        return record(alerts, now)


# --- Stalls ---------------------------------------------------------------------------

STALL_HISTORY = timedelta(days=30)
P95_CACHE_SECONDS = 3600  # the p95s move slowly: one aggregate an hour, not one per sweep
TOP_JOBS = 5


def decide_stalls(*, now: datetime | None = None) -> list[Alert]:
    """Record an alert for every running job in one phase past its threshold, once per phase entry.

    Queries: the rules, the running jobs with their current phase's start
    (one subquery on the transitions' (job, position) index); only when a
    job has been in its phase longer than the lowest floor, the p95 per
    instance type and phase (one aggregate, cached for an hour); only when
    one is past its threshold, the running jobs' alerts already decided;
    and the record of the new ones. None of them grows with the number of
    jobs.
    """
    now = now or timezone.now()
    rules = list(AlertRule.objects.active().filter(kind=AlertKind.STALLED))
    if not rules:
        return []
    phase_start = (
        StatusTransition.objects.filter(job=OuterRef("pk"), status=OuterRef("secondary_status"))
        .order_by("-position")
        .values("start_time")[:1]
    )
    floor = timedelta(minutes=min(r.stall_floor_minutes for r in rules))
    running = [
        job
        # No ORDER BY: with the default one SQLite walks the creation time index over every job.
        for job in TrainingJob.objects.running()
        .order_by()
        .filter(secondary_status__in=sorted(domain.STALL_PHASES))
        .annotate(phase_start=Subquery(phase_start))
        .values("id", "name", "tags", "source_id", "status", "secondary_status", "instance_type", "phase_start")
        if job["phase_start"] is not None and now - job["phase_start"] >= floor
    ]
    if not running:
        return []
    p95s = phase_p95s(now)
    alerts = []
    for job in running:
        phase = job["secondary_status"]
        p95, samples = p95s.get((job["instance_type"], phase), (None, 0))
        for rule in rules:
            threshold = domain.stall_threshold(
                phase, p95_seconds=p95, samples=samples, floor_seconds=rule.stall_floor_minutes * 60
            )
            if threshold is None:
                continue
            event = domain.stall_event(
                phase=phase,
                phase_start=job["phase_start"],
                threshold_seconds=threshold.seconds,
                now=now,
                rule_created_at=rule.created_at,
            )
            if event is None or not _covers(rule, job):
                continue
            stalled_for = (now - job["phase_start"]).total_seconds()
            note = (
                f"in {phase} for {format_duration(stalled_for)} since {job['phase_start'].isoformat()}, "
                f"past {format_duration(threshold.seconds)} ({threshold.basis})"
            )
            alerts.append(
                Alert(
                    rule=rule,
                    job_id=job["id"],
                    event=event,
                    status=job["status"],
                    secondary_status=phase,
                    details={
                        "note": note,
                        "phase": phase,
                        "phase_start": job["phase_start"].isoformat(),
                        "threshold_seconds": threshold.seconds,
                        "basis": threshold.basis,
                    },
                    created_at=now,
                )
            )
    return _record_new(alerts, rules, "stall:", now)


def phase_p95s(now: datetime) -> dict[tuple[str, str], tuple[int, int]]:
    """(instance type, phase) -> (p95 seconds, finished phases counted) of jobs created in 30 days; cached an hour."""
    key = f"trainwatch:alerts:phase-p95:{int(now.timestamp()) // P95_CACHE_SECONDS}"
    cached = cache.get(key)
    if cached is None:
        cached = [[t, p, p95, n] for (t, p), (p95, n) in _phase_p95s(now).items()]
        cache.set(key, cached, timeout=P95_CACHE_SECONDS)
    return {(t, p): (p95, n) for t, p, p95, n in cached}


def _phase_p95s(now: datetime) -> dict[tuple[str, str], tuple[int, int]]:
    # A histogram in SQL (SQLite has no percentile function), a few hundred
    # rows per phase at most: each duration counted in a bucket a minute wide
    # under an hour, a quarter under a day, an hour beyond, as
    # domain.bucket_edge; the p95 is read from it in Python.
    seconds = Greatest(SecondsBetween("start_time", "end_time"), Value(0))
    edge = Case(
        When(LessThan(seconds, 3600), then=(seconds / 60 + 1) * 60),
        When(LessThan(seconds, 86400), then=(seconds / 900 + 1) * 900),
        default=(seconds / 3600 + 1) * 3600,
    )
    rows = (
        # The jobs created in the last 30 days, found on the creation time
        # index, then their transitions by job: a range on the transitions'
        # own start time made SQLite read every job's.
        StatusTransition.objects.filter(
            job__creation_time__gte=now - STALL_HISTORY,
            end_time__isnull=False,
            status__in=sorted(domain.STALL_PHASES),
        )
        .annotate(edge=edge)
        .order_by()
        .values_list("job__instance_type", "status", "edge")
        .annotate(n=Count("id"))
    )
    histograms: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for instance_type, phase, bucket, n in rows:
        histograms[(instance_type, phase)][int(bucket)] = n
    out = {}
    for group, histogram in histograms.items():
        p95 = domain.percentile_from_histogram(histogram)
        if p95 is not None:
            out[group] = (p95, sum(histogram.values()))
    return out


# --- Metric stalls --------------------------------------------------------------------


def decide_metric_stalls(*, now: datetime | None = None) -> list[Alert]:
    """Record an alert for every running job whose algorithm metrics stopped: once per silence.

    Queries: the rules; the running jobs fetched from CloudWatch with their
    newest algorithm metric point (a subquery per job on the series' job
    index), only those older than the shortest rule's silence; only when one
    is past its rule's, the running jobs' alerts already decided and the
    record of the new ones. None of them grows with the number of jobs.
    """
    now = now or timezone.now()
    rules = list(AlertRule.objects.active().filter(kind=AlertKind.METRICS_STALLED))
    if not rules:
        return []
    series = MetricSeries.objects.algorithm()
    shortest = timedelta(minutes=min(r.metric_stall_minutes for r in rules))
    quiet = (
        TrainingJob.objects.running()
        .order_by()  # as in decide_stalls: no walk of the creation time index
        .filter(cloudwatch__fetched_at__isnull=False)
        .annotate(newest_point=series.newest_point_of_job(), newest_series=series.newest_point_of_job("name"))
        .filter(newest_point__lte=now - shortest)
        .values("id", "name", "tags", "source_id", "status", "secondary_status", "newest_point", "newest_series")
        .annotate(looked_at=F("cloudwatch__fetched_at"))
    )
    return _record_new(
        [
            _metric_stall_alert(rule, job, event, now)
            for job in quiet
            for rule in rules
            if (
                event := domain.metrics_stall_event(
                    newest_point=job["newest_point"],
                    looked_at=job["looked_at"],
                    minutes=rule.metric_stall_minutes,
                    rule_created_at=rule.created_at,
                )
            )
            and _covers(rule, job)
        ],
        rules,
        "metrics@",
        now,
    )


def _metric_stall_alert(rule: AlertRule, job: dict[str, Any], event: str, now: datetime) -> Alert:
    silent = (job["looked_at"] - job["newest_point"]).total_seconds()
    # The series name is the job's own text: neutralised where the message is rendered.
    note = (
        f"no new metric point for {format_duration(silent)}: the newest, of {job['newest_series']}, "
        f"is from {job['newest_point'].isoformat()} (last fetched {job['looked_at'].isoformat()})"
    )
    return Alert(
        rule=rule,
        job_id=job["id"],
        event=event,
        status=job["status"],
        secondary_status=job["secondary_status"],
        details={
            "note": note,
            "newest_point": job["newest_point"].isoformat(),
            "series": job["newest_series"],
            "silence_minutes": rule.metric_stall_minutes,
        },
        created_at=now,
    )


def _covers(rule: AlertRule, job: dict[str, Any]) -> bool:
    """The rule's scope, on a running job read with its name, tags and source."""
    return rule.scope.covers(name=job["name"], tags=job["tags"] or {}, source_id=job["source_id"])


def _record_new(alerts: list[Alert], rules: list[AlertRule], prefix: str, now: datetime) -> list[Alert]:
    """Record those of ``alerts`` not decided before (``_not_yet_decided``), in one transaction."""
    alerts = _not_yet_decided(alerts, rules, prefix)
    if not alerts:
        return []
    with transaction.atomic():
        return record(alerts, now)


# --- Team budgets ---------------------------------------------------------------------


def decide_budgets(*, now: datetime | None = None) -> list[Alert]:
    """Record an alert once per rule, tag value and local day whose spend today passes the rule's budget.

    Spend is the status page's (``jobs.spend.billed_seconds_since``, priced
    per instance configuration), added up per tag value and source in one
    grouped query per tag key. A rule honours its source scope, and a tag
    scope on the same key (``team=vision``: that team only); a name pattern
    does not apply to a team's spend. Only for a team newly over budget:
    one more query for its costliest jobs.
    """
    now = now or timezone.now()
    rules = [
        r
        for r in AlertRule.objects.active().filter(kind=AlertKind.TEAM_BUDGET, daily_budget_usd__isnull=False)
        if r.budget_tag_key and r.daily_budget_usd > 0
    ]
    if not rules:
        return []
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    day = local.date().isoformat()
    prices = price_table()
    over: list[tuple[AlertRule, str, Decimal]] = []
    for tag_key in sorted({r.budget_tag_key for r in rules}):
        spend = _spend_by_tag(tag_key, today, now, prices)
        for rule in (r for r in rules if r.budget_tag_key == tag_key):
            only = domain.parse_tag(rule.scope_tag)
            per_team: dict[str, Decimal] = defaultdict(Decimal)
            for (team, source_id), usd in spend.items():
                if rule.scope_source_id is not None and rule.scope_source_id != source_id:
                    continue
                if only is not None and only[0] == tag_key and only[1] != team:
                    continue
                per_team[team] += usd
            over += [
                (rule, team, usd) for team, usd in per_team.items() if domain.over_budget(usd, rule.daily_budget_usd)
            ]
    if not over:
        return []
    events = {(rule.pk, domain.budget_event(team, local.date())) for rule, team, _ in over}
    decided = set(
        Alert.objects.filter(
            rule_id__in={r for r, _ in events}, job__isnull=True, source__isnull=True, event__in={e for _, e in events}
        ).values_list("rule_id", "event")
    )
    new = [
        (rule, team, usd)
        for rule, team, usd in over
        if (rule.pk, domain.budget_event(team, local.date())) not in decided
    ]
    if not new:
        return []
    top = _top_jobs({(rule.budget_tag_key, team) for rule, team, _ in new}, today, now, prices)
    alerts = [
        Alert(
            rule=rule,
            event=domain.budget_event(team, local.date()),
            status="over budget",
            details={
                "tag_key": rule.budget_tag_key,
                "team": team,
                "day": day,
                "spend_usd": str(usd.quantize(Decimal("0.01"))),
                "budget_usd": str(rule.daily_budget_usd),
                "top_jobs": top.get((rule.budget_tag_key, team), []),
            },
            created_at=now,
        )
        for rule, team, usd in new
    ]
    with transaction.atomic():
        return record(alerts, now)


def _billed_rows(tag_key: str, since: datetime, now: datetime, *extra: str, teams: set[str] | None = None) -> Any:
    """Billed seconds per instance, per tag value, source and configuration (and ``extra`` columns).

    The status page's UNION: jobs that ended since ``since`` on the end
    time index, grouped, and the running ones on the status index, a row
    each (callers add them up).
    """
    ended_seconds, running_seconds = billed_seconds_since(since, now)
    jobs = (
        TrainingJob.objects.filter(training_start_time__lt=now)
        .order_by()
        # Cast: a plain text column to compare, where a JSON key's own IN would read the values as JSON.
        .annotate(
            team=Cast(KeyTextTransform(tag_key, "tags"), TextField()), groups=Cast("instance_groups", TextField())
        )
        .filter(team__isnull=False)
    )
    if teams is not None:
        jobs = jobs.filter(team__in=sorted(teams))
    columns = ("team", "source_id", "groups", "instance_type", "instance_count", *extra)
    ended = jobs.filter(training_end_time__gte=since)
    if "id" in extra:
        # A row a job already: grouped by id, SQLite scans the whole table in id order.
        ended = ended.annotate(seconds=ended_seconds).values_list(*columns, "seconds")
    else:
        ended = ended.values_list(*columns).annotate(seconds=Sum(ended_seconds))
    # Running: one row each, not grouped: grouped, SQLite walks the source
    # index over every job instead of searching the status ranges for the few.
    running = jobs.unfinished().annotate(seconds=running_seconds).values_list(*columns, "seconds")
    return ended.union(running, all=True)


def _cost(seconds: int, instance_type: str, count: int, groups: str | None, prices: Any) -> Decimal:
    rate = rate_for(instance_type, count, json.loads(groups) if groups else None, prices)
    if rate is None or not seconds:
        return Decimal(0)  # an unpriced instance type: no figure to add (the status page counts it apart)
    return Decimal(seconds) / Decimal(3600) * rate


def _spend_by_tag(tag_key: str, since: datetime, now: datetime, prices: Any) -> dict[tuple[str, int], Decimal]:
    spend: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for team, source_id, groups, instance_type, count, seconds in _billed_rows(tag_key, since, now):
        spend[(str(team), source_id)] += _cost(seconds or 0, instance_type, count, groups, prices)
    return spend


def _top_jobs(
    teams: set[tuple[str, str]], since: datetime, now: datetime, prices: Any
) -> dict[tuple[str, str], list[dict[str, str]]]:
    from alerts.delivery import job_url

    out: dict[tuple[str, str], list[dict[str, str]]] = {}
    for tag_key in sorted({k for k, _ in teams}):
        names = {t for k, t in teams if k == tag_key}
        costs: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
        labels: dict[int, str] = {}
        for team, _, groups, instance_type, count, pk, name, seconds in _billed_rows(
            tag_key, since, now, "id", "name", teams=names
        ):
            costs[(str(team), pk)] += _cost(seconds or 0, instance_type, count, groups, prices)
            labels[pk] = name
        for team in names:
            ranked = sorted(((usd, pk) for (t, pk), usd in costs.items() if t == team and usd > 0), reverse=True)
            out[(tag_key, team)] = [
                {"name": labels[pk], "cost_usd": str(usd.quantize(Decimal("0.01"))), "url": job_url(pk)}
                for usd, pk in ranked[:TOP_JOBS]
            ]
    return out
