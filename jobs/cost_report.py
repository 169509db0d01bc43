"""Figures for /costs/: spend per period and group over a date range, with waste, spot savings and warm pools.

Billed as every cost in the product (``jobs.spend``), spread over the days
a job ran; priced per hourly rate here. One query for everything (the
``jobs.spend`` union), plus the price table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import F
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from jobs import spend
from jobs.costs import Prices, rate_for
from jobs.domain import statuses
from jobs.domain.periods import BY, DAY, BadRange, Period, parse_day, split, spot_savings, stack
from jobs.filters import MAX_VALUE_LENGTH, tag_param
from jobs.models import TrainingJob

DEFAULT_DAYS = 30
DEFAULT_GROUP = "tag:team"
GROUPS = ("instance_type", "source", "status")  # besides "tag:<key>"
SORTS = ("group", "spend", "hours", "jobs", "share")
DEFAULT_SORT = "-spend"
WASTED = frozenset({statuses.FAILED, statuses.STOPPED})
# Colors of the chart's series; groups past the last one are drawn together as "other".
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
OTHER_COLOR = "#bab0ac"
CHART_WIDTH, CHART_HEIGHT = 800.0, 220.0
AXIS_LABELS = 16


@dataclass(frozen=True)
class CostQuery:
    by: str
    first: date
    last: date
    group: str
    sort: str

    @property
    def tag_key(self) -> str | None:
        return self.group[4:] if self.group.startswith("tag:") else None

    @property
    def group_label(self) -> str:
        return self.tag_key or self.group.replace("_", " ")

    @classmethod
    def from_query(cls, query: Mapping[str, Any], today: date) -> CostQuery:
        """The report a query string asks for; BadRange (a 400) for values it cannot use."""
        by = str(query.get("by", "") or DAY)
        if by not in BY:
            raise BadRange(f"The parameter 'by' must be one of {', '.join(BY)}.")
        raw_from, raw_to = str(query.get("from", "")), str(query.get("to", ""))
        last = parse_day(raw_to, "to") if raw_to else today
        first = parse_day(raw_from, "from") if raw_from else last - timedelta(days=DEFAULT_DAYS - 1)
        group = str(query.get("group", "") or DEFAULT_GROUP)
        if "\x00" in group or len(group) > MAX_VALUE_LENGTH:
            raise BadRange("The parameter 'group' is not a tag key or a column.")
        if group not in GROUPS and not (group.startswith("tag:") and len(group) > 4):
            raise BadRange(f"The parameter 'group' must be tag:<key> or one of {', '.join(GROUPS)}.")
        sort = str(query.get("sort", "") or DEFAULT_SORT)
        if sort.lstrip("-") not in SORTS:
            raise BadRange(f"The parameter 'sort' must be one of {', '.join(SORTS)} (a leading - reverses it).")
        split(first, last, by)  # refuses a reversed or overlong range
        return cls(by, first, last, group, sort)


def _moment(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _jobs_and_group(query: CostQuery) -> tuple[Any, Any]:
    jobs = TrainingJob.objects.all()
    key = query.tag_key
    if key is not None:
        # From the job's own tags (the JobTag rows mirror them): the row is read
        # anyway, where a join to the tag rows hashed every job's tag of that key.
        return jobs, KeyTextTransform(key, "tags")
    return jobs, F("source__name" if query.group == "source" else query.group)


def _link_filter(query: CostQuery, value: Any) -> dict[str, str] | None:
    """The jobs list's filter for one group (JobFilter's parameters), None when it has none."""
    if value is None:
        return None
    key = query.tag_key
    params = {"tag": tag_param(key, value)} if key is not None else {query.group: str(value)}
    return {**params, "created_after": query.first.isoformat(), "created_before": query.last.isoformat()}


def _usd(seconds_per_instance: int, rate: Decimal | None) -> Decimal:
    return Decimal(seconds_per_instance) / Decimal(3600) * rate if rate is not None else Decimal(0)


def cost_report(query: CostQuery, now: datetime, prices: Prices) -> dict[str, Any]:
    """Everything /costs/ shows, as plain data (money as Decimal, unrounded)."""
    periods: list[Period] = split(query.first, query.last, query.by)
    moments = [_moment(p.first) for p in periods] + [_moment(periods[-1].stop)]
    start, end = moments[0], moments[-1]
    columns = [(spend.BILLED, m) for m in moments]
    columns += [(spend.RETAINED, start), (spend.RETAINED, end), (spend.SPAN, start), (spend.SPAN, end)]
    jobs, group = _jobs_and_group(query)
    rows = spend.billed_since(jobs, columns, now, until=min(end, now), group=group)

    n = len(periods)
    groups: dict[Any, dict[str, Any]] = {}
    waste = savings = retained_usd = Decimal(0)
    retained_seconds = unpriced_seconds = 0
    for row in rows:
        rate = rate_for(row.instance_type, row.instance_count, row.instance_groups, prices)
        every = max(row.instance_count, 1)
        billed = [row.sums[i] - row.sums[i + 1] for i in range(n)]
        t_start, t_end, o_start, o_end = row.sums[n + 1 :]
        total = sum(billed)
        if not total and not row.jobs:
            continue
        item = groups.setdefault(
            row.group, {"value": row.group, "usd": Decimal(0), "seconds": 0, "jobs": 0, "per_period": [Decimal(0)] * n}
        )
        item["jobs"] += row.jobs
        item["seconds"] += total * every
        if rate is None:
            unpriced_seconds += total * every
        for i, seconds in enumerate(billed):
            item["per_period"][i] += _usd(seconds, rate)
        usd = _usd(total, rate)
        item["usd"] += usd
        if row.status in WASTED:
            waste += usd
        retained = t_start - t_end
        retained_seconds += retained * every
        retained_usd += _usd(retained, rate)
        if row.is_spot:
            savings += spot_savings(o_start - o_end, total - retained, rate) or Decimal(0)

    total_usd = sum((g["usd"] for g in groups.values()), Decimal(0))
    for item in groups.values():
        item["hours"] = item["seconds"] / 3600
        item["share"] = float(item["usd"] / total_usd * 100) if total_usd else 0.0
        value = item["value"]
        item["label"] = f"(no {query.group_label})" if value is None else value or f"(empty {query.group_label})"
        item["link"] = _link_filter(query, item["value"])
    # Colors by spend, biggest first, so the same data always colors alike.
    by_spend = sorted(groups.values(), key=lambda g: (-g["usd"], str(g["label"])))
    legend = []
    series: list[list[Decimal]] = []
    for i, item in enumerate(by_spend):
        if i < len(PALETTE):
            item["color"] = PALETTE[i]
            legend.append({"label": item["label"], "color": PALETTE[i]})
            series.append(list(item["per_period"]))
        else:
            item["color"] = OTHER_COLOR
            if len(legend) == len(PALETTE):
                legend.append({"label": "other", "color": OTHER_COLOR})
                series.append([Decimal(0)] * n)
            series[-1] = [a + b for a, b in zip(series[-1], item["per_period"], strict=True)]
    bars = stack(series, periods, width=CHART_WIDTH, height=CHART_HEIGHT)
    chart = [
        {
            "x": b.x,
            "y": b.y,
            "width": b.width,
            "height": b.height,
            "color": legend[b.series]["color"],
            "title": f"{legend[b.series]['label']}, {b.label.isoformat()}: ${b.value:.2f}",
        }
        for b in bars
    ]
    return {
        "query": query,
        "periods": periods,
        # Under each bar when they fit, else the first and the last.
        "axis_labels": [p.label for p in periods] if n <= AXIS_LABELS else [],
        "chart_top": max((sum((s[i] for s in series), Decimal(0)) for i in range(n)), default=Decimal(0)),
        "period_totals": [sum((s[i] for s in series), Decimal(0)) for i in range(n)],
        "groups": _sorted(list(groups.values()), query.sort),
        "legend": legend,
        "chart": chart,
        "total_usd": total_usd,
        "total_seconds": sum(g["seconds"] for g in groups.values()),
        "total_jobs": sum(g["jobs"] for g in groups.values()),
        "unpriced_seconds": unpriced_seconds,
        "waste_usd": waste,
        "spot_savings_usd": savings,
        "warm_pool_seconds": retained_seconds,
        "warm_pool_usd": retained_usd,
        "since": start,
        "until": end,
    }


def _sorted(groups: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    key = sort.lstrip("-")
    field = {"spend": "usd", "share": "usd", "hours": "seconds", "jobs": "jobs"}.get(key)
    if field is None:
        ordered = sorted(groups, key=lambda g: str(g["label"]).lower())
    else:
        ordered = sorted(groups, key=lambda g: (g[field], str(g["label"])))
    return ordered[::-1] if sort.startswith("-") else ordered
