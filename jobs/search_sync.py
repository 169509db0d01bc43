"""Refresh due jobs through Search: up to 100 full records, tags included, per call.

Describing a job costs one DescribeTrainingJob and, when it changed, one
ListTags; SageMaker's management APIs allow a few calls a second per
account. Search brings the same fields for a page of jobs at once: the
cycle asks for all running jobs by status, and each describe chunk for its
jobs by name, 20 a call. It only speeds things up: whatever it could not
refresh (no permission, throttled, an index that lags behind, an unreadable
record) is left to DescribeTrainingJob.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import DatabaseError

from jobs import ingest, sagemaker
from jobs.domain import search, statuses
from jobs.domain.chunks import chunked
from jobs.domain.parse import MalformedResponse, ParsedJob, parse_training_job
from jobs.models import Source, SyncCycle

log = logging.getLogger(__name__)

# A job's stored (status, LastModifiedTime as last listed).
JobState = tuple[str, datetime | None]


def refresh_running(
    source: Source, due: dict[str, JobState], *, cycle_id: int | None, now: datetime
) -> dict[str, ingest.Outcome]:
    """Search the due jobs that are running, by status: 100 a call, however many run.

    ``due`` maps each due job to its stored (status, LastModifiedTime), as the
    cycle's own query read them. What the cycle does itself; its cost is
    bounded by the running jobs, not by the history, so a first import never
    holds the source's lease long.
    """
    running = {name: state for name, state in due.items() if state[0] in statuses.RUNNING}
    asked = sorted({status for status, _ in running.values()})
    return _refresh(source, [search.by_status(s) for s in asked], running, cycle_id=cycle_id, now=now)


def refresh_named(
    source: Source, names: list[str], *, cycle_id: int | None, now: datetime
) -> dict[str, ingest.Outcome]:
    """Search these jobs by name, 20 a call: what each describe chunk tries first."""
    if not names:
        return {}
    return _refresh(source, list(search.by_names(sorted(names))), job_states(source, names), cycle_id=cycle_id, now=now)


def _refresh(
    source: Source,
    expressions: list[dict[str, Any]],
    wanted: dict[str, JobState],
    *,
    cycle_id: int | None,
    now: datetime,
) -> dict[str, ingest.Outcome]:
    """Store what the expressions find; returns the outcome for each wanted job now up to date."""
    refreshed: dict[str, ingest.Outcome] = {}
    stored = changed = 0
    config = sagemaker.SourceConfig.of(source)
    try:
        for expression in expressions:
            for page in sagemaker.search_job_pages(config, expression):
                items = _readable(page)
                if not items:
                    continue
                outcomes = ingest.store_descriptions(source, items, now=now)
                stored += len(items)
                for item, outcome in zip(items, outcomes, strict=True):
                    changed += outcome.is_change
                    if item.parsed.name in wanted and _up_to_date(item.parsed, outcome, wanted):
                        refreshed[item.parsed.name] = outcome
    except (sagemaker.SageMakerError, DatabaseError) as exc:
        # The describes that follow store (or record) each job on its own.
        log.warning("Search failed on %s; describing the rest one by one: %s", source.name, exc)
    if cycle_id is not None and stored:
        SyncCycle.objects.add_stored(cycle_id, described=stored, changed=changed)
    return refreshed


def job_states(source: Source, names: list[str]) -> dict[str, JobState]:
    """Stored status and listed LastModifiedTime of the named jobs."""
    known: dict[str, JobState] = {}
    for some in chunked(names, ingest.IN_CHUNK):
        rows = source.jobs.filter(name__in=some).values_list("name", "status", "last_modified_time")
        for name, status, modified in rows:
            known[name] = (status, modified)
    return known


def _readable(page: list[Any]) -> list[ingest.Description]:
    """The records of a page that parse; DescribeTrainingJob will try the others (and record why)."""
    items = []
    for record in page:
        if not isinstance(record, dict):
            continue
        raw, tags = search.split_tags(record)
        try:
            items.append(ingest.Description(parse_training_job(raw), raw, tags))
        except MalformedResponse:
            continue
    return items


def _up_to_date(parsed: ParsedJob, outcome: ingest.Outcome, known: dict[str, JobState]) -> bool:
    """False when Search's index lags what ListTrainingJobs said: then it is described."""
    if outcome is ingest.Outcome.STALE:
        return False
    listed = known.get(parsed.name, ("", None))[1]
    return listed is None or (parsed.last_modified_time is not None and parsed.last_modified_time >= listed)
