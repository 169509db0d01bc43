"""One CloudWatch cycle for one source: new metric points and log events of its jobs.

Due are the running jobs, and terminal ones not yet given their final
fetch. Each series starts where its stored cursor stopped, each log stream
at its stored forward token, so a cycle asks only for what is new. A job
that is terminal when fetched without error is marked ``final_fetched_at``
and never fetched again. Failures are SyncErrors; the cursors stay, so the
next cycle asks again. None of this touches the job sync.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from jobs import sagemaker
from jobs.domain import cloudwatch as cw
from jobs.models import (
    TERMINAL,
    CloudWatchFetch,
    LogTail,
    MetricSeries,
    SeriesChunk,
    SeriesKind,
    Source,
    SyncErrorKind,
    TrainingJob,
)

log = logging.getLogger(__name__)

# A terminal job's last points and lines land shortly after its end: it is
# fetched as running until this long after, then once more, finally.
FINAL_DELAY = timedelta(minutes=2)
# The metric names and log streams of a running job are looked for again this
# often (built-in algorithms and restarts add them as the job goes).
RELIST_EVERY = timedelta(minutes=10)
# A series with no point yet is asked again from this far behind the last
# fetch: CloudWatch takes a minute or two to show a point.
LATE_MARGIN = timedelta(minutes=5)
# Terminal jobs given their final fetch per cycle: a first run over a month of
# history catches up over a few cycles instead of in one long one.
FINAL_PER_CYCLE = 200
# GetLogEvents pages read per stream per cycle (10,000 events each at most).
PAGES_PER_STREAM = 20
PAGE_EVENTS = 10_000  # GetLogEvents' most events a page
# Sources whose SEARCH found nothing where explicit queries found points (moto
# cannot evaluate SEARCH), by source id: asked with explicit queries until
# this long after, then SEARCH is tried again.
_NO_SEARCH: dict[int, datetime] = {}
SEARCH_RETRY = timedelta(hours=1)


def uses_search(source: Source, now: datetime) -> bool:
    if not settings.TRAINWATCH_CLOUDWATCH_SEARCH:
        return False
    since = _NO_SEARCH.get(source.pk)
    return since is None or since + SEARCH_RETRY <= now


@dataclass
class Report:
    jobs: int = 0
    metric_calls: int = 0
    log_calls: int = 0
    points: int = 0
    lines: int = 0
    errors: int = 0
    finished: int = 0
    failed_jobs: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return (
            f"CloudWatch: {self.jobs} jobs, {self.metric_calls} metric calls, {self.log_calls} log calls, "
            f"{self.points} points, {self.lines} lines, {self.finished} final, {self.errors} errors"
        )


def log_calls_per_cycle() -> int:
    # CloudWatch Logs is shared with everything else in the account: stay near 5 calls/s.
    return max(10, 5 * settings.TRAINWATCH_SYNC_INTERVAL)


def due_jobs(source: Source, now: datetime) -> list[TrainingJob]:
    """Running jobs, then terminal jobs that ended within the lookback and had no final fetch."""
    fields = (
        "id", "name", "status", "instance_type", "instance_count", "creation_time",
        "training_start_time", "training_end_time", "last_modified_time", "raw",
    )  # fmt: skip
    running = list(TrainingJob.objects.running().filter(source=source).only(*fields))
    since = now - timedelta(days=settings.TRAINWATCH_LOOKBACK_DAYS)
    ended = (
        TrainingJob.objects.filter(source=source, status__in=TERMINAL, gone_at__isnull=True)
        .filter(Q(training_end_time__gte=since) | Q(training_end_time__isnull=True, creation_time__gte=since))
        .exclude(cloudwatch__final_fetched_at__isnull=False)
        .order_by("-training_end_time")
        .only(*fields)[:FINAL_PER_CYCLE]
    )
    return running + list(ended)


def _ended_at(job: TrainingJob) -> datetime:
    return job.training_end_time or job.last_modified_time or job.creation_time


def _is_final(job: TrainingJob, now: datetime) -> bool:
    return job.status in TERMINAL and _ended_at(job) + FINAL_DELAY <= now


def run(source: Source, *, now: datetime | None = None) -> Report:
    now = now or timezone.now()
    report = Report()
    jobs = due_jobs(source, now)
    report.jobs = len(jobs)
    if not jobs:
        return report
    config = sagemaker.SourceConfig.of(source)
    states = _states(jobs)
    _discover_metric_names(source, config, jobs, states, now, report)
    _fetch_metrics(source, config, jobs, states, now, report)
    logs_done = _fetch_logs(source, config, jobs, states, now, report)
    for job in jobs:
        if job.name in report.failed_jobs:
            continue
        state = states[job.pk]
        update = {"fetched_at": now}
        if _is_final(job, now) and job.pk in logs_done:
            update["final_fetched_at"] = now
            report.finished += 1
        CloudWatchFetch.objects.filter(pk=state.pk).update(**update)
    return report


def _states(jobs: list[TrainingJob]) -> dict[int, CloudWatchFetch]:
    ids = [job.pk for job in jobs]
    CloudWatchFetch.objects.bulk_create([CloudWatchFetch(job_id=i) for i in ids], ignore_conflicts=True)
    return CloudWatchFetch.objects.in_bulk(ids)


def _fail(source: Source, report: Report, job_names: list[str], operation: str, exc: sagemaker.SageMakerError) -> None:
    from jobs.sync import record_error  # the job sync's recorder, shared

    kind = SyncErrorKind.THROTTLED if exc.code in sagemaker.THROTTLING_CODES else SyncErrorKind.AWS
    if exc.code == sagemaker.UNREADABLE:
        kind = SyncErrorKind.MALFORMED
    more = f" (and {len(job_names) - 1} more jobs)" if len(job_names) > 1 else ""
    record_error(source, None, job_names[0] if job_names else "", kind, f"{operation}{more}: {exc}")
    report.errors += 1
    report.failed_jobs.update(job_names)


def _discover_metric_names(
    source: Source,
    config: sagemaker.SourceConfig,
    jobs: list[TrainingJob],
    states: dict[int, CloudWatchFetch],
    now: datetime,
    report: Report,
) -> None:
    for job in jobs:
        state = states[job.pk]
        defined = cw.defined_metric_names(job.raw)
        names = list(dict.fromkeys([*defined, *state.metric_names]))
        listed = state.names_listed_at
        if listed is None or listed < now - RELIST_EVERY or _is_final(job, now):
            try:
                found = sagemaker.list_job_metric_names(config, job.name)
            except sagemaker.SageMakerError as exc:
                _fail(source, report, [job.name], "ListMetrics", exc)
                found = []
            else:
                report.metric_calls += 1
                state.names_listed_at = now
            names = list(dict.fromkeys([*names, *found]))
        if names != state.metric_names or state.names_listed_at != listed:
            state.metric_names = names
            CloudWatchFetch.objects.filter(pk=state.pk).update(
                metric_names=names, names_listed_at=state.names_listed_at
            )


def _fetch_metrics(
    source: Source,
    config: sagemaker.SourceConfig,
    jobs: list[TrainingJob],
    states: dict[int, CloudWatchFetch],
    now: datetime,
    report: Report,
) -> None:
    by_name = {job.name: job for job in jobs}
    cursors = {
        (row.job_id, row.name, row.host): row.cursor
        for row in MetricSeries.objects.filter(job__in=jobs).only("job_id", "name", "host", "cursor")
    }
    search = uses_search(source, now)
    wanted: list[tuple[cw.Query, datetime, datetime]] = []
    for job in jobs:
        state = states[job.pk]
        begin = job.training_start_time or job.creation_time
        blank_from = max(begin, state.fetched_at - LATE_MARGIN) if state.fetched_at else begin
        end = min(now, _ended_at(job) + timedelta(minutes=10)) if job.status in TERMINAL else now
        keys = cw.series_for_job(
            job.name,
            metric_names=state.metric_names,
            instance_count=job.instance_count,
            instance_type=job.instance_type,
        )
        starts = {key: cursors.get((job.pk, key.name, key.host)) or blank_from for key in keys}
        queries: list[cw.Query] = [key for key in keys if not key.host] if search else list(keys)
        if search:
            queries += cw.host_searches(keys)
        for query in queries:
            # A SEARCH starts at the earliest cursor of its series; points a series already has are skipped on store.
            start = min(starts[k] for k in query.series()) if isinstance(query, cw.HostSearch) else starts[query]
            if start < end:  # else an earlier fetch already covered the job's whole span
                wanted.append((query, start, end))
    empty = _fetch_batches(source, config, by_name, cw.pack_batches(wanted), now, report)
    # A SEARCH that found nothing for a job past its start, where its hosts exist:
    # asked again host by host; points found so mean this source cannot SEARCH.
    retry = [
        (key, start, end)
        for query, start, end in wanted
        if isinstance(query, cw.HostSearch) and query in empty and by_name[query.job].training_start_time
        for key in query.series()
    ]
    if retry:
        before = report.points
        _fetch_batches(source, config, by_name, cw.pack_batches(retry), now, report)
        if report.points > before:
            log.info("CloudWatch of source %s: SEARCH found nothing, explicit queries did; asking host by host", source)
            _NO_SEARCH[source.pk] = now
    elif search and wanted and any(isinstance(q, cw.HostSearch) for q, _, _ in wanted):
        _NO_SEARCH.pop(source.pk, None)


def _fetch_batches(
    source: Source,
    config: sagemaker.SourceConfig,
    by_name: dict[str, TrainingJob],
    batches: list[cw.Batch],
    now: datetime,
    report: Report,
) -> set[cw.HostSearch]:
    """Fetch and store each batch; the SEARCH queries of answered calls that returned no point."""
    empty: set[cw.HostSearch] = set()
    for batch in batches:
        jobs_in = sorted({key.job for key in batch.keys})
        try:
            results = sagemaker.get_metric_data(config, batch.queries(), batch.start, batch.end)
        except sagemaker.SageMakerError as exc:
            _fail(source, report, jobs_in, "GetMetricData", exc)
            continue
        report.metric_calls += 1
        parsed = cw.parse_results(batch, results)
        for query in batch.searches:
            if not any(parsed[key] for key in query.series()):
                empty.add(query)
        for key, points in parsed.items():
            if not points:
                continue
            try:
                report.points += _store_points(by_name[key.job], key, points, now)
            except IntegrityError:
                continue  # a cycle running beside this one created the row first: it stored these points
    return empty


def _store_points(job: TrainingJob, key: cw.SeriesKey, points: list[cw.Point], now: datetime) -> int:
    """Append fetched points: only the newest day's chunk is rewritten, later days get new chunks."""
    kind = SeriesKind.INSTANCE if key.host else SeriesKind.ALGORITHM
    with transaction.atomic():
        # The series row is held while its chunks change: two cycles at once never lose points.
        row = MetricSeries.objects.select_for_update().filter(job=job, name=key.name, host=key.host).first()
        cursor = row.cursor.timestamp() if row and row.cursor else None
        fresh = [p for p in points if cursor is None or p[0] >= cursor]
        if not fresh:
            return 0
        if row is None:
            row = MetricSeries.objects.create(job=job, kind=kind, name=key.name, host=key.host, updated_at=now)
        newest = SeriesChunk.objects.filter(series=row).order_by("-day").first() if cursor is not None else None
        count = row.point_count
        for day, day_points in cw.split_by_day(fresh).items():
            if newest is not None and day == newest.day:
                # The point at the cursor (a partial minute) is replaced here: it is the newest day's last.
                packed, day_count = cw.append_packed(newest.points, day_points, cursor)
                count += day_count - newest.point_count
                SeriesChunk.objects.filter(pk=newest.pk).update(points=packed, point_count=day_count)
            else:
                packed = cw.pack_points(cw.merge_points([], day_points, None))
                count += len(packed) // 16
                SeriesChunk.objects.create(series=row, day=day, points=packed, point_count=len(packed) // 16)
        if count > settings.TRAINWATCH_SERIES_MAX_POINTS:
            count = _thin(row, settings.TRAINWATCH_SERIES_MAX_POINTS)
        row.display = cw.refresh_display(
            row.display, lambda: SeriesChunk.objects.points_of([row.pk])[row.pk], fresh, cursor
        )
        last_t, last_v = max(fresh)
        row.point_count = count
        row.cursor = datetime.fromtimestamp(last_t, UTC)
        row.last_value = last_v
        row.updated_at = now
        row.save(update_fields=["display", "point_count", "cursor", "last_value", "updated_at"])
    return len(fresh)


def _thin(row: MetricSeries, cap: int) -> int:
    """Past the cap the whole series is thinned to half and every chunk rewritten (rare: once per cap/2 points)."""
    thinned = cw.cap_points(cw.unpack_points(SeriesChunk.objects.points_of([row.pk])[row.pk]), cap)
    SeriesChunk.objects.filter(series=row).delete()
    SeriesChunk.objects.bulk_create(
        SeriesChunk(series=row, day=day, points=cw.pack_points(pts), point_count=len(pts))
        for day, pts in cw.split_by_day(thinned).items()
    )
    return len(thinned)


def _fetch_logs(
    source: Source,
    config: sagemaker.SourceConfig,
    jobs: list[TrainingJob],
    states: dict[int, CloudWatchFetch],
    now: datetime,
    report: Report,
) -> set[int]:
    """Read new log events, oldest-read jobs first, within the cycle's call budget.

    Returns the ids of the jobs whose every stream was read to its end.
    """
    tails: dict[int, dict[str, LogTail]] = defaultdict(dict)
    for tail in LogTail.objects.filter(job__in=jobs).defer("lines"):
        tails[tail.job_id][tail.stream] = tail
    budget = log_calls_per_cycle()
    never = datetime.min.replace(tzinfo=UTC)

    def last_read(job: TrainingJob) -> tuple[int, datetime]:
        # Final fetches first (they happen once), then the jobs read longest ago.
        seen = [t.updated_at for t in tails[job.pk].values()]
        return (0 if _is_final(job, now) else 1, min(seen) if seen else never)

    done: set[int] = set()
    calls = 0
    for job in sorted(jobs, key=last_read):
        if calls >= budget:
            break
        state = states[job.pk]
        known = tails[job.pk]
        listed = state.streams_listed_at
        if len(known) < job.instance_count or listed is None or listed < now - RELIST_EVERY or _is_final(job, now):
            try:
                streams = sagemaker.list_log_streams(config, job.name)
            except sagemaker.SageMakerError as exc:
                _fail(source, report, [job.name], "DescribeLogStreams", exc)
                continue
            finally:
                calls += 1
                report.log_calls += 1
            CloudWatchFetch.objects.filter(pk=state.pk).update(streams_listed_at=now)
            for stream in streams:
                if stream not in known:
                    known[stream] = LogTail(job=job, stream=stream, host=cw.host_of_stream(job.name, stream))
        complete = True
        for tail in known.values():
            used, whole = _read_stream(source, config, job, tail, now, report)
            calls += used
            complete = complete and whole
        if complete:
            done.add(job.pk)
    return done


def _read_stream(
    source: Source, config: sagemaker.SourceConfig, job: TrainingJob, tail: LogTail, now: datetime, report: Report
) -> tuple[int, bool]:
    """Read one stream forward from its token; returns (calls made, read to the end)."""
    cap = settings.TRAINWATCH_LOG_TAIL_LINES
    new: list[cw.LogLine] = []
    token = tail.forward_token
    calls = 0
    whole = False
    try:
        for events, forward in sagemaker.log_event_pages(config, tail.stream, token):
            calls += 1
            new.extend(cw.log_lines(events))
            new = new[-cap:] if cap else []
            tail.events_seen += len(events)
            if events:
                tail.last_event_at = datetime.fromtimestamp(events[-1].get("timestamp", 0) / 1000, UTC)
            # A page short of GetLogEvents' 10,000 events read what the stream had:
            # the rest, if any arrives, is read from this token next cycle, so a
            # quiet stream costs one call a cycle, not two.
            reached_end = not forward or forward == token or 0 < len(events) < PAGE_EVENTS
            token = forward or token
            if reached_end:
                whole = True
                break
            if calls >= PAGES_PER_STREAM:
                break
    except sagemaker.NotFound:
        whole = True  # the stream is gone (retention): nothing more to read
    except sagemaker.SageMakerError as exc:
        _fail(source, report, [job.name], "GetLogEvents", exc)
    report.log_calls += calls
    report.lines += len(new)
    if new or token != tail.forward_token or tail.pk is None:
        # IntegrityError: a cycle beside this one created the stream's row and stored these lines.
        with contextlib.suppress(IntegrityError):
            _save_tail(tail, new, token, now, cap, read_from=tail.forward_token)
    elif tail.pk:
        LogTail.objects.filter(pk=tail.pk).update(updated_at=now)
    return calls, whole


def _save_tail(tail: LogTail, new: list[cw.LogLine], token: str, now: datetime, cap: int, *, read_from: str) -> None:
    with transaction.atomic():
        # Lines were deferred when the tails were loaded: read them under the row lock.
        row = (
            LogTail.objects.select_for_update().filter(pk=tail.pk).values_list("lines", "forward_token").first()
            if tail.pk
            else None
        )
        if row and row[1] != read_from:
            return  # a cycle beside this one read from the same token and stored first: no line twice
        tail.lines = cw.tail(row[0] if row else [], new, cap)
        tail.forward_token = token
        tail.updated_at = now
        tail.save()
