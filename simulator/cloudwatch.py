"""CloudWatch's GetMetricData and ListMetrics for the account's training jobs.

Request dict in, response dict (wire form: epoch seconds) out, like
``operations.py``; the series themselves come from ``activity.py``. Only
the namespace SageMaker publishes to has data. Errors carry the codes
CloudWatch's query protocol used (``InvalidParameterValue``,
``InvalidNextToken``), which the JSON and CBOR protocols report through
the ``x-amzn-query-error`` header (``server.py``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from . import curves
from .account import Account, ApiError
from .activity import MINUTE, JobActivity
from .operations import _decode_token, _encode_token, parse_time
from .population import DAY, MAX_LIFE

NAMESPACE = "/aws/sagemaker/TrainingJobs"
MAX_QUERIES = 500
MAX_DATAPOINTS = 100_800
LIST_PAGE = 500
_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")
_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d{1,2})?|100)")
_HOST = re.compile(r"(.+)/algo-(\d+)")
BASIC_STATS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

Series = Callable[[float, float], Iterator[tuple[int, float]]]


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterValue", message)


def _missing(name: str) -> ApiError:
    return ApiError("MissingParameter", f"The parameter {name} is required.")


# --- which series a metric names -------------------------------------------------
def _dims(raw: Any, where: str) -> dict[str, str | None]:
    if raw is None:
        return {}
    if not isinstance(raw, list) or len(raw) > 30:
        raise _invalid(f"The parameter {where} must be a list of at most 30 dimensions.")
    out: dict[str, str | None] = {}
    for d in raw:
        if not isinstance(d, dict) or not isinstance(d.get("Name"), str):
            raise _invalid(f"Each of {where} needs a Name.")
        out[d["Name"]] = d.get("Value")
    return out


def _job(acct: Account, name: str | None, t: float) -> tuple[int, JobActivity] | None:
    if not name:
        return None
    i = acct.population.index_of(name, t)
    return None if i is None else (i, acct.activity(i))


def series_for(acct: Account, namespace: str, metric: str, dims: dict[str, str | None], t: float) -> Series | None:
    """The points of one metric, or None when the account has no such metric."""
    if namespace != NAMESPACE:
        return None
    if set(dims) == {"TrainingJobName"}:
        found = _job(acct, dims["TrainingJobName"], t)
        if found is None or metric not in dict(found[1].metrics):
            return None
        act = found[1]
        return lambda lo, hi: act.metric_points(metric, lo, hi)
    if set(dims) == {"Host"} and dims["Host"]:
        m = _HOST.fullmatch(dims["Host"])
        found = _job(acct, m.group(1), t) if m else None
        if found is None or m is None:
            return None
        act, host = found[1], int(m.group(2))
        if not 1 <= host <= len(act.host_types) or metric not in act.host_metrics(host):
            return None
        return lambda lo, hi: act.host_points(host, metric, lo, hi)
    return None


# --- statistics ----------------------------------------------------------------------
def _check_stat(stat: Any) -> str:
    if stat in BASIC_STATS or (isinstance(stat, str) and _PERCENTILE.fullmatch(stat)):
        return stat
    raise _invalid(f"The value {stat} for parameter MetricStat.Stat is not supported by the simulated account.")


def aggregate(values: list[float], stat: str) -> float:
    if stat == "SampleCount":
        return float(len(values))
    # Ten significant digits: a one-sample period reads back the very value that was published.
    if stat == "Sum":
        return float(f"{sum(values):.10g}")
    if stat == "Average":
        return float(f"{sum(values) / len(values):.10g}")
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    ordered = sorted(values)
    rank = math.ceil(float(stat[1:]) / 100 * len(ordered))  # nearest rank
    return ordered[max(0, rank - 1)]


def buckets(points: Iterator[tuple[int, float]], start: float, period: int, stat: str) -> list[tuple[int, float]]:
    """Points (oldest first) folded into periods aligned on ``start``: (period start, statistic)."""
    out: list[tuple[int, float]] = []
    current: int | None = None
    values: list[float] = []
    for ts, v in points:
        b = int(start + (ts - start) // period * period)
        if b != current:
            if values:
                out.append((current, aggregate(values, stat)))  # type: ignore[arg-type]
            current, values = b, []
        values.append(v)
    if values and current is not None:
        out.append((current, aggregate(values, stat)))
    return out


# --- GetMetricData ---------------------------------------------------------------
def _query(q: Any, n: int) -> dict[str, Any]:
    where = f"MetricDataQueries.member.{n}"
    if not isinstance(q, dict):
        raise _invalid(f"{where} must be a structure.")
    qid = q.get("Id")
    if not isinstance(qid, str) or not _ID.fullmatch(qid) or len(qid) > 255:
        raise ApiError(
            "ValidationError",
            f"The value {qid} for parameter {where}.Id is not valid: it must start with a lowercase letter "
            "and contain only letters, numbers and underscores.",
        )
    if "Expression" in q:
        raise _invalid(f"{where}.Expression: metric math is not supported by the simulated account.")
    ms = q.get("MetricStat")
    if not isinstance(ms, dict):
        raise ApiError("ValidationError", f"The parameter {where}.MetricStat is required.\n")
    metric = ms.get("Metric")
    if not isinstance(metric, dict) or not isinstance(metric.get("MetricName"), str):
        raise ApiError("ValidationError", f"The parameter {where}.MetricStat.Metric.MetricName is required.")
    period = ms.get("Period")
    if not isinstance(period, int) or isinstance(period, bool) or period < 1:
        raise _invalid(f"The parameter {where}.MetricStat.Period must be a positive integer.")
    if period not in (1, 5, 10, 30) and period % 60:
        raise _invalid(f"The parameter {where}.MetricStat.Period must be 1, 5, 10, 30, or a multiple of 60.")
    return {
        "id": qid,
        "label": q.get("Label") or metric["MetricName"],
        "return": q.get("ReturnData", True) is not False,
        "namespace": metric.get("Namespace") or "",
        "name": metric["MetricName"],
        "dims": _dims(metric.get("Dimensions"), f"{where}.MetricStat.Metric.Dimensions"),
        "period": period,
        "stat": _check_stat(ms.get("Stat")),
        "unit": ms.get("Unit"),
    }


def _unit_matches(unit: Any, metric: str) -> bool:
    if unit is None:
        return True
    return unit == ("Percent" if metric in curves.INSTANCE_METRICS else "None")


def get_metric_data(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    t = acct.clock.timestamp()
    raw = p.get("MetricDataQueries")
    if not isinstance(raw, list) or not raw:
        raise _missing("MetricDataQueries")
    if len(raw) > MAX_QUERIES:
        raise _invalid(f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
    queries = [_query(q, n) for n, q in enumerate(raw, 1)]
    if len({q["id"] for q in queries}) != len(queries):
        raise _invalid("The values for parameter Id in MetricDataQueries must be unique.")
    for name in ("StartTime", "EndTime"):
        if p.get(name) is None:
            raise _missing(name)
    start, end = parse_time(p["StartTime"]), parse_time(p["EndTime"])
    if start >= end:
        raise _invalid("The parameter StartTime must be less than the parameter EndTime.")
    scan = p.get("ScanBy") or "TimestampDescending"
    if scan not in ("TimestampDescending", "TimestampAscending"):
        raise _invalid(f"The value {scan} for parameter ScanBy is not valid.")
    budget = p.get("MaxDatapoints", MAX_DATAPOINTS)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise _invalid("The parameter MaxDatapoints must be a positive integer.")
    budget = min(budget, MAX_DATAPOINTS)
    # A token belongs to one request: same queries, range, order and budget.
    fingerprint = hashlib.sha1(
        json.dumps([raw, start, end, scan, budget], sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    cursor = _decode_invalid_token(p.get("NextToken"), fingerprint)
    first_q, first_offset = (0, 0) if cursor is None else (int(cursor[0]), int(cursor[1]))

    # Periods start at whole minutes; nothing after the account's now exists yet.
    aligned = math.floor(start / MINUTE) * MINUTE
    hi = min(end, math.floor(t) + 1)
    results: list[dict[str, Any]] = []
    left = budget
    next_key: list[int] | None = None
    for n, q in enumerate(queries):
        result: dict[str, Any] = {"Id": q["id"], "Label": q["label"], "Timestamps": [], "Values": []}
        if n < first_q:
            result["StatusCode"] = "Complete"
        elif next_key is not None:
            result["StatusCode"] = "PartialData"
        else:
            series = series_for(acct, q["namespace"], q["name"], q["dims"], t)
            points: list[tuple[int, float]] = []
            if series is not None and hi > aligned and _unit_matches(q["unit"], q["name"]):
                points = buckets(series(aligned, hi), aligned, q["period"], q["stat"])
            if scan == "TimestampDescending":
                points.reverse()
            offset = first_offset if n == first_q else 0
            page = points[offset : offset + left]
            left -= len(page)
            result["Timestamps"] = [ts for ts, _ in page]
            result["Values"] = [v for _, v in page]
            if offset + len(page) < len(points):
                result["StatusCode"] = "PartialData"
                next_key = [n, offset + len(page)]
            else:
                result["StatusCode"] = "Complete"
                if left == 0 and n + 1 < len(queries):
                    next_key = [n + 1, 0]
        if q["return"]:
            results.append(result)
    out: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
    if next_key is not None:
        out["NextToken"] = _encode_token({"op": "GetMetricData", "f": fingerprint, "k": next_key})
    return out


def _decode_invalid_token(token: Any, fingerprint: str) -> Any:
    if token is None:
        return None
    try:
        return _decode_token(token, {"op": "GetMetricData", "f": fingerprint})
    except ApiError:
        raise ApiError(
            "InvalidNextToken", "The service couldn't process your request because of an invalid token."
        ) from None


# --- ListMetrics ---------------------------------------------------------------------
def _metrics_of(act: JobActivity) -> list[tuple[str, str, str]]:
    """(metric name, dimension name, dimension value) in the order ListMetrics walks them."""
    out = [(name, "TrainingJobName", act.name) for name, _ in act.metrics]
    for n, host in enumerate(act.hosts(), 1):
        out += [(metric, "Host", host) for metric in act.host_metrics(n)]
    return out


def list_metrics(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    t = acct.clock.timestamp()
    namespace = p.get("Namespace")
    metric_name = p.get("MetricName")
    dims = _dims(p.get("Dimensions"), "Dimensions")
    recent = p.get("RecentlyActive")
    if recent not in (None, "PT3H"):
        raise _invalid(f"The value {recent} for parameter RecentlyActive is not valid.")
    cursor = p.get("NextToken")
    try:
        key = _decode_token(cursor, {"op": "ListMetrics"}) if cursor else None
    except ApiError:
        raise ApiError(
            "InvalidNextToken", "The service couldn't process your request because of an invalid token."
        ) from None
    if namespace not in (None, NAMESPACE):
        return {"Metrics": []}
    # Like CloudWatch, only metrics with data in the last two weeks (three hours if RecentlyActive).
    since = t - (3 * 3600 if recent else 14 * DAY)
    pop = acct.population
    count = acct.count(t)
    named = dims.get("TrainingJobName") or (
        (m.group(1) if (m := _HOST.fullmatch(dims["Host"] or "")) else "\0") if dims.get("Host") else None
    )
    if named is not None:
        i = pop.index_of(named, t)
        indices: Iterator[int] | range = iter([] if i is None else [i])
    else:
        indices = range(pop.first_created_after(since - MAX_LIFE), count)
    # The token names the first metric not yet returned.
    start_i, start_pos = (-1, 0) if key is None else (int(key[0]), int(key[1]))
    out: list[dict[str, Any]] = []
    next_key = None
    for i in indices:
        if i < start_i:
            continue
        act = acct.activity(i)
        for pos, (name, dim, value) in enumerate(_metrics_of(act)):
            if i == start_i and pos < start_pos:
                continue
            if metric_name is not None and name != metric_name:
                continue
            if any(k != dim or (v is not None and v != value) for k, v in dims.items()):
                continue
            kind = "algorithm" if dim == "TrainingJobName" else "host"
            first, last = act.first_point(kind), act.last_point(kind)
            if first is None or first > t or last < since:  # type: ignore[operator]
                continue
            if len(out) == LIST_PAGE:
                next_key = [i, pos]
                break
            out.append({"Namespace": NAMESPACE, "MetricName": name, "Dimensions": [{"Name": dim, "Value": value}]})
        if next_key is not None:
            break
    result: dict[str, Any] = {"Metrics": out}
    if next_key is not None:
        result["NextToken"] = _encode_token({"op": "ListMetrics", "k": next_key})
    return result


OPERATIONS: dict[str, Callable[[Account, dict[str, Any]], dict[str, Any]]] = {
    "GetMetricData": get_metric_data,
    "ListMetrics": list_metrics,
}
