"""/costs/: where the money goes, per period and group (jobs.cost_report)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from jobs.budgets import month_to_date
from jobs.cost_report import CHART_HEIGHT, CHART_WIDTH, DEFAULT_GROUP, GROUPS, SORTS, CostQuery, cost_report
from jobs.costs import price_table
from jobs.domain.periods import BY, BadRange
from jobs.filters import check_query

COLUMN_LABELS = {"spend": "spend", "hours": "billable hours", "jobs": "jobs", "share": "share"}


@login_required
@require_GET
def costs(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    try:
        check_query(request.GET)
        query = CostQuery.from_query(request.GET, timezone.localdate(now))
    except (BadRange, ValueError) as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    prices = price_table()
    report = cost_report(query, now, prices)
    jobs_url = reverse("jobs:index")
    for item in report["groups"]:
        item["url"] = f"{jobs_url}?{urlencode(item['link'])}" if item["link"] else ""
    base = {"by": query.by, "from": query.first.isoformat(), "to": query.last.isoformat(), "group": query.group}
    columns = []
    for key in SORTS:
        active = query.sort.lstrip("-") == key
        descending = query.sort == f"-{key}"
        # A click on the current column reverses it; on another, names sort A-Z and figures high to low.
        first_click = key if key == "group" else f"-{key}"
        target = (key if descending else f"-{key}") if active else first_click
        label = query.group_label if key == "group" else COLUMN_LABELS[key]
        url = "?" + urlencode({**base, "sort": target})
        columns.append({"key": key, "label": label, "url": url, "active": active, "descending": descending})
    # No distinct-keys query for the menu: on millions of tag rows it is a full index scan.
    group_choices = [(DEFAULT_GROUP, "tag team")]
    if query.tag_key is not None and query.group != DEFAULT_GROUP:
        group_choices.insert(0, (query.group, f"tag {query.tag_key}"))
    group_choices += [(g, g.replace("_", " ")) for g in GROUPS]
    return render(
        request,
        "jobs/costs.html",
        {
            "report": report,
            "budgets": month_to_date(now, prices),
            "month_start": timezone.localdate(now).replace(day=1),
            "query": query,
            "columns": columns,
            "last_label": report["periods"][-1].label,
            "by_choices": BY,
            "group_choices": group_choices,
            "chart_width": int(CHART_WIDTH),
            "chart_height": int(CHART_HEIGHT),
        },
    )
