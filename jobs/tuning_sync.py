"""Describe the tuning jobs that a source's running trials belong to (DescribeHyperParameterTuningJob).

Only tuning jobs with a trial still running are asked about, so a cycle
reads the small set of running jobs, never the history. A tuning job is
described when first seen and again, while it is not finished, every
``REFRESH``; one that failed (no permission: ``sagemaker:DescribeHyperParameterTuningJob``)
is asked again after ``RETRY``, and its page ranks trials by their own metrics meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from jobs import sagemaker
from jobs.domain import tuning
from jobs.models import Source, SyncErrorKind, TrainingJob, TuningJob

REFRESH = timedelta(minutes=5)
RETRY = timedelta(hours=1)
PER_CYCLE = 20
FINISHED = frozenset({"Completed", "Failed", "Stopped", "Deleted"})


@dataclass
class Report:
    described: int = 0
    errors: int = 0

    def __str__(self) -> str:
        return f"tuning jobs described {self.described}, errors {self.errors}"


def due_arns(source: Source, now: datetime) -> list[str]:
    """Tuning jobs of the source's running trials that are new or due a describe, at most PER_CYCLE."""
    arns = set(
        TrainingJob.objects.filter(source=source)
        .running()
        .exclude(tuning_job_arn="")
        .values_list("tuning_job_arn", flat=True)
        .distinct()
    )
    if not arns:
        return []
    fresh = TuningJob.objects.filter(arn__in=arns).filter(
        Q(status__in=FINISHED)
        | Q(error="", described_at__gte=now - REFRESH)
        | (~Q(error="") & Q(described_at__gte=now - RETRY))
    )
    return sorted(arns - set(fresh.values_list("arn", flat=True)))[:PER_CYCLE]


def run(source: Source, *, now: datetime | None = None) -> Report:
    from jobs.sync import record_error  # the job sync's recorder, shared

    now = now or timezone.now()
    report = Report()
    config = sagemaker.SourceConfig.of(source)
    for arn in due_arns(source, now):
        name = tuning.name_of(arn)
        try:
            raw = sagemaker.describe_tuning_job(config, name)
        except sagemaker.SageMakerError as exc:
            kind = SyncErrorKind.THROTTLED if exc.code in sagemaker.THROTTLING_CODES else SyncErrorKind.AWS
            record_error(source, None, name, kind, f"DescribeHyperParameterTuningJob: {exc}")
            TuningJob.objects.update_or_create(
                arn=arn, defaults={"source": source, "name": name[:64], "described_at": now, "error": str(exc)}
            )
            report.errors += 1
            continue
        described = tuning.parse_description(raw)
        TuningJob.objects.update_or_create(
            arn=arn,
            defaults={
                "source": source,
                "name": name[:64],
                "status": described.status,
                "objective_metric": described.objective_metric,
                "objective_type": described.objective_type,
                "strategy": described.strategy,
                "max_training_jobs": described.max_training_jobs,
                "raw": raw,
                "described_at": now,
                "error": "",
            },
        )
        report.described += 1
    return report
