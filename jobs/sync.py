"""One sync cycle for one source: list what changed, describe, store, record.

The set of jobs to describe is read from the database (``needing_describe``),
not carried in memory, so a describe that fails or a worker that dies leaves
the job due, and the next cycle picks it up: nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from jobs import ingest, sagemaker, search_sync
from jobs.domain import search
from jobs.domain.chunks import chunked
from jobs.domain.parse import (
    JobSummary,
    MalformedResponse,
    ParsedJob,
    clean_text,
    parse_summary,
    parse_training_job,
)
from jobs.models import Source, SyncCycle, SyncError, SyncErrorKind, sync_lease_seconds

log = logging.getLogger(__name__)

Dispatch = Callable[[SyncCycle, list[str]], None]
Progress = Callable[[str], None]

# Jobs per Celery task, and stored per transaction: one commit per job was
# most of what storing a describe cost. As many as one Search call can name,
# and small enough that a task still finishes in seconds against a throttled
# API when it has to describe them one by one.
DESCRIBE_CHUNK = search.NAMES_PER_SEARCH


@dataclass
class DescribeResult:
    outcome: ingest.Outcome | None
    error: str = ""


@dataclass
class ChunkResult:
    """Per name: what was stored or recorded, or the retryable error left to retry."""

    results: dict[str, DescribeResult] = field(default_factory=dict)
    retry: dict[str, sagemaker.SageMakerError] = field(default_factory=dict)


def claim_source(source_id: int, *, now: datetime) -> bool:
    """Take the source's sync lease if nobody holds it (conditional UPDATE)."""
    free = Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now)
    lease_until = now + timedelta(seconds=sync_lease_seconds())
    claimed = Source.objects.filter(free, pk=source_id).update(sync_lease_until=lease_until)
    return claimed == 1


def extend_lease(source_id: int, *, now: datetime) -> None:
    """Keep holding the lease through a long synchronous cycle (the command's)."""
    Source.objects.filter(pk=source_id).update(sync_lease_until=now + timedelta(seconds=sync_lease_seconds()))


def release_source(source_id: int) -> None:
    Source.objects.filter(pk=source_id).update(sync_lease_until=None)


def list_since(source: Source, now: datetime) -> datetime:
    if source.list_cursor is None:
        return now - timedelta(days=settings.TRAINWATCH_LOOKBACK_DAYS)
    return source.list_cursor - timedelta(seconds=settings.TRAINWATCH_LIST_OVERLAP_SECONDS)


def record_error(source: Source, cycle_id: int | None, job_name: str, kind: SyncErrorKind, message: str) -> None:
    SyncError.objects.create(
        source=source,
        cycle_id=cycle_id,
        job_name=clean_text(job_name)[:256],
        kind=kind,
        message=clean_text(message)[:5000],
    )
    if cycle_id is not None:
        SyncCycle.objects.filter(pk=cycle_id).update(errors=F("errors") + 1)


def run_cycle(
    source: Source,
    *,
    dispatch: Dispatch | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> SyncCycle:
    """List changes since the cursor, then describe every job that is due.

    ``dispatch`` hands the names to Celery; without it they are described
    here, a chunk at a time (the management command's synchronous mode).
    """
    now = now or timezone.now()
    say = progress or (lambda message: None)
    cycle = SyncCycle.objects.create(source=source, started_at=now)
    Source.objects.filter(pk=source.pk).update(last_sync_started_at=now)
    list_error = ""
    try:
        newest = _list_changes(source, cycle, since=list_since(source, now), say=say)
    except sagemaker.SageMakerError as exc:
        list_error = f"ListTrainingJobs failed: {exc}"
        if dispatch is None or not exc.retryable:
            return _finish(source, cycle, error=list_error)
        # Throttled part-way through the pages (every page is walked, so under
        # sustained throttling most cycles are): what the database already knows
        # is due, running jobs above all, is still described. The cursor stays.
        newest = None

    due = source.jobs.needing_describe(running_described_before=_running_described_before(source, now))
    if dispatch is not None:
        # A task queued earlier (held up by throttling, say) is still coming:
        # queue it again only once it is overdue, so a backlog never snowballs.
        due = due.not_queued_since(now - timedelta(seconds=settings.TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS))
    # Newest first: on a first import, recent jobs appear on the pages first.
    # Sorted here: see needing_describe.
    rows = sorted(due.values_list("creation_time", "name", "status", "last_modified_time"), reverse=True)
    names = [name for _, name, _, _ in rows]
    say(f"{source.name}: listed {cycle.listed} changed job(s) in {cycle.list_pages} page(s); {len(names)} due")
    if names and settings.TRAINWATCH_SEARCH:
        states = {name: (status, modified) for _, name, status, modified in rows}
        refreshed = search_sync.refresh_running(source, states, cycle_id=cycle.pk, now=now)
        names = [name for name in names if name not in refreshed]
        say(f"  {len(refreshed)} running job(s) brought up to date by Search; {len(names)} left")
    cycle.queued = len(names)
    cycle.save(update_fields=["queued"])
    if dispatch is not None:
        _mark_queued(source, names, now)
        dispatch(cycle, names)
    else:
        _describe_inline(source, cycle, names, say)

    if newest is not None and (source.list_cursor is None or newest > source.list_cursor):
        source.list_cursor = newest
        Source.objects.filter(pk=source.pk).update(list_cursor=newest)
    return _finish(source, cycle, error=list_error)


def _running_described_before(source: Source, now: datetime) -> datetime | None:
    """Under push, a running job is due once described a stretched interval ago; polling: every cycle.

    One base interval short of the stretched one: a describe lands a moment
    after its cycle began, and FACTOR cycles later it must be due, not one later.
    """
    base = settings.TRAINWATCH_SYNC_INTERVAL
    interval = source.running_describe_interval(now)
    if interval <= base:
        return None
    return now - timedelta(seconds=interval - base)


def _mark_queued(source: Source, names: list[str], now: datetime) -> None:
    for some in chunked(names, ingest.IN_CHUNK):
        source.jobs.filter(name__in=some).update(describe_queued_at=now)


def _list_changes(source: Source, cycle: SyncCycle, *, since: datetime, say: Progress) -> datetime | None:
    newest: datetime | None = None
    for page in sagemaker.list_changed_pages(sagemaker.SourceConfig.of(source), since):
        summaries: list[JobSummary] = []
        for item in page:
            try:
                summaries.append(parse_summary(item))
            except MalformedResponse as exc:
                # Recorded, and the rest of the page stored: one summary too
                # wide for its column used to fail the whole page's insert.
                message = f"ListTrainingJobs summary: {exc}"
                record_error(source, cycle.pk, exc.job_name, SyncErrorKind.MALFORMED, message)
                # Past it, too: a malformed newest change kept the cursor behind
                # it, re-listed and recorded every cycle until a newer one came.
                newest = _later(newest, _listed_modified_time(item))
        ingest.upsert_summaries(source, summaries)
        for s in summaries:
            newest = _later(newest, s.last_modified_time)
        cycle.listed += len(page)
        cycle.list_pages += 1
    cycle.save(update_fields=["listed", "list_pages"])
    if not source.account_id:
        arn = source.jobs.values_list("arn", flat=True).first()
        if arn and len(arn.split(":")) > 4:
            Source.objects.filter(pk=source.pk).update(account_id=arn.split(":")[4])
    return newest


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def _listed_modified_time(item: object) -> datetime | None:
    """A malformed summary's LastModifiedTime, when that member itself is sound."""
    moment = item.get("LastModifiedTime") if isinstance(item, dict) else None
    return moment if isinstance(moment, datetime) and moment.tzinfo is not None else None


def _describe_inline(source: Source, cycle: SyncCycle, names: list[str], say: Progress) -> None:
    done = 0
    for chunk in chunked(names, DESCRIBE_CHUNK):
        for name, result in describe_chunk(source, chunk, cycle_id=cycle.pk).results.items():
            if result.error:
                say(f"  {name}: {result.error}")
        if (done + len(chunk)) // 100 > done // 100:
            say(f"  described {done + len(chunk)}")
        done += len(chunk)


def describe_and_store(source: Source, name: str, *, cycle_id: int | None) -> DescribeResult:
    """Describe one job and store it; errors are recorded, never raised."""
    return describe_chunk(source, [name], cycle_id=cycle_id).results[name]


def describe_chunk(
    source: Source, names: list[str], *, cycle_id: int | None, keep_retryable: bool = False
) -> ChunkResult:
    """Describe some jobs over the API, then store them in one ``store_descriptions`` call.

    A malformed response or a failed call is recorded as a SyncError and
    leaves that job's row untouched; the others are stored all the same.
    With ``keep_retryable`` a throttled, 5xx or connection failure is not
    recorded but returned in ``retry``, for the caller to try again later.
    """
    config = sagemaker.SourceConfig.of(source)
    out = ChunkResult()
    if settings.TRAINWATCH_SEARCH:
        # One Search call for up to 20 of them, tags included; the rest are described.
        found = search_sync.refresh_named(source, names, cycle_id=cycle_id, now=timezone.now())
        for name, outcome in found.items():
            out.results[name] = DescribeResult(outcome)
        names = [name for name in names if name not in found]

    not_found: list[str] = []

    def failed(name: str, exc: Exception) -> None:
        if isinstance(exc, sagemaker.NotFound):
            not_found.append(name)
        if isinstance(exc, sagemaker.SageMakerError):
            if exc.retryable and keep_retryable:
                out.retry[name] = exc
                return
            record_error(source, cycle_id, name, _error_kind(exc.code), f"{exc.code or 'error'}: {exc}")
        else:
            record_error(source, cycle_id, name, SyncErrorKind.MALFORMED, f"DescribeTrainingJob: {exc}")
        out.results[name] = DescribeResult(None, str(exc))

    described: list[tuple[str, ParsedJob, dict]] = []
    for name in names:
        try:
            raw = sagemaker.describe_job(config, name)
            described.append((name, parse_training_job(raw), raw))
        except (MalformedResponse, sagemaker.SageMakerError) as exc:
            failed(name, exc)
    if not_found:
        mark_not_found(source, not_found, now=timezone.now())
    due = ingest.needing_tags([parsed for _, parsed, _ in described])
    stored: list[str] = []
    items: list[ingest.Description] = []
    for name, parsed, raw in described:
        try:
            tags = sagemaker.list_tags(config, parsed.arn) if parsed.arn in due else None
        except sagemaker.SageMakerError as exc:
            failed(name, exc)
            continue
        stored.append(name)
        items.append(ingest.Description(parsed, raw, tags))
    if not items:
        return out
    outcomes = _store(source, stored, items, cycle_id=cycle_id)
    for name, outcome in zip(stored, outcomes, strict=True):
        out.results[name] = DescribeResult(outcome, "" if outcome is not None else "the database refused it")
    if cycle_id is not None:
        stored_ok = [o for o in outcomes if o is not None]
        SyncCycle.objects.add_stored(cycle_id, described=len(stored_ok), changed=sum(o.is_change for o in stored_ok))
    return out


def mark_not_found(source: Source, names: list[str], *, now: datetime) -> int:
    """Count one more describe in a row that found no such job; returns how many are now gone.

    At TRAINWATCH_GONE_AFTER in a row the job is gone at the source: no longer
    running, no longer described. One conditional UPDATE, so concurrent
    describes of a job each count once and a job is marked gone once; a
    describe that finds it again sets the count back to 0 (jobs.ingest).
    """
    after = settings.TRAINWATCH_GONE_AFTER
    jobs = source.jobs.filter(name__in=names, gone_at__isnull=True)
    jobs.update(
        not_found_count=F("not_found_count") + 1,
        # The comparison reads the count before this UPDATE adds one.
        gone_at=Case(When(not_found_count__gte=after - 1, then=Value(now)), default=None),
    )
    gone = source.jobs.filter(name__in=names, gone_at=now).count()
    if gone:
        log.warning("%s: %d job(s) not found %d times in a row, marked gone at the source", source.name, gone, after)
    return gone


def _store(
    source: Source, names: list[str], items: list[ingest.Description], *, cycle_id: int | None
) -> list[ingest.Outcome | None]:
    """Store a chunk in one transaction; if the database refuses it, job by job.

    One row the database will not take (a value past a column's limits, say)
    must not cost the rest of the chunk: that job is recorded as an error, its
    stored row stays as it was, and the others are stored.
    """
    try:
        return list(ingest.store_descriptions(source, items, now=timezone.now()))
    except DatabaseError as exc:
        if len(items) == 1:
            log.exception("storing %s failed", names[0])
            record_error(source, cycle_id, names[0], SyncErrorKind.UNEXPECTED, f"the database refused it: {exc}")
            return [None]
    return [_store(source, [name], [item], cycle_id=cycle_id)[0] for name, item in zip(names, items, strict=True)]


def _error_kind(code: str) -> SyncErrorKind:
    if code in sagemaker.THROTTLING_CODES:
        return SyncErrorKind.THROTTLED
    return SyncErrorKind.MALFORMED if code == sagemaker.UNREADABLE else SyncErrorKind.AWS


def _finish(source: Source, cycle: SyncCycle, *, error: str = "") -> SyncCycle:
    finished = timezone.now()
    cycle.finished_at = finished
    cycle.error = error
    cycle.save(update_fields=["finished_at", "error"])
    update: dict[str, object] = {"last_sync_finished_at": finished, "last_error": error}
    if not error:
        update["last_success_at"] = finished
    Source.objects.filter(pk=source.pk).update(**update)
    if error:
        log.warning("sync of %s failed: %s", source.name, error)
    cycle.refresh_from_db()
    return cycle
