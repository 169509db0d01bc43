"""One sync cycle for one source: list what changed, describe, store, record.

The set of jobs to describe is read from the database (``needing_describe``),
not carried in memory, so a describe that fails or a worker that dies leaves
the job due, and the next cycle picks it up: nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from jobs import ingest, sagemaker
from jobs.domain.parse import JobSummary, MalformedResponse, clean_text, parse_summary, parse_training_job
from jobs.models import Source, SyncCycle, SyncError

log = logging.getLogger(__name__)

Dispatch = Callable[[SyncCycle, list[str]], None]
Progress = Callable[[str], None]


@dataclass
class DescribeResult:
    outcome: ingest.Outcome | None
    error: str = ""


def claim_source(source_id: int, *, now: datetime, lease_seconds: int) -> bool:
    """Take the source's sync lease if nobody holds it (conditional UPDATE)."""
    free = Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now)
    claimed = Source.objects.filter(free, pk=source_id).update(sync_lease_until=now + timedelta(seconds=lease_seconds))
    return claimed == 1


def release_source(source_id: int) -> None:
    Source.objects.filter(pk=source_id).update(sync_lease_until=None)


def list_since(source: Source, now: datetime) -> datetime:
    if source.list_cursor is None:
        return now - timedelta(days=settings.TRAINWATCH_LOOKBACK_DAYS)
    return source.list_cursor - timedelta(seconds=settings.TRAINWATCH_LIST_OVERLAP_SECONDS)


def record_error(source: Source, cycle_id: int | None, job_name: str, kind: str, message: str) -> None:
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
    here, one by one (the management command's synchronous mode).
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

    due = source.jobs.needing_describe()
    if dispatch is not None:
        # A task queued earlier (held up by throttling, say) is still coming:
        # queue it again only once it is overdue, so a backlog never snowballs.
        due = due.not_queued_since(now - timedelta(seconds=settings.TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS))
    # Newest first: on a first import, recent jobs appear on the pages first.
    names = list(due.order_by("-creation_time").values_list("name", flat=True))
    cycle.queued = len(names)
    cycle.save(update_fields=["queued"])
    say(f"{source.name}: listed {cycle.listed} changed job(s) in {cycle.list_pages} page(s); describing {len(names)}")
    if dispatch is not None:
        _mark_queued(source, names, now)
        dispatch(cycle, names)
    else:
        _describe_inline(source, cycle, names, say)

    if newest is not None and (source.list_cursor is None or newest > source.list_cursor):
        source.list_cursor = newest
        Source.objects.filter(pk=source.pk).update(list_cursor=newest)
    return _finish(source, cycle, error=list_error)


def _mark_queued(source: Source, names: list[str], now: datetime) -> None:
    for start in range(0, len(names), 900):  # SQLite caps bound parameters per query
        source.jobs.filter(name__in=names[start : start + 900]).update(describe_queued_at=now)


def _list_changes(source: Source, cycle: SyncCycle, *, since: datetime, say: Progress) -> datetime | None:
    newest: datetime | None = None
    for page in sagemaker.list_changed_pages(sagemaker.SourceConfig.of(source), since):
        summaries: list[JobSummary] = []
        for item in page:
            try:
                summaries.append(parse_summary(item))
            except MalformedResponse as exc:
                record_error(source, cycle.pk, exc.job_name, "malformed", f"ListTrainingJobs summary: {exc}")
        ingest.upsert_summaries(source, summaries)
        for s in summaries:
            if s.last_modified_time is not None and (newest is None or s.last_modified_time > newest):
                newest = s.last_modified_time
        cycle.listed += len(page)
        cycle.list_pages += 1
    cycle.save(update_fields=["listed", "list_pages"])
    if not source.account_id:
        arn = source.jobs.values_list("arn", flat=True).first()
        if arn and len(arn.split(":")) > 4:
            Source.objects.filter(pk=source.pk).update(account_id=arn.split(":")[4])
    return newest


def _describe_inline(source: Source, cycle: SyncCycle, names: Iterable[str], say: Progress) -> None:
    for i, name in enumerate(names, 1):
        result = describe_and_store(source, name, cycle_id=cycle.pk)
        if result.error:
            say(f"  {name}: {result.error}")
        if i % 100 == 0:
            say(f"  described {i}")


def describe_and_store(
    source: Source, name: str, *, cycle_id: int | None, raise_retryable: bool = False
) -> DescribeResult:
    """Describe one job and store it; errors are recorded, never raised.

    With ``raise_retryable`` a throttled or failed call is raised instead,
    so a Celery task can retry it with backoff.
    """
    config = sagemaker.SourceConfig.of(source)
    try:
        raw = sagemaker.describe_job(config, name)
        parsed = parse_training_job(raw)
        tags = sagemaker.list_tags(config, parsed.arn) if ingest.needs_tags(parsed.arn, parsed) else None
        outcome = ingest.store_description(source, parsed, raw, now=timezone.now(), tags=tags)
    except MalformedResponse as exc:
        record_error(source, cycle_id, name, "malformed", f"DescribeTrainingJob: {exc}")
        return DescribeResult(None, str(exc))
    except sagemaker.SageMakerError as exc:
        if exc.retryable and raise_retryable:
            raise
        record_error(source, cycle_id, name, _error_kind(exc.code), f"{exc.code or 'error'}: {exc}")
        return DescribeResult(None, str(exc))
    if cycle_id is not None:
        changed = 1 if outcome in (ingest.Outcome.CREATED, ingest.Outcome.CHANGED) else 0
        SyncCycle.objects.filter(pk=cycle_id).update(described=F("described") + 1, changed=F("changed") + changed)
    return DescribeResult(outcome)


def _error_kind(code: str) -> str:
    if code in sagemaker.THROTTLING_CODES:
        return "throttled"
    return "malformed" if code == sagemaker.UNREADABLE else "aws"


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
