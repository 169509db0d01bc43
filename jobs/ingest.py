"""Store parsed SageMaker responses: ordered, idempotent, safe under concurrency.

Every write compares AWS's LastModifiedTime with what is stored inside a
transaction that holds the rows, so an older response (a slow worker, a
retried task) never overwrites a newer one, and two workers storing the same
job leave one consistent row. Responses are stored in batches, one
transaction each: a commit writes many index pages, and one per job was
most of what a describe cost.

The change seam is an outbox: for every job a store creates, or whose status
or secondary status it moves, it adds a ``JobChange`` row (old and new
values, whether the job is new) in the same transaction as the job. Chosen
over a hook called after commit because the row is committed or rolled back
with the change itself: a worker that dies between commit and hook loses
nothing, the worker that lost a race records nothing (it saw the winner's
row under the lock), and a reader in another process (alerts, push events,
a Prometheus exporter) takes the rows after the last id it handled, at its
own pace. Readers that must decide inside that transaction (alerts) listen
to ``jobs.signals.changes_recorded``, sent by ``record_changes``. Rows older
than ``TRAINWATCH_RETENTION_DAYS`` are pruned hourly with the sync history (``jobs.maintenance.prune_history``).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from jobs.domain import billing
from jobs.domain.failures import failure_signature
from jobs.domain.parse import JobSummary, ParsedJob, Transition, clean_json, clean_text
from jobs.domain.timeline import merge_transitions
from jobs.models import FinalMetric, JobChange, JobTag, Source, StatusTransition, TrainingJob
from jobs.signals import changes_recorded

# Values per ``IN (...)`` list: SQLite caps the bound parameters of one query.
IN_CHUNK = 900


class Outcome(enum.StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    STALE = "stale"

    @property
    def is_change(self) -> bool:
        return self in (Outcome.CREATED, Outcome.CHANGED)


@dataclass(frozen=True)
class Description:
    """One DescribeTrainingJob result to store; ``tags`` None: not fetched, keep what is stored."""

    parsed: ParsedJob
    raw: dict[str, Any]
    tags: dict[str, str] | None = None


# ParsedJob members that are not a TrainingJob column of the same name: the
# identity, the child rows, and last_modified_time, which a listing moves too
# (so a describe only ever moves it forward). Every other member is copied to
# the column named like it: a new AWS field needs no edit here.
_NOT_COPIED = frozenset({"arn", "last_modified_time", "transitions", "metrics"})
COPIED_FIELDS = tuple(f.name for f in dataclasses.fields(ParsedJob) if f.name not in _NOT_COPIED)
# Columns computed from the parsed job.
DERIVED_FIELDS = ("failure_signature", "billable_seconds")


def _detail_fields(parsed: ParsedJob, now: datetime) -> dict[str, Any]:
    """The TrainingJob columns a describe sets from its parsed response."""
    fields = {name: getattr(parsed, name) for name in COPIED_FIELDS}
    fields["failure_signature"] = failure_signature(parsed.failure_reason)
    fields["billable_seconds"] = billing.billable_seconds(
        parsed.training_start_time, parsed.training_end_time, parsed.instance_count, now=now
    )
    return fields


_RAW_ENCODER = TrainingJob._meta.get_field("raw").encoder


def _jsonable(raw: dict[str, Any]) -> dict[str, Any]:
    """The response as the raw column gives it back, to compare with what is stored."""
    response = {k: v for k, v in raw.items() if k != "ResponseMetadata"}
    try:
        text = json.dumps(response, cls=_RAW_ENCODER, allow_nan=False)
    except (ValueError, TypeError):  # NaN or infinity, bytes
        text = None
    # Escaped NUL or surrogates (a lone one, or a pair: both are rare): clean
    # the response first. Walking every response instead was most of the cost.
    if text is None or "\\u0000" in text or "\\ud" in text:
        text = json.dumps(clean_json(response), cls=_RAW_ENCODER)
    return json.loads(text)


# Fields that move on every describe of a running job without AWS changing it.
_VOLATILE = frozenset({"billable_seconds"})
# Read with the row lock to compare with the response; the detail fields too.
_STORED = (
    "id",
    "source",
    "arn",
    "raw",
    "tags",
    "tags_fetched_at",
    "last_modified_time",
    "described_last_modified_time",
    *COPIED_FIELDS,
    *DERIVED_FIELDS,
)
# Written on every describe that is not stale, changed or not: ``needing_describe``
# and ``not_queued_since`` read described_at and described_last_modified_time,
# so an unchanged running job gets this narrow UPDATE, not its raw JSON again.
_TOUCHED = (
    "described_at",
    "described_last_modified_time",
    "last_modified_time",
    "billable_seconds",
    "tags_fetched_at",
    "not_found_count",
    "gone_at",
)
# Every column a describe owns (describe_queued_at belongs to the sync's
# queueing, identity never changes): what a changed job's upsert writes.
_UPDATED = tuple(
    f.name
    for f in TrainingJob._meta.concrete_fields
    if not f.primary_key and f.name not in {"source", "arn", "describe_queued_at"}
)


def upsert_summaries(source: Source, summaries: list[JobSummary], *, now: datetime | None = None) -> int:
    """Record what ListTrainingJobs says; returns how many jobs are new or changed.

    Only identity, status and LastModifiedTime are taken from a summary; the
    detail comes from DescribeTrainingJob, which ``needing_describe`` then
    schedules because last_modified_time moved past what was described. A
    summary older than what is stored changes nothing.
    """
    if not summaries:
        return 0
    now = now or timezone.now()
    newest: dict[str, JobSummary] = {}
    for s in summaries:
        kept = newest.get(s.arn)
        if kept is None or not _is_stale(kept.last_modified_time, s.last_modified_time):
            newest[s.arn] = s

    def stubs(arns: list[str]) -> list[TrainingJob]:
        return [
            TrainingJob(
                source=source,
                arn=arn,
                name=newest[arn].name,
                status=newest[arn].status,
                secondary_status=newest[arn].secondary_status,
                creation_time=newest[arn].creation_time,
                last_modified_time=newest[arn].last_modified_time,
                training_end_time=newest[arn].training_end_time,
            )
            for arn in arns
        ]

    with transaction.atomic():
        stored, created = _lock_and_insert(
            sorted(newest), ("id", "source", "arn", "status", "secondary_status", "last_modified_time"), stubs
        )
        changes = [
            _change(job.pk, source.pk, None, job.status, job.secondary_status, job.last_modified_time, now)
            for job in created.values()
        ]
        moved = []
        for arn, row in stored.items():
            s = newest[arn]
            if s.last_modified_time is None or (
                row["last_modified_time"] is not None and s.last_modified_time <= row["last_modified_time"]
            ):
                continue
            moved.append(
                TrainingJob(
                    id=row["id"],
                    status=s.status,
                    secondary_status=s.secondary_status,
                    last_modified_time=s.last_modified_time,
                    # Listed as changed: the source knows it (again), so it is due for a describe.
                    not_found_count=0,
                    gone_at=None,
                )
            )
            if (row["status"], row["secondary_status"]) != (s.status, s.secondary_status):
                changes.append(
                    _change(row["id"], row["source"], row, s.status, s.secondary_status, s.last_modified_time, now)
                )
        TrainingJob.objects.bulk_update(
            moved, ["status", "secondary_status", "last_modified_time", "not_found_count", "gone_at"]
        )
        record_changes(changes)
    return len(created) + len(moved)


def record_changes(changes: list[JobChange]) -> None:
    """Write the outbox rows and tell the in-transaction readers (``jobs.signals.changes_recorded``).

    Must run inside the transaction that stored the change: the alerts app
    decides its alerts there, so an alert exists exactly when its change does.
    """
    if not changes:
        return
    JobChange.objects.bulk_create(changes)
    changes_recorded.send(sender=JobChange, changes=changes)


def needing_tags(parsed: Sequence[ParsedJob]) -> set[str]:
    """The ARNs among ``parsed`` whose tags should be read (new or changed jobs), in one query."""
    if not parsed:
        return set()
    rows = {
        arn: (fetched, described)
        for arn, fetched, described in TrainingJob.objects.filter(arn__in={p.arn for p in parsed}).values_list(
            "arn", "tags_fetched_at", "described_last_modified_time"
        )
    }
    due = set()
    for p in parsed:
        fetched, described = rows.get(p.arn, (None, None))
        if (
            fetched is None
            or described is None
            or (p.last_modified_time is not None and p.last_modified_time > described)
        ):
            due.add(p.arn)
    return due


def store_description(
    source: Source,
    parsed: ParsedJob,
    raw: dict[str, Any],
    *,
    now: datetime,
    tags: dict[str, str] | None = None,
) -> Outcome:
    """Write one DescribeTrainingJob result unless something newer is stored."""
    return store_descriptions(source, [Description(parsed, raw, tags)], now=now)[0]


def new_job_rows(source_id: int, item: Description, *, now: datetime, job_id: int) -> list[models.Model]:
    """The unsaved rows ``store_descriptions`` inserts for a job it does not know yet, the job first.

    The job (with id ``job_id``), its transitions, final metrics, tags and
    its ``JobChange``: for a bulk loader of a fresh database (``bench.generate``)
    that writes them without the sync's locking, and so stores what the
    sync would, from this one mapping.
    """
    pending = _pending(0, item.parsed, item.raw, item.tags, now)
    return [_job(source_id, item.parsed.arn, pending, now, id=job_id), *_created_rows(job_id, source_id, pending, now)]


@dataclass
class _Pending:
    """The response of a batch kept for one ARN, mapped to columns."""

    index: int
    parsed: ParsedJob
    tags: dict[str, str] | None
    fields: dict[str, Any]  # the detail columns, as ``_detail_fields`` maps them
    raw: dict[str, Any]


def store_descriptions(source: Source, items: Sequence[Description], *, now: datetime) -> list[Outcome]:
    """Write many DescribeTrainingJob results in one transaction; one Outcome per item, in order.

    Per job as ``store_description`` always did: an older response than the
    stored one is STALE and writes nothing. The same ARN twice keeps the newest
    (the other is STALE, or UNCHANGED if as new). The queries do not grow with
    the batch: one locking read, one read per child table, one bulk statement
    per kind of write (Django splits one where the backend caps its
    parameters). Jobs created or whose status moved get a JobChange row.
    """
    outcomes = [Outcome.UNCHANGED] * len(items)
    batch = _newest_per_arn(items, outcomes, now)
    if not batch:
        return outcomes

    def new_jobs(arns: list[str]) -> list[TrainingJob]:
        return [_job(source.pk, arn, batch[arn], now) for arn in arns]

    with transaction.atomic():
        stored, created = _lock_and_insert(list(batch), _STORED, new_jobs)
        live = {}
        for arn, row in stored.items():
            if _is_stale(row["described_last_modified_time"], batch[arn].parsed.last_modified_time):
                outcomes[batch[arn].index] = Outcome.STALE
            else:
                live[arn] = row
        transitions, metrics = _load_children([row["id"] for row in live.values()])
        writes = _Writes()
        for arn, job in created.items():
            outcomes[batch[arn].index] = Outcome.CREATED
            writes.add(_created_rows(job.pk, source.pk, batch[arn], now))
        for arn, row in live.items():
            pending = batch[arn]
            changed = _update_row(row, pending, writes, now)
            job_id = row["id"]
            known = transitions.get(job_id, [])
            merged = merge_transitions(known, pending.parsed.transitions)
            if merged != known:
                writes.transitions(job_id, known, merged)
                changed = True
            incoming = {m.name: (m.value, m.timestamp) for m in pending.parsed.metrics}
            # An empty list on a later read (a trimmed response) keeps what we had.
            if incoming and incoming != metrics.get(job_id, {}):
                writes.metrics(job_id, incoming, replace=job_id in metrics)
                changed = True
            outcomes[pending.index] = Outcome.CHANGED if changed else Outcome.UNCHANGED
        writes.flush()
    return outcomes


def _newest_per_arn(items: Sequence[Description], outcomes: list[Outcome], now: datetime) -> dict[str, _Pending]:
    """One response per ARN, the newest (the later one on a tie), in ARN order."""
    chosen: dict[str, int] = {}
    read_tags: dict[str, dict[str, str]] = {}
    for i, item in enumerate(items):
        j = chosen.get(item.parsed.arn)
        if j is None or not _is_stale(items[j].parsed.last_modified_time, item.parsed.last_modified_time):
            chosen[item.parsed.arn] = i
        if item.tags is not None:
            read_tags[item.parsed.arn] = item.tags
    for i, item in enumerate(items):
        kept = items[chosen[item.parsed.arn]]
        if kept is not item:
            older = _is_stale(kept.parsed.last_modified_time, item.parsed.last_modified_time)
            outcomes[i] = Outcome.STALE if older else Outcome.UNCHANGED
    batch = {}
    for arn, i in sorted(chosen.items()):
        item = items[i]
        # Tags carry no version: ones read alongside an older response of the batch still count.
        tags = item.tags if item.tags is not None else read_tags.get(arn)
        batch[arn] = _pending(i, item.parsed, item.raw, tags, now)
    return batch


def _pending(
    index: int, parsed: ParsedJob, raw: dict[str, Any], tags: dict[str, str] | None, now: datetime
) -> _Pending:
    if tags is not None:
        tags = {clean_text(str(k)): clean_text(str(v)) for k, v in tags.items()}
    return _Pending(index, parsed, tags, _detail_fields(parsed, now), _jsonable(raw))


def _created_rows(job_id: int, source_id: int, pending: _Pending, now: datetime) -> list[models.Model]:
    """A new job's child rows and its outbox row."""
    parsed = pending.parsed
    rows: list[models.Model] = [
        *_transition_rows(job_id, merge_transitions([], parsed.transitions)),
        *_metric_rows(job_id, {m.name: (m.value, m.timestamp) for m in parsed.metrics}),
    ]
    if pending.tags is not None:
        rows += _tag_rows(job_id, pending.tags)
    status, secondary = parsed.status, parsed.secondary_status
    rows.append(_change(job_id, source_id, None, status, secondary, parsed.last_modified_time, now))
    return rows


def _transition_rows(job_id: int, merged: list[Transition], start: int = 0) -> list[StatusTransition]:
    """``merged``'s steps from position ``start`` on."""
    return [
        StatusTransition(
            job_id=job_id, position=i, status=t.status, start_time=t.start_time, end_time=t.end_time, message=t.message
        )
        for i, t in enumerate(merged[start:], start=start)
    ]


def _metric_rows(job_id: int, metrics: dict[str, tuple[float, datetime | None]]) -> list[FinalMetric]:
    return [FinalMetric(job_id=job_id, name=name, value=value, timestamp=ts) for name, (value, ts) in metrics.items()]


def _tag_rows(job_id: int, tags: dict[str, str]) -> list[JobTag]:
    return [JobTag(job_id=job_id, key=k[:128], value=v[:256]) for k, v in tags.items()]


def _is_stale(stored: datetime | None, incoming: datetime | None) -> bool:
    return stored is not None and incoming is not None and incoming < stored


def _lock_and_insert(
    arns: list[str], columns: Sequence[str], build: Callable[[list[str]], list[TrainingJob]]
) -> tuple[dict[str, dict[str, Any]], dict[str, TrainingJob]]:
    """Lock the stored rows of ``arns`` and insert the others, built by ``build``.

    Returns (the stored rows' ``columns`` by ARN, the new jobs by ARN).
    ``arns`` must be sorted, so two batches sharing jobs lock (and insert)
    them in the same order and cannot deadlock on PostgreSQL (SQLite's
    IMMEDIATE transactions queue instead).
    """
    collisions = 0
    while True:
        stored = {
            row["arn"]: row
            for row in TrainingJob.objects.select_for_update().filter(arn__in=arns).order_by("arn").values(*columns)
        }
        new = [arn for arn in arns if arn not in stored]
        if not new:
            return stored, {}
        try:
            with transaction.atomic():
                jobs = TrainingJob.objects.bulk_create(build(new))
        except IntegrityError:
            # Another worker inserted one of them between our read and insert:
            # read again, and it is a stored row like any other. Never an
            # upsert here: that would overwrite the other worker's newer row.
            collisions += 1
            if collisions == 3:
                raise
            continue
        if any(job.pk is None for job in jobs):  # a backend that cannot return ids from a bulk insert
            ids = dict(TrainingJob.objects.filter(arn__in=new).values_list("arn", "id"))
            for job in jobs:
                job.pk = ids[job.arn]
        return stored, {job.arn: job for job in jobs}


def _job(source_id: int, arn: str, pending: _Pending, now: datetime, **values: Any) -> TrainingJob:
    """The whole row a describe writes, as a new job (tags read) or a changed one."""
    job = TrainingJob(
        source_id=source_id,
        arn=arn,
        raw=pending.raw,
        last_modified_time=pending.parsed.last_modified_time,
        described_at=now,
        described_last_modified_time=pending.parsed.last_modified_time,
        # Found: the not-found describes in a row start again from none (jobs.sync.mark_not_found).
        not_found_count=0,
        gone_at=None,
        **pending.fields,
    )
    if pending.tags is not None:
        job.tags = pending.tags
        job.tags_fetched_at = now
    for name, value in values.items():
        setattr(job, name, value)
    return job


def _change(
    job_id: int,
    source_id: int,
    old: dict[str, Any] | None,
    status: str,
    secondary_status: str,
    last_modified_time: datetime | None,
    now: datetime,
) -> JobChange:
    """The outbox row of a job created (``old`` None) or moved from ``old``'s statuses."""
    return JobChange(
        job_id=job_id,
        source_id=source_id,
        created_at=now,
        is_new=old is None,
        old_status=old["status"] if old else "",
        new_status=status,
        old_secondary_status=old["secondary_status"] if old else "",
        new_secondary_status=secondary_status,
        last_modified_time=last_modified_time,
    )


def _update_row(row: dict[str, Any], pending: _Pending, writes: _Writes, now: datetime) -> bool:
    """Queue the row's write (whole, or only the describe marks); True if the job changed."""
    fields = pending.fields
    changed = any(row[k] != v for k, v in fields.items() if k not in _VOLATILE)
    incoming = pending.parsed.last_modified_time
    last_modified = row["last_modified_time"]
    if incoming is not None and (last_modified is None or incoming > last_modified):
        last_modified = incoming
    tags_changed = pending.tags is not None and pending.tags != row["tags"]
    if changed or tags_changed or row["raw"] != pending.raw:
        writes.rows.append(
            _job(
                row["source"],
                row["arn"],
                pending,
                now,
                last_modified_time=last_modified,
                tags=pending.tags if pending.tags is not None else row["tags"],
                tags_fetched_at=now if pending.tags is not None else row["tags_fetched_at"],
            )
        )
    else:
        # Only the marks are written (update_fields); the rest of the proposed
        # row is what an INSERT needs (its NOT NULL columns), then discarded.
        writes.touched.append(
            TrainingJob(
                source_id=row["source"],
                arn=row["arn"],
                name=row["name"],
                status=row["status"],
                creation_time=row["creation_time"],
                described_at=now,
                described_last_modified_time=incoming,
                last_modified_time=last_modified,
                billable_seconds=fields["billable_seconds"],
                tags_fetched_at=now if pending.tags is not None else row["tags_fetched_at"],
                not_found_count=0,
                gone_at=None,
            )
        )
    if tags_changed:
        writes.tags(row["id"], pending.tags or {}, replace=True)
    if (row["status"], row["secondary_status"]) != (fields["status"], fields["secondary_status"]):
        writes.changes.append(
            _change(row["id"], row["source"], row, fields["status"], fields["secondary_status"], incoming, now)
        )
    return changed or tags_changed


def _load_children(
    job_ids: list[int],
) -> tuple[dict[int, list[Transition]], dict[int, dict[str, tuple[float, datetime | None]]]]:
    """Stored transitions and metrics of the batch's jobs, one query each."""
    transitions: dict[int, list[Transition]] = defaultdict(list)
    metrics: dict[int, dict[str, tuple[float, datetime | None]]] = defaultdict(dict)
    if job_ids:
        for job_id, status, start, end, message in (
            StatusTransition.objects.filter(job_id__in=job_ids)
            .order_by("job_id", "position")
            .values_list("job_id", "status", "start_time", "end_time", "message")
        ):
            transitions[job_id].append(Transition(status, start, end, message))
        for job_id, name, value, timestamp in FinalMetric.objects.filter(job_id__in=job_ids).values_list(
            "job_id", "name", "value", "timestamp"
        ):
            metrics[job_id][name] = (value, timestamp)
    return dict(transitions), dict(metrics)


class _Writes:
    """A batch's writes, gathered so each kind is one bulk statement."""

    def __init__(self) -> None:
        self.rows: list[TrainingJob] = []  # changed jobs, written whole
        self.touched: list[TrainingJob] = []  # unchanged ones: the describe marks only
        self.replaced: dict[type[models.Model], list[int]] = defaultdict(list)
        self.transitions_from: dict[int, int] = {}  # job id: the first stored position rewritten
        self.children: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        self.changes: list[JobChange] = []

    def transitions(self, job_id: int, known: list[Transition], merged: list[Transition]) -> None:
        """Write the steps from the first that differs from the stored ones on; keep the rest.

        A running job's new read usually closes its last step and adds one:
        two rows rewritten, not its whole history.
        """
        kept = 0
        while kept < len(known) and known[kept] == merged[kept]:
            kept += 1
        if kept < len(known):
            self.transitions_from[job_id] = kept
        self.children[StatusTransition] += _transition_rows(job_id, merged, kept)

    def metrics(self, job_id: int, metrics: dict[str, tuple[float, datetime | None]], *, replace: bool) -> None:
        if replace:
            self.replaced[FinalMetric].append(job_id)
        self.children[FinalMetric] += _metric_rows(job_id, metrics)

    def tags(self, job_id: int, tags: dict[str, str], *, replace: bool) -> None:
        if replace:
            self.replaced[JobTag].append(job_id)
        self.children[JobTag] += _tag_rows(job_id, tags)

    def add(self, rows: list[models.Model]) -> None:
        for row in rows:
            (self.changes if isinstance(row, JobChange) else self.children[type(row)]).append(row)

    def flush(self) -> None:
        # The rows are locked and exist: an upsert updates them all in one
        # statement, where bulk_update builds a CASE WHEN per column and row
        # (most of what storing a batch cost).
        for rows, fields in ((self.rows, _UPDATED), (self.touched, _TOUCHED)):
            if rows:
                TrainingJob.objects.bulk_create(
                    rows, update_conflicts=True, unique_fields=["arn"], update_fields=fields
                )
        for model, job_ids in self.replaced.items():
            model.objects.filter(job_id__in=job_ids).delete()
        if self.transitions_from:
            rewritten = Q()
            for job_id, position in self.transitions_from.items():
                rewritten |= Q(job_id=job_id, position__gte=position)
            StatusTransition.objects.filter(rewritten).delete()
        for model, rows in self.children.items():
            model.objects.bulk_create(rows)
        record_changes(self.changes)
