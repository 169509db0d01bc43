"""Store parsed SageMaker responses: ordered, idempotent, safe under concurrency.

Every write compares AWS's LastModifiedTime with what is stored inside a
transaction that holds the row, so an older response (a slow worker, a
retried task) never overwrites a newer one, and two workers storing the same
job leave one consistent row.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q

from jobs.domain import billing
from jobs.domain.failures import failure_signature
from jobs.domain.parse import JobSummary, ParsedJob, clean_json, clean_text
from jobs.domain.timeline import merge_transitions
from jobs.models import FinalMetric, JobTag, Source, StatusTransition, TrainingJob


class Outcome(enum.StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    STALE = "stale"


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
            .update(status=s.status, secondary_status=s.secondary_status, last_modified_time=s.last_modified_time)
        )
    return len(new) + changed


def needs_tags(arn: str, parsed: ParsedJob) -> bool:
    """Tags are read when a job is first described and whenever it changed."""
    row = TrainingJob.objects.filter(arn=arn).values("tags_fetched_at", "described_last_modified_time").first()
    if row is None or row["tags_fetched_at"] is None:
        return True
    described = row["described_last_modified_time"]
    return described is None or (parsed.last_modified_time is not None and parsed.last_modified_time > described)


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


def store_description(
    source: Source,
    parsed: ParsedJob,
    raw: dict[str, Any],
    *,
    now: datetime,
    tags: dict[str, str] | None = None,
) -> Outcome:
    """Write one DescribeTrainingJob result unless something newer is stored."""
    if tags is not None:
        tags = {clean_text(str(k)): clean_text(str(v)) for k, v in tags.items()}
    fields = _detail_fields(parsed, now)
    described = {
        "raw": _jsonable(raw),
        "described_at": now,
        "described_last_modified_time": parsed.last_modified_time,
        **({"tags": tags, "tags_fetched_at": now} if tags is not None else {}),
    }
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().filter(arn=parsed.arn).first()
        created = False
        if job is None:
            try:
                # One INSERT with everything: an INSERT then a full UPDATE of the
                # same row (raw included) cost a fifth of a first describe.
                with transaction.atomic():
                    job = TrainingJob.objects.create(
                        source=source,
                        arn=parsed.arn,
                        last_modified_time=parsed.last_modified_time,
                        **fields,
                        **described,
                    )
                created = True
            except IntegrityError:
                # Another worker created it between our read and insert.
                job = TrainingJob.objects.select_for_update().get(arn=parsed.arn)
        if created:
            changed = True
            tags_changed = tags is not None
        else:
            if _is_stale(job, parsed):
                return Outcome.STALE
            changed = any(getattr(job, k) != v for k, v in fields.items() if k not in _VOLATILE)
            for key, value in fields.items():
                setattr(job, key, value)
            if parsed.last_modified_time is not None and (
                job.last_modified_time is None or parsed.last_modified_time > job.last_modified_time
            ):
                job.last_modified_time = parsed.last_modified_time
            tags_changed = tags is not None and job.tags != tags
            changed = changed or tags_changed
            for key, value in described.items():
                setattr(job, key, value)
            job.save()
        changed = _store_transitions(job, parsed, fresh=created) or changed
        changed = _store_metrics(job, parsed, fresh=created) or changed
        if tags_changed:
            _store_tag_rows(job, tags or {}, fresh=created)
    if created:
        return Outcome.CREATED
    return Outcome.CHANGED if changed else Outcome.UNCHANGED


def _is_stale(job: TrainingJob, parsed: ParsedJob) -> bool:
    stored = job.described_last_modified_time
    incoming = parsed.last_modified_time
    return stored is not None and incoming is not None and incoming < stored


def _store_transitions(job: TrainingJob, parsed: ParsedJob, *, fresh: bool) -> bool:
    stored = [] if fresh else [t.as_domain() for t in job.transitions.all()]
    merged = merge_transitions(stored, parsed.transitions)
    if merged == stored:
        return False
    if stored:
        job.transitions.all().delete()
    _insert_rows(
        StatusTransition,
        ("job", "position", "status", "start_time", "end_time", "message"),
        [(job.pk, i, t.status, t.start_time, t.end_time, t.message) for i, t in enumerate(merged)],
    )
    return True


def _store_metrics(job: TrainingJob, parsed: ParsedJob, *, fresh: bool) -> bool:
    incoming = {m.name: (m.value, m.timestamp) for m in parsed.metrics}
    stored = {} if fresh else {m.name: (m.value, m.timestamp) for m in job.metrics.all()}
    if incoming == stored or not incoming:
        # An empty list on a later read (a trimmed response) keeps what we had.
        return False
    if stored:
        job.metrics.all().delete()
    _insert_rows(
        FinalMetric,
        ("job", "name", "value", "timestamp"),
        [(job.pk, name, value, ts) for name, (value, ts) in incoming.items()],
    )
    return True


def _store_tag_rows(job: TrainingJob, tags: dict[str, str], *, fresh: bool) -> None:
    if not fresh:
        job.tag_rows.all().delete()
    _insert_rows(JobTag, ("job", "key", "value"), [(job.pk, k[:128], v[:256]) for k, v in tags.items()])


def _insert_rows(model: type[models.Model], field_names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """One executemany INSERT of a job's child rows.

    bulk_create builds a model instance per row and compiles its SQL anew;
    for the ten-odd rows of every describe that was most of ingest's time.
    Values still go through each field's own preparation (time zones).
    """
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        cursor.executemany(
            sql, [tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)) for row in rows]
        )
