"""/api/jobs/<id>/series/ and /api/jobs/<id>/logs/: the stored CloudWatch data as JSON."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.cloudwatch_rows import series_points, store_series, store_tail
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_series_are_downsampled_to_the_points_asked(logged_in):
    job = make_job("api-cw-1")
    store_series(job, "train:loss", series_points(job.training_start_time, 2000))
    store_series(job, "CPUUtilization", series_points(job.training_start_time, 50), host=f"{job.name}/algo-1")
    body = logged_in.get(f"/api/jobs/{job.pk}/series/").json()
    loss, cpu = sorted(body["results"], key=lambda r: r["kind"])
    assert (loss["kind"], loss["name"], loss["host"], loss["stored_points"]) == ("algorithm", "train:loss", "", 2000)
    assert len(loss["points"]) == 300 and loss["points"][0][0].endswith("Z")
    assert cpu["host"] == "api-cw-1/algo-1" and len(cpu["points"]) == 50
    more = logged_in.get(f"/api/jobs/{job.pk}/series/?points=1000").json()
    assert len(next(r for r in more["results"] if r["name"] == "train:loss")["points"]) == 1000
    assert logged_in.get(f"/api/jobs/{job.pk}/series/?points=2").status_code == 400
    assert logged_in.get(f"/api/jobs/{job.pk}/series/?points=x").status_code == 400
    assert logged_in.get("/api/jobs/424242/series/").status_code == 404


def test_logs_are_the_stored_tails(logged_in):
    job = make_job("api-cw-2")
    store_tail(job, "algo-1", ["<script>x</script>", "y" * 5000])
    body = logged_in.get(f"/api/jobs/{job.pk}/logs/").json()
    [tail] = body["results"]
    assert tail["host"] == "algo-1" and tail["events_seen"] == 2
    assert tail["lines"][0]["text"] == "<script>x</script>"  # JSON, not HTML: the client escapes
    assert len(tail["lines"][1]["text"]) == 2000 and tail["lines"][1]["length"] == 5000
    assert Client().get(f"/api/jobs/{job.pk}/logs/").status_code in (401, 403)
