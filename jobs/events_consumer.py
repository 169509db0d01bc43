"""Consume SageMaker's state-change events from a source's SQS queue.

Each event moves the job's status and LastModifiedTime through the same
ordered, idempotent ingest a listing uses (``upsert_summaries``): an event no
newer than what is stored (a duplicate, or one delivered after a newer
describe) changes nothing, and a moved status gets its JobChange row in the
same transaction. The event's detail is parsed in full (so a malformed one is
caught here), but only its summary is stored: an event lacks the billing
fields and final metrics, and storing it as a describe would blank them and
mark the job described. Moving LastModifiedTime past the described one makes
the job due for the describe that fills them in.

Messages are deleted only after the commit; one the process dies before
deleting is redelivered and changes nothing. An unreadable message is a
SyncError and stays in the queue, for its redrive policy (a dead-letter
queue) to set aside.

A terminal event queues one describe (``jobs.tasks.describe_jobs``) for what
events lack, unless one is in flight or the job is described that far already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs import sagemaker, sync, tasks
from jobs.domain.chunks import chunked
from jobs.domain.events import JobEvent, MalformedEvent, parse_event_body
from jobs.domain.parse import JobSummary
from jobs.domain.statuses import TERMINAL
from jobs.ingest import upsert_summaries
from jobs.models import Source, SyncError, SyncErrorKind

logger = logging.getLogger(__name__)

# Queues describes of a source's jobs by name.
Dispatch = Callable[[Source, list[str]], None]


@dataclass(frozen=True)
class Consumed:
    received: int = 0
    changed: int = 0  # jobs created or moved
    malformed: int = 0
    deleted: int = 0
    described: int = 0  # terminal jobs whose describe was queued

    def __str__(self) -> str:
        return (
            f"received {self.received}, changed {self.changed}, malformed {self.malformed}, "
            f"deleted {self.deleted}, describes queued {self.described}"
        )


def summary_of(event: JobEvent) -> JobSummary:
    parsed = event.parsed
    return JobSummary(
        name=parsed.name,
        arn=parsed.arn,
        status=parsed.status,
        secondary_status=parsed.secondary_status,
        creation_time=parsed.creation_time,
        last_modified_time=parsed.last_modified_time,
        training_end_time=parsed.training_end_time,
    )


def queue_describe_tasks(source: Source, names: list[str]) -> None:
    for chunk in chunked(names, sync.DESCRIBE_CHUNK):
        tasks.describe_jobs.delay(source.pk, chunk)


def consume_once(
    source: Source, queue_url: str, *, wait_seconds: int = 20, dispatch: Dispatch = queue_describe_tasks
) -> Consumed:
    """Receive one batch (up to ten), store it in one transaction, then delete what was stored.

    SQS and AWS errors propagate as ``sagemaker.SageMakerError``, with nothing
    deleted.
    """
    config = sagemaker.SourceConfig.of(source)
    messages = sagemaker.receive_messages(config, queue_url, wait_seconds=wait_seconds)
    if not messages:
        return Consumed()
    now = timezone.now()
    summaries: list[JobSummary] = []
    stored_handles: list[str] = []
    errors: list[SyncError] = []
    for message in messages:
        try:
            event = parse_event_body(message.get("Body"))
        except MalformedEvent as exc:
            errors.append(
                SyncError(
                    source=source,
                    job_name=exc.job_name[:256],
                    kind=SyncErrorKind.EVENT,
                    message=f"SQS message {str(message.get('MessageId', ''))[:100]}: {exc}",
                    created_at=now,
                )
            )
            continue
        summaries.append(summary_of(event))
        if isinstance(message.get("ReceiptHandle"), str):
            stored_handles.append(message["ReceiptHandle"])
    with transaction.atomic():
        changed = upsert_summaries(source, summaries, now=now)
        SyncError.objects.bulk_create(errors)
        if summaries:
            # Events arrive: its running jobs are described less often (jobs.domain.polling).
            Source.objects.filter(pk=source.pk).update(last_event_at=now)
            source.last_event_at = now
    # Only after the commit: a crash before this line redelivers events whose storing changes nothing.
    failed = sagemaker.delete_messages(config, queue_url, stored_handles) if stored_handles else []
    terminal = sorted({s.name for s in summaries if s.status in TERMINAL})
    described = _describe_terminal(source, terminal, dispatch, now) if terminal else 0
    return Consumed(len(messages), changed, len(errors), len(stored_handles) - len(failed), described)


def _describe_terminal(source: Source, names: list[str], dispatch: Dispatch, now: datetime) -> int:
    """Queue one describe of each terminal job not yet described at its stored LastModifiedTime."""
    in_flight_since = now - timedelta(seconds=settings.TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS)
    due = sorted(
        source.jobs.filter(name__in=names, status__in=TERMINAL)
        .needing_describe()
        .not_queued_since(in_flight_since)
        .values_list("name", flat=True)
    )
    if not due:
        return 0
    try:
        dispatch(source, due)
    except Exception:
        # The events are stored and deleted; the next sync cycle describes
        # these jobs anyway (their LastModifiedTime moved past the described one).
        logger.exception("%s: could not queue describes of %d terminal job(s)", source.name, len(due))
        return 0
    source.jobs.filter(name__in=due).update(describe_queued_at=now)
    return len(due)
