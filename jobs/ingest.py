"""Store parsed SageMaker responses: ordered, idempotent, safe under concurrency.

Every write compares AWS's LastModifiedTime with what is stored inside a
transaction that holds the rows, so an older response (a slow worker, a
retried task) never overwrites a newer one, and two workers storing the same
job leave one consistent row. Responses are stored in batches, one
transaction each: a commit writes many index pages, and one per job was
most of what a describe cost.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q

from jobs.domain import billing
from jobs.domain.failures import failure_signature
from jobs.domain.parse import JobSummary, ParsedJob, Transition, clean_json, clean_text
from jobs.domain.timeline import merge_transitions
from jobs.models import FinalMetric, JobTag, Source, StatusTransition, TrainingJob

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


def upsert_summaries(source: Source, summaries: list[JobSummary]) -> int:
    """Record what ListTrainingJobs says; returns how many jobs are new or changed.

    Only identity, status and LastModifiedTime are taken from a summary; the
    detail comes from DescribeTrainingJob, which ``needing_describe`` then
    schedules because last_modified_time moved past what was described.
    """
    if not summaries:
        return 0
    known = dict(
        TrainingJob.objects.filter(arn__in=[s.arn for s in summaries]).values_list("arn", "last_modified_time")
    )
    new = [s for s in summaries if s.arn not in known]
    TrainingJob.objects.bulk_create(
        [
            TrainingJob(
                source=source,
                arn=s.arn,
                name=s.name,
                status=s.status,
                secondary_status=s.secondary_status,
                creation_time=s.creation_time,
                last_modified_time=s.last_modified_time,
                training_end_time=s.training_end_time,
            )
            for s in new
        ],
        ignore_conflicts=True,  # a concurrent describe may have created it first
    )
    changed = 0
    for s in summaries:
        if s.arn not in known or s.last_modified_time is None:
            continue
        stored = known[s.arn]
        if stored is not None and s.last_modified_time <= stored:
            continue
        # Conditional UPDATE: a newer describe stored meanwhile wins.
        changed += (
            TrainingJob.objects.filter(arn=s.arn)
            .filter(Q(last_modified_time__isnull=True) | Q(last_modified_time__lt=s.last_modified_time))
            .update(
                status=s.status,
                secondary_status=s.secondary_status,
                last_modified_time=s.last_modified_time,
                # Listed as changed: the source knows it (again), so it is due for a describe.
                not_found_count=0,
                gone_at=None,
            )
        )
    return len(new) + changed


def needs_tags(arn: str, parsed: ParsedJob) -> bool:
    """Tags are read when a job is first described and whenever it changed."""
    return parsed.arn in needing_tags([parsed])


def needing_tags(parsed: Sequence[ParsedJob]) -> set[str]:
    """The ARNs among ``parsed`` whose tags should be read, in one query."""
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


def _detail_fields(parsed: ParsedJob, now: datetime) -> dict[str, Any]:
    return {
        "name": parsed.name,
        "status": parsed.status,
        "secondary_status": parsed.secondary_status,
        "failure_reason": parsed.failure_reason,
        "failure_signature": failure_signature(parsed.failure_reason),
        "creation_time": parsed.creation_time,
        "training_start_time": parsed.training_start_time,
        "training_end_time": parsed.training_end_time,
        "instance_type": parsed.instance_type,
        "instance_count": parsed.instance_count,
        "instance_groups": parsed.instance_groups,
        "volume_size_gb": parsed.volume_size_gb,
        "keep_alive_seconds": parsed.keep_alive_seconds,
        "is_spot": parsed.is_spot,
        "max_runtime_seconds": parsed.max_runtime_seconds,
        "max_wait_seconds": parsed.max_wait_seconds,
        "max_pending_seconds": parsed.max_pending_seconds,
        "hyperparameters": parsed.hyperparameters,
        "algorithm": parsed.algorithm,
        "input_channels": parsed.input_channels,
        "output_path": parsed.output_path,
        "model_artifacts": parsed.model_artifacts,
        "role_arn": parsed.role_arn,
        "tuning_job_arn": parsed.tuning_job_arn,
        "labeling_job_arn": parsed.labeling_job_arn,
        "network_isolation": parsed.network_isolation,
        "inter_container_encryption": parsed.inter_container_encryption,
        "warm_pool_status": parsed.warm_pool_status,
        "warm_pool_retained_seconds": parsed.warm_pool_retained_seconds,
        "training_time_seconds": parsed.training_time_seconds,
        "reported_billable_seconds": parsed.reported_billable_seconds,
        "billable_seconds": billing.billable_seconds(
            parsed.training_start_time, parsed.training_end_time, parsed.instance_count, now=now
        ),
    }


def _jsonable(raw: dict[str, Any]) -> dict[str, Any]:
    return clean_json({k: v for k, v in raw.items() if k != "ResponseMetadata"})


# Fields that move on every describe of a running job without AWS changing it.
_VOLATILE = frozenset({"billable_seconds"})
# Read with the row lock to compare with the response; the detail fields too.
_STORED = ("id", "arn", "raw", "tags", "tags_fetched_at", "last_modified_time", "described_last_modified_time")
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
    the batch: one locking read, one read per child table, one executemany
    per kind of write.
    """
    outcomes = [Outcome.UNCHANGED] * len(items)
    batch = _newest_per_arn(items, outcomes, now)
    if not batch:
        return outcomes
    with transaction.atomic():
        stored, created = _lock_and_insert(source, batch, now)
        live = {}
        for arn, row in stored.items():
            if _is_stale(row["described_last_modified_time"], batch[arn].parsed.last_modified_time):
                outcomes[batch[arn].index] = Outcome.STALE
            else:
                live[arn] = row
        transitions, metrics = _load_children([row["id"] for row in live.values()])
        writes = _Writes()
        for arn, job_id in created.items():
            pending = batch[arn]
            outcomes[pending.index] = Outcome.CREATED
            writes.transitions(job_id, merge_transitions([], pending.parsed.transitions), replace=False)
            writes.metrics(job_id, {m.name: (m.value, m.timestamp) for m in pending.parsed.metrics}, replace=False)
            if pending.tags is not None:
                writes.tags(job_id, pending.tags, replace=False)
        for arn, row in live.items():
            pending = batch[arn]
            changed = _update_row(row, pending, writes, now)
            job_id = row["id"]
            known = transitions.get(job_id, [])
            merged = merge_transitions(known, pending.parsed.transitions)
            if merged != known:
                writes.transitions(job_id, merged, replace=bool(known))
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
        if tags is not None:
            tags = {clean_text(str(k)): clean_text(str(v)) for k, v in tags.items()}
        batch[arn] = _Pending(i, item.parsed, tags, _detail_fields(item.parsed, now), _jsonable(item.raw))
    return batch


def _is_stale(stored: datetime | None, incoming: datetime | None) -> bool:
    return stored is not None and incoming is not None and incoming < stored


def _lock_and_insert(
    source: Source, batch: dict[str, _Pending], now: datetime
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Lock the batch's stored rows and insert the others: (stored rows by ARN, new ids by ARN)."""
    detail = list(next(iter(batch.values())).fields)
    for attempt in range(3):
        # In ARN order, so two batches sharing jobs lock them in the same order
        # and cannot deadlock on PostgreSQL (SQLite's IMMEDIATE transactions queue).
        stored = {
            row["arn"]: row
            for row in TrainingJob.objects.select_for_update()
            .filter(arn__in=list(batch))
            .order_by("arn")
            .values(*_STORED, *detail)
        }
        new = [(arn, pending) for arn, pending in batch.items() if arn not in stored]
        if not new:
            return stored, {}
        try:
            with transaction.atomic():
                return stored, _insert_jobs(source, new, now)
        except IntegrityError:
            # Another worker inserted one of them between our read and insert:
            # read again, and it is a stored row like any other.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _insert_jobs(source: Source, new: list[tuple[str, _Pending]], now: datetime) -> dict[str, int]:
    """One executemany INSERT with every column (no INSERT then UPDATE), then the new ids."""
    rows = []
    # Shared by the rows: a default is only read, to be adapted.
    defaults = {f.name: f.get_default() for f in _INSERTED_FIELDS}
    for arn, pending in new:
        values = {
            **defaults,
            **pending.fields,
            "source": source.pk,
            "arn": arn,
            "raw": pending.raw,
            "last_modified_time": pending.parsed.last_modified_time,
            "described_at": now,
            "described_last_modified_time": pending.parsed.last_modified_time,
        }
        if pending.tags is not None:
            values.update(tags=pending.tags, tags_fetched_at=now)
        rows.append(_values(values, _INSERTED))
    _execute_many(TrainingJob, _insert_sql(TrainingJob, _INSERTED), _INSERTED, rows)
    return dict(TrainingJob.objects.filter(arn__in=[arn for arn, _ in new]).values_list("arn", "id"))


def _update_row(row: dict[str, Any], pending: _Pending, writes: _Writes, now: datetime) -> bool:
    """Queue the row's UPDATE (whole, or only the describe marks); True if the job changed."""
    fields = pending.fields
    changed = any(row[k] != v for k, v in fields.items() if k not in _VOLATILE)
    incoming = pending.parsed.last_modified_time
    last_modified = row["last_modified_time"]
    if incoming is not None and (last_modified is None or incoming > last_modified):
        last_modified = incoming
    tags = row["tags"]
    tags_changed = pending.tags is not None and pending.tags != tags
    if pending.tags is not None:
        tags = pending.tags
    values = {
        "id": row["id"],
        "described_at": now,
        "described_last_modified_time": incoming,
        "last_modified_time": last_modified,
        "billable_seconds": fields["billable_seconds"],
        "tags_fetched_at": now if pending.tags is not None else row["tags_fetched_at"],
        # Found: the not-found describes in a row start again from none (jobs.sync.mark_not_found).
        "not_found_count": 0,
        "gone_at": None,
    }
    if changed or tags_changed or row["raw"] != pending.raw:
        writes.rows.append({**fields, **values, "raw": pending.raw, "tags": tags})
    else:
        writes.touched.append(values)
    if tags_changed:
        writes.tags(row["id"], tags, replace=True)
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
    """A batch's writes, gathered so each kind is one statement (executemany)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.touched: list[dict[str, Any]] = []
        self.replaced: dict[type[models.Model], list[int]] = defaultdict(list)
        self.children: dict[type[models.Model], list[tuple[Any, ...]]] = defaultdict(list)

    def transitions(self, job_id: int, merged: list[Transition], *, replace: bool) -> None:
        if replace:
            self.replaced[StatusTransition].append(job_id)
        self.children[StatusTransition].extend(
            (job_id, i, t.status, t.start_time, t.end_time, t.message) for i, t in enumerate(merged)
        )

    def metrics(self, job_id: int, metrics: dict[str, tuple[float, datetime | None]], *, replace: bool) -> None:
        if replace:
            self.replaced[FinalMetric].append(job_id)
        self.children[FinalMetric].extend((job_id, name, value, ts) for name, (value, ts) in metrics.items())

    def tags(self, job_id: int, tags: dict[str, str], *, replace: bool) -> None:
        if replace:
            self.replaced[JobTag].append(job_id)
        self.children[JobTag].extend((job_id, k[:128], v[:256]) for k, v in tags.items())

    def flush(self) -> None:
        if self.rows:
            names = (*_UPDATED, "id")
            _execute_many(TrainingJob, _update_sql(_UPDATED), names, [_values(row, names) for row in self.rows])
        if self.touched:
            names = (*_TOUCHED, "id")
            _execute_many(TrainingJob, _update_sql(_TOUCHED), names, [_values(row, names) for row in self.touched])
        for model, job_ids in self.replaced.items():
            model.objects.filter(job_id__in=job_ids).delete()
        for model, rows in self.children.items():
            names = _CHILD_COLUMNS[model]
            _execute_many(model, _insert_sql(model, names), names, rows)


def _values(row: dict[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(row[name] for name in names)


_CHILD_COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    StatusTransition: ("job", "position", "status", "start_time", "end_time", "message"),
    FinalMetric: ("job", "name", "value", "timestamp"),
    JobTag: ("job", "key", "value"),
}


# Every column of a new row; on an update, every column a describe owns
# (describe_queued_at belongs to the sync's queueing, identity never changes).
_INSERTED = tuple(f.name for f in TrainingJob._meta.concrete_fields if not f.primary_key)
_INSERTED_FIELDS = tuple(TrainingJob._meta.get_field(name) for name in _INSERTED)
_UPDATED = tuple(name for name in _INSERTED if name not in {"source", "arn", "describe_queued_at"})


def _insert_sql(model: type[models.Model], names: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in names)
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"


def _update_sql(names: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(TrainingJob._meta.get_field(name).column)} = %s" for name in names)
    return f"UPDATE {quote(TrainingJob._meta.db_table)} SET {sets} WHERE {quote('id')} = %s"


def _execute_many(model: type[models.Model], sql: str, names: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """One executemany of ``sql``; bulk_create would build a model instance per row and compile SQL anew."""
    conn = connections[DEFAULT_DB_ALIAS]
    fields = [model._meta.get_field(name) for name in names]
    prepare = [_preparer(f, conn) for f in fields]
    # A call per value was most of the cost: a plain column's value of a plain type is checked inline.
    plain = [_is_plain(f) for f in fields]
    params = [
        tuple(
            [v if is_plain and type(v) in _PLAIN else p(v) for is_plain, p, v in zip(plain, prepare, row, strict=True)]
        )
        for row in rows
    ]
    if params:
        with conn.cursor() as cursor:
            cursor.executemany(sql, params)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _preparer(field: models.Field, conn: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    """A field's ``get_db_prep_save``, short-cut for values already of the column's type.

    Its layers (and the ``connection`` proxy) were a third of ingest's time:
    parsed responses hold plain str/int/float/bool, aware datetimes and JSON.
    Time zones still go through the backend's adapter; anything else through
    the field.
    """
    save = field.get_db_prep_save
    if isinstance(field, models.DateTimeField):
        if conn.vendor == "sqlite" and settings.USE_TZ:
            # What the SQLite backend's adapter does to an aware datetime, minus its checks;
            # parsed times are already in the database's zone (UTC), so one isoformat does.
            tz = conn.timezone

            def sqlite_time(v: Any) -> Any:
                if type(v) is not datetime or v.tzinfo is None:
                    return save(v, conn)
                if v.tzinfo is tz:
                    return v.isoformat(" ")[:-6]  # str() of the naive time, without "+00:00"
                return str(v.astimezone(tz).replace(tzinfo=None))

            return sqlite_time
        adapt = conn.ops.adapt_datetimefield_value
        return lambda v: save(v, conn) if v is not None and (type(v) is not datetime or v.tzinfo is None) else adapt(v)
    return lambda v: save(v, conn)


def _is_plain(field: models.Field) -> bool:
    """A column whose str/int/float/bool/None values need no adapting."""
    return not isinstance(field, models.JSONField) and field.get_internal_type() in _PLAIN_COLUMNS


_PLAIN_COLUMNS = frozenset(
    {
        "CharField",
        "TextField",
        "SlugField",
        "IntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "PositiveBigIntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "BooleanField",
        "FloatField",
        "ForeignKey",
        "BigAutoField",
        "AutoField",
    }
)
