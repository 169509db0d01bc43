"""A ListTrainingJobs summary too wide for its columns, over real HTTP to moto (issue 9, "Bad input").

On PostgreSQL the page's insert failed as a whole: the cycle never finished,
nothing recorded why, and every cycle failed again. Run on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs import sync
from jobs.models import Source, SyncError, TrainingJob
from tests.integration.conftest import create_job, naive_utc


def test_a_summary_too_wide_for_its_columns_is_recorded_and_the_rest_stored(
    moto_source, sm_client, moto_jobs, settings
):
    settings.TRAINWATCH_LIST_OVERLAP_SECONDS = 0
    for name in ("sound-1", "long-name", "long-status", "sound-2"):
        create_job(sm_client, name)
    moto_jobs["long-name"].training_job_name = "n" * 100
    moto_jobs["long-status"].training_job_status = "S" * 33
    newest = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    moto_jobs["long-status"].last_modified_time = naive_utc(newest)

    cycle = sync.run_cycle(moto_source)

    assert cycle.finished_at is not None and cycle.error == ""
    assert cycle.listed == 4
    assert set(TrainingJob.objects.values_list("name", flat=True)) == {"sound-1", "sound-2"}
    errors = SyncError.objects.filter(cycle=cycle).order_by("job_name")
    assert [(e.job_name, e.kind) for e in errors] == [("long-status", "malformed"), ("n" * 100, "malformed")]
    assert "TrainingJobStatus is longer than 32 characters" in errors[0].message
    assert "TrainingJobName is longer than 63 characters" in errors[1].message
    assert cycle.errors == 2
    # The cursor moves past the malformed newest change: it is not listed
    # (and recorded) again every cycle once the overlap has passed.
    assert Source.objects.get(pk=moto_source.pk).list_cursor == newest
    again = sync.run_cycle(moto_source)
    assert again.finished_at is not None and again.errors == 0
    assert SyncError.objects.count() == 2
