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
        return _search_query(q, qid, where)
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


# --- SEARCH expressions ------------------------------------------------------------
# The subset the simulated account evaluates: an optional schema {namespace,
# dimension names}, then terms Name="exact" / Name=partial / "exact" / word,
# joined by AND (or nothing), OR, NOT and parentheses; statistic; period.
_SEARCH = re.compile(r"\s*SEARCH\(\s*'(.*)'\s*,\s*'([^']+)'\s*(?:,\s*(\d+)\s*)?\)\s*", re.DOTALL)
_TOKEN = re.compile(r'\s*(?:(\()|(\))|([A-Za-z][\w.]*)\s*([=:])\s*(?:"([^"]*)"|([^\s()"]+))|"([^"]*)"|([^\s()"]+))')
MAX_SEARCH_SERIES = 500
Metric = tuple[str, dict[str, str]]  # (metric name, dimensions)
Match = Callable[[Metric], bool]


def _search_query(q: dict[str, Any], qid: str, where: str) -> dict[str, Any]:
    expression = q.get("Expression")
    if not isinstance(expression, str) or not 1 <= len(expression) <= 2048:
        raise _invalid(f"The parameter {where}.Expression must be 1 to 2048 characters.")
    m = _SEARCH.fullmatch(expression)
    if m is None:
        raise _invalid(f"{where}.Expression: only SEARCH() is supported by the simulated account.")
    body, stat, period = m.group(1), _check_stat(m.group(2)), int(m.group(3) or 300)
    if period not in (1, 5, 10, 30) and period % 60:
        raise _invalid(f"{where}.Expression: the period must be 1, 5, 10, 30, or a multiple of 60.")
    schema: tuple[str, frozenset[str]] | None = None
    body = body.strip()
    if body.startswith("{"):
        close = body.find("}")
        if close < 0:
            raise _invalid(f"{where}.Expression: unclosed metric schema.")
        parts = [part.strip().strip('"') for part in body[1:close].split(",")]
        schema, body = (parts[0], frozenset(parts[1:])), body[close + 1 :]
    match, exact = _parse_terms(body, where)
    return {
        "id": qid,
        "search": (schema, match, exact),
        "label": q.get("Label"),
        "return": q.get("ReturnData", True) is not False,
        "period": period,
        "stat": stat,
        "unit": None,
    }


def _parse_terms(body: str, where: str) -> tuple[Match, list[tuple[str, str]]]:
    """A predicate over (metric, dimensions), and the exact Name="value" terms seen."""
    tokens: list[tuple[str, ...]] = []
    pos, body = 0, body.rstrip()
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None or m.end() == pos:
            raise _invalid(f"{where}.Expression: cannot read the search term at {body[pos : pos + 20]!r}.")
        pos = m.end()
        if m.group(1) or m.group(2):
            tokens.append((m.group(1) or m.group(2),))
        elif m.group(3):
            quoted = m.group(5) is not None
            tokens.append(("prop", m.group(3), m.group(5) if quoted else m.group(6), "exact" if quoted else "part"))
        else:
            word = m.group(7) if m.group(7) is not None else m.group(8)
            if m.group(7) is None and word in ("AND", "OR", "NOT"):
                tokens.append((word,))
            else:
                tokens.append(("word", word, "exact" if m.group(7) is not None else "part"))
    exact = [(t[1], t[2]) for t in tokens if t[0] == "prop" and t[3] == "exact"]
    at = 0

    def peek() -> str:
        return tokens[at][0] if at < len(tokens) else ""

    def disjunction() -> Match:
        nonlocal at
        parts = [conjunction()]
        while peek() == "OR":
            at += 1
            parts.append(conjunction())
        return lambda metric: any(part(metric) for part in parts)

    def conjunction() -> Match:
        nonlocal at
        parts = [unary()]
        while peek() not in ("", ")", "OR"):
            if peek() == "AND":
                at += 1
            parts.append(unary())
        return lambda metric: all(part(metric) for part in parts)

    def unary() -> Match:
        nonlocal at
        if at >= len(tokens):
            raise _invalid(f"{where}.Expression: a search term is missing.")
        token = tokens[at]
        at += 1
        if token[0] == "NOT":
            inner = unary()
            return lambda metric: not inner(metric)
        if token[0] == "(":
            inner = disjunction()
            if peek() != ")":
                raise _invalid(f"{where}.Expression: unbalanced parentheses.")
            at += 1
            return inner
        if token[0] == "prop":
            return _property_term(token[1], token[2], token[3] == "exact")
        if token[0] == "word":
            return _word_term(token[1], token[2] == "exact")
        raise _invalid(f"{where}.Expression: unexpected {token[0]!r}.")

    match = disjunction() if tokens else (lambda metric: True)
    if at != len(tokens):
        raise _invalid(f"{where}.Expression: unbalanced parentheses.")
    return match, exact


def _tokens(text: str) -> list[str]:
    # CloudWatch splits on punctuation and camel case: "CPUUtilization" is "cpu", "utilization".
    return [t.lower() for t in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", text)]


def _text_matches(value: str, term: str, exact: bool) -> bool:
    if exact:
        return value == term
    # A partial term matches when its tokens run in order within the value's tokens.
    have, want = _tokens(value), _tokens(term)
    return bool(want) and any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))


def _property_term(name: str, value: str, exact: bool) -> Match:
    if name == "MetricName":
        return lambda metric: _text_matches(metric[0], value, exact)
    if name == "Namespace":
        return lambda metric: _text_matches(NAMESPACE, value, exact)
    return lambda metric: name in metric[1] and _text_matches(metric[1][name], value, exact)


def _word_term(value: str, exact: bool) -> Match:
    return lambda metric: any(_text_matches(v, value, exact) for v in (metric[0], *metric[1].values()))


def _expand_search(acct: Account, q: dict[str, Any], t: float) -> list[dict[str, Any]]:
    """One concrete query per series the SEARCH finds, each under the SEARCH's Id."""
    schema, match, exact = q["search"]
    if schema is not None and schema[0] != NAMESPACE:
        return []
    # The account holds a million jobs: a SEARCH must name its jobs exactly, by host or job name.
    names = [m.group(1) for k, v in exact if k == "Host" and (m := _HOST.fullmatch(v))]
    names += [v for k, v in exact if k == "TrainingJobName"]
    if not names:
        raise _invalid(
            'The simulated account evaluates a SEARCH only with exact Host="..." or TrainingJobName="..." terms.'
        )
    out: list[dict[str, Any]] = []
    for job_name in dict.fromkeys(names):
        found = _job(acct, job_name, t)
        if found is None:
            continue
        for metric, dim, value in _metrics_of(found[1]):
            dims = {dim: value}
            if schema is not None and frozenset(dims) != schema[1]:
                continue
            if not match((metric, dims)):
                continue
            label = (q["label"] or "${PROP('Dim." + dim + "')} ${PROP('MetricName')}").replace(
                "${PROP('MetricName')}", metric
            )
            label = label.replace(f"${{PROP('Dim.{dim}')}}", value).replace("${PROP('Namespace')}", NAMESPACE)
            out.append({**q, "label": label, "namespace": NAMESPACE, "name": metric, "dims": dims})
            if len(out) == MAX_SEARCH_SERIES:
                return out
    return out


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
    queries = [sub for q in queries for sub in (_expand_search(acct, q, t) if "search" in q else [q])]
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
