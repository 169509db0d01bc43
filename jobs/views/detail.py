"""One job: timeline, failure, metrics, billing, configuration, raw response."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from jobs import cloudwatch_view
from jobs.costs import hourly_rate, job_price
from jobs.domain import timeline, timeline_chart
from jobs.models import InstancePrice, TrainingJob

CONSOLE = "https://console.aws.amazon.com"
TIMELINE_TEMPLATE = "jobs/partials/timeline.html"
CLOUDWATCH_TEMPLATE = "jobs/partials/cloudwatch.html"
ALERTS_SHOWN = 50  # the newest; the rest are in the admin's alert log


def logs_url(region: str, job_name: str) -> str:
    """CloudWatch console, log group /aws/sagemaker/TrainingJobs, streams of this job.

    The console's fragment double-encodes: "/" is $252F, "?" $3F, "=" $3D.
    """
    name = quote(job_name, safe="").replace("%", "$25")
    return (
        f"{CONSOLE}/cloudwatch/home?region={quote(region, safe='')}#logsV2:log-groups/log-group/"
        f"$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3D{name}"
    )


def _arn_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn


def _get_job(job_id: int) -> TrainingJob:
    return get_object_or_404(TrainingJob.objects.select_related("source", "cloudwatch"), pk=job_id)


def _cloudwatch_html(job: TrainingJob, transitions: list, region: str, now: datetime) -> str:
    panel = cloudwatch_view.panel(job, transitions, region=region, now=now)
    ctx = {
        "cw": panel,
        "now": now,
        "refresh_url": reverse("jobs:cloudwatch", args=[job.pk]),
        "refresh": job.is_running,  # a terminal job's panel no longer changes (one final fetch at most)
    }
    return render_to_string(CLOUDWATCH_TEMPLATE, ctx, using="jinja2")


@login_required
@require_GET
def job_cloudwatch(request: HttpRequest, job_id: int) -> HttpResponse:
    """Just the CloudWatch panel, server-rendered: the job page swaps it in while the job runs."""
    job = _get_job(job_id)
    region = job.region or job.source.region or "us-east-1"
    html = _cloudwatch_html(job, list(job.transitions.all()), region, timezone.now())
    response = HttpResponse(html)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _get_job(job_id)
    now = timezone.now()
    transitions = list(job.transitions.all())
    metrics = list(job.metrics.all())
    types = {job.instance_type} | {str(g.get("instance_type", "")) for g in job.instance_groups if isinstance(g, dict)}
    prices = dict(InstancePrice.objects.filter(instance_type__in=types).values_list("instance_type", "hourly_usd"))

    domain_steps = [t.as_domain() for t in transitions]
    chart = timeline_chart.layout(
        domain_steps,
        creation_time=job.creation_time,
        training_start_time=job.training_start_time,
        training_end_time=job.training_end_time,
        max_runtime_seconds=job.max_runtime_seconds,
        running=job.is_running,
        now=now,
    )
    phases = list(timeline.phase_durations(domain_steps, now=now).items())
    # A Jinja2 template (jobs/jinja2/, autoescaped): a lane and a bar per step
    # were the slowest part of the page in the Django template language.
    timeline_html = render_to_string(TIMELINE_TEMPLATE, {"job": job, "chart": chart, "phases": phases}, using="jinja2")
    cost = job_price(job, prices, now=now)
    region = job.region or job.source.region or "us-east-1"
    # Jinja2 too: a log line and a chart coordinate string per row, thousands a page.
    cloudwatch_html = _cloudwatch_html(job, transitions, region, now)
    ctx = {
        "job": job,
        "now": now,
        "chart": chart,
        "phases": phases,
        "timeline_html": mark_safe(timeline_html),
        "cloudwatch_html": mark_safe(cloudwatch_html),
        "metrics": metrics,
        "billable_seconds": job.billable_seconds_now(now),
        "hourly_rate": hourly_rate(job, prices),
        "cost": cost.usd if cost else None,
        "cost_basis": cost.basis if cost else "",
        "logs_url": logs_url(region, job.name),
        "tuning_url": reverse("jobs:tuning", args=[_arn_name(job.tuning_job_arn)])
        if job.tuning_job_arn and _arn_name(job.tuning_job_arn)
        else None,
        "tuning_list_url": reverse("jobs:index") + "?" + urlencode({"tuning_job": job.tuning_job_arn})
        if job.tuning_job_arn
        else None,
        "tuning_name": _arn_name(job.tuning_job_arn),
        "labeling_url": f"{CONSOLE}/sagemaker/home?region={quote(region, safe='')}#/labeling-jobs/"
        f"{quote(_arn_name(job.labeling_job_arn), safe='')}"
        if job.labeling_job_arn
        else None,
        "labeling_name": _arn_name(job.labeling_job_arn),
    }
    # The alerts app's log about this job (one query, deliveries counted in it).
    ctx["alerts"] = list(
        job.alerts.select_related("rule")
        .annotate(
            delivered=Count("deliveries", filter=Q(deliveries__status="sent")),
            channel_count=Count("deliveries"),
        )
        .order_by("-created_at", "-id")[:ALERTS_SHOWN]
    )
    return render(request, "jobs/detail.html", ctx)
