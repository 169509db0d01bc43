"""Refresh due jobs through Search: up to 100 full records, tags included, per call.

Describing a job costs one DescribeTrainingJob and, when it changed, one
ListTags; SageMaker's management APIs allow a few calls a second per
account. Search brings the same fields for a page of jobs at once: all
running jobs by status, the other due jobs 20 names a call. It only speeds
things up: whatever it could not refresh (no permission, throttled, an index
that lags behind, an unreadable record) is left to DescribeTrainingJob.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db.models import F

from jobs import ingest, sagemaker
from jobs.domain import search
from jobs.domain.parse import MalformedResponse, parse_training_job
from jobs.models import Source, SyncCycle

log = logging.getLogger(__name__)

_SQLITE_PARAMS = 900  # SQLite caps bound parameters per query


def refresh_by_search(source: Source, names: list[str], *, cycle_id: int | None, now: datetime) -> set[str]:
    """Store what Search returns for the jobs named; returns the names now up to date."""
    if not names:
        return set()
    known = _known(source, names)
    by_status = {status: 0 for status in search.RUNNING_STATUSES}
    for status, _ in known.values():
        if status in by_status:
            by_status[status] += 1
    expressions = [search.by_status(status) for status, count in by_status.items() if count]
    others = sorted(name for name in names if known.get(name, ("", None))[0] not in by_status)
    expressions += search.by_names(others)

    wanted = set(names)
    refreshed: set[str] = set()
    stored = changed = 0
    config = sagemaker.SourceConfig.of(source)
    try:
        for expression in expressions:
            for page in sagemaker.search_job_pages(config, expression):
                for record in page:
                    name, outcome = _store(source, record, known, now=now)
                    if outcome is None:
                        continue
                    stored += 1
                    changed += outcome in (ingest.Outcome.CREATED, ingest.Outcome.CHANGED)
                    if name in wanted:
                        refreshed.add(name)
    except sagemaker.SageMakerError as exc:
        log.warning("Search failed on %s; describing the rest one by one: %s", source.name, exc)
    if cycle_id is not None and stored:
        SyncCycle.objects.filter(pk=cycle_id).update(described=F("described") + stored, changed=F("changed") + changed)
    return refreshed


def _known(source: Source, names: list[str]) -> dict[str, tuple[str, datetime | None]]:
    """Stored status and listed LastModifiedTime of the named jobs."""
    known: dict[str, tuple[str, datetime | None]] = {}
    for start in range(0, len(names), _SQLITE_PARAMS):
        rows = source.jobs.filter(name__in=names[start : start + _SQLITE_PARAMS])
        for name, status, modified in rows.values_list("name", "status", "last_modified_time"):
            known[name] = (status, modified)
    return known


def _store(
    source: Source, record: Any, known: dict[str, tuple[str, datetime | None]], *, now: datetime
) -> tuple[str, ingest.Outcome | None]:
    """Store one record; the outcome is None when it does not bring the job up to date."""
    if not isinstance(record, dict):
        return "", None
    raw, tags = search.split_tags(record)
    try:
        parsed = parse_training_job(raw)
    except MalformedResponse:
        return "", None  # DescribeTrainingJob will try, and record the error if it is malformed too
    outcome = ingest.store_description(source, parsed, raw, now=now, tags=tags)
    listed = known.get(parsed.name, ("", None))[1]
    behind = listed is not None and (parsed.last_modified_time is None or parsed.last_modified_time < listed)
    if outcome is ingest.Outcome.STALE or behind:
        return parsed.name, None  # Search's index lags what ListTrainingJobs said: describe it
    return parsed.name, outcome
