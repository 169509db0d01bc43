"""The job detail page (/jobs/<id>/)."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from jobs.models import InstancePrice
from tests.factories import SHORT_XSS, T0, XSS, make_job

NOW = T0 + timedelta(hours=3)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_requires_login(client, db):
    job = make_job()
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 302


def test_missing_job_is_404(logged_in):
    assert logged_in.get("/jobs/424242/").status_code == 404


def test_shows_timeline_phases_metrics_and_billing(logged_in):
    InstancePrice.objects.update_or_create(instance_type="ml.p3.2xlarge", defaults={"hourly_usd": Decimal("3.825")})
    job = make_job("done-1", BillableTimeInSeconds=3500)
    response = logged_in.get(f"/jobs/{job.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<svg class="timeline-svg"' in html
    assert html.count('<rect class="bar') == 3
    assert "<title>Starting · 5 min" in html
    assert "Preparing the instances" in html
    assert 'class="billed"' in html
    assert "TrainingStartTime" in html and "TrainingEndTime" in html
    # MaxRuntime (1 day) lies beyond the drawn hour: said in the legend.
    assert "MaxRuntime limit: not reached" in html
    assert dict(response.context["phases"]) == {"Starting": 300, "Training": 3600, "Completed": 0}
    assert "validation:accuracy" in html
    # Computed 1 h x 2 instances, AWS's 3500 s x 2 beside it; the cost is
    # AWS's figure at $3.825/h, and says so.
    assert response.context["billable_seconds"] == 7200
    assert "58 min 20 s \u00d7 2 = 1 h 56 min" in html
    assert response.context["cost"] == Decimal("7.44")
    assert response.context["cost_basis"] == "aws"
    assert "$7.44" in html
    assert "AWS&#x27;s BillableTimeInSeconds x instances" in html


def test_running_job_bills_so_far_and_marks_limit(logged_in):
    job = make_job(
        "live-1", status="InProgress", created=NOW - timedelta(hours=2), StoppingCondition={"MaxRuntimeInSeconds": 3600}
    )
    response = logged_in.get(f"/jobs/{job.pk}/")
    # Started 5 min after creation: 1 h 55 min so far on two instances.
    assert response.context["billable_seconds"] == 2 * (115 * 60)
    assert "so far" in response.content.decode()
    assert response.context["chart"].limit is not None
    assert 'class="limit"' in response.content.decode()


def test_restarts_are_visible(logged_in):
    created = T0
    steps = [
        ("Starting", 0, 5),
        ("Training", 5, 30),
        ("Interrupted", 30, 31),
        ("Restarting", 31, 35),
        ("Starting", 35, 40),
        ("Training", 40, 90),
        ("Completed", 90, 90),
    ]
    transitions = [
        {
            "Status": s,
            "StartTime": created + timedelta(minutes=a),
            "EndTime": created + timedelta(minutes=b),
            "StatusMessage": f"{s} step",
        }
        for s, a, b in steps
    ]
    job = make_job("spot-1", SecondaryStatusTransitions=transitions, EnableManagedSpotTraining=True)
    response = logged_in.get(f"/jobs/{job.pk}/")
    html = response.content.decode()
    assert response.context["chart"].restarts == 2
    assert "2 restarts" in html
    assert len(re.findall(r"<rect class=\"bar [^\"]*restart", html)) == 2
    assert dict(response.context["phases"])["Training"] == 75 * 60


def test_cloudwatch_link_and_tuning_link(logged_in):
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/hpo-7"
    job = make_job(
        "trial-7", TuningJobArn=arn, TrainingJobArn="arn:aws:sagemaker:eu-west-1:123456789012:training-job/trial-7"
    )
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert (
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/"
        "$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3Dtrial-7"
    ) in html
    assert (
        'href="/?tuning_job=arn%3Aaws%3Asagemaker%3Aeu-west-1%3A123456789012%3Ahyper-parameter-tuning-job%2Fhpo-7"'
        in html
    )
    assert 'href="/tuning/hpo-7/"' in html and ">tuning job hpo-7</a>" in html


def test_configuration_sections(logged_in):
    job = make_job(
        "cfg-1",
        ResourceConfig={
            "InstanceGroups": [
                {"InstanceGroupName": "head", "InstanceType": "ml.p3.2xlarge", "InstanceCount": 1},
                {"InstanceGroupName": "workers", "InstanceType": "ml.c5.xlarge", "InstanceCount": 3},
            ],
            "VolumeSizeInGB": 100,
        },
        EnableNetworkIsolation=True,
        tags={"project": "atlas"},
    )
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    for text in (
        "workers",
        "ml.c5.xlarge",
        "100 GB",
        "s3://bucket/train",
        "s3://bucket/output",
        "epochs",
        "arn:aws:iam::123456789012:role/SageMakerRole",
        "atlas",
        'class="flag on"',
        "<details",
    ):
        assert text in html


def test_untrusted_text_is_escaped_and_keeps_line_breaks(logged_in):
    reason = f"AlgorithmError: boom\nline two {XSS}\n  indented ✓ 日本語"
    transitions = [{"Status": SHORT_XSS, "StartTime": T0, "EndTime": T0 + timedelta(minutes=1), "StatusMessage": XSS}]
    job = make_job(
        "xss-1",
        status="Failed",
        FailureReason=reason,
        HyperParameters={XSS: XSS},
        FinalMetricDataList=[{"MetricName": XSS, "Value": 1.0, "Timestamp": T0}],
        SecondaryStatusTransitions=transitions,
        tags={XSS: XSS},
    )
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert "<script>window.__xss" not in html
    assert "<img src=x" not in html
    block = re.search(r'<div class="failure-reason" id="failure-reason">(.*?)</div>', html, re.S)
    assert block is not None
    assert htmllib.unescape(block.group(1)) == reason
    # Raw JSON is escaped as well.
    assert "&lt;script&gt;" in html.split("<details")[1]


@pytest.mark.parametrize("count", [3, 30])
def test_constant_queries(logged_in, django_assert_num_queries, count):
    transitions = [
        {"Status": "Training", "StartTime": T0 + timedelta(minutes=i), "EndTime": T0 + timedelta(minutes=i + 1)}
        for i in range(count)
    ]
    metrics = [{"MetricName": f"m{i}", "Value": float(i), "Timestamp": T0} for i in range(count)]
    job = make_job(
        "many-1",
        SecondaryStatusTransitions=transitions,
        FinalMetricDataList=metrics,
        tags={f"k{i}": "v" for i in range(count)},
    )
    # session, user, job + source + CloudWatch state, transitions, metrics, prices, series, log tails, alerts
    with django_assert_num_queries(9):
        response = logged_in.get(f"/jobs/{job.pk}/")
    assert len(response.context["chart"].bars) == count


def test_instance_preferences_and_warm_pool_reuse_are_shown_escaped(logged_in):
    job = make_job(
        "pooled-1",
        ResourceConfig={
            "InstancePreferences": [
                {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2},
                {"InstanceType": "ml.p5.48xlarge", "InstanceCount": 1},
            ],
            "SelectedInstanceType": "ml.p5.48xlarge",
            "SelectedInstanceCount": 1,
            "VolumeSizeInGB": 30,
            "KeepAlivePeriodInSeconds": 1800,
        },
        WarmPoolStatus={"Status": "Reused", "ResourceRetainedBillableTimeInSeconds": 600, "ReusedByJob": SHORT_XSS},
    )
    html = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert "ml.p4d.24xlarge \u00d7 2, ml.p5.48xlarge \u00d7 1" in html and "(selected by SageMaker)" in html
    assert "Reused · retained 10 min · reused by" in html
    assert SHORT_XSS not in html
    assert htmllib.escape(SHORT_XSS, quote=False) in html
