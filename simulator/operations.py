"""The SageMaker operations: request dict in, response dict (wire form) out.

Pagination tokens are opaque keysets (the sort key of the last item sent),
so a walk stays exact while new jobs keep arriving at the front.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from .account import Account, ApiError
from .population import MAX_LIFE
from .timeline import TERMINAL

LIST_STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped", "Deleting")
WARM_POOL_STATUSES = ("Available", "Terminated", "Reused", "InUse")


# --- input helpers ---------------------------------------------------------------
def _invalid(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def _member(name: str) -> str:
    return name[0].lower() + name[1:]


def _enum(p: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = p.get(name, default)
    if value is not None and value not in allowed:
        raise _invalid(
            f"1 validation error detected: Value '{value}' at '{_member(name)}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return value


def _int(p: dict[str, Any], name: str, default: int, lo: int, hi: int | None) -> int:
    value = p.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"Value '{value}' at '{_member(name)}' must be an integer")
    if value < lo:
        raise _invalid(
            f"1 validation error detected: Value '{value}' at '{_member(name)}' failed to satisfy "
            f"constraint: Member must have value greater than or equal to {lo}"
        )
    if hi is not None and value > hi:
        raise _invalid(
            f"1 validation error detected: Value '{value}' at '{_member(name)}' failed to satisfy "
            f"constraint: Member must have value less than or equal to {hi}"
        )
    return value


def parse_time(value: Any) -> float:
    """Epoch seconds (what botocore sends) or ISO 8601 (what people type into Search)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid(f"Invalid timestamp: {value!r}") from None
        if dt.tzinfo is None:
            raise _invalid(f"Timestamp needs a time zone: {value!r}")
        return dt.timestamp()
    raise _invalid(f"Invalid timestamp: {value!r}")


def _time(p: dict[str, Any], name: str) -> float | None:
    return parse_time(p[name]) if p.get(name) is not None else None


def _encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _decode_token(token: str | None, expect: dict[str, Any]) -> Any:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise _invalid("Invalid pagination token.") from None
    if not isinstance(data, dict) or any(data.get(k) != v for k, v in expect.items()):
        raise _invalid("The pagination token does not match the request.")
    return data.get("k")


def _page(
    ordered: Iterator[tuple[Any, int]], match: Callable[[int], bool], max_results: int, filter_after_page: bool
) -> tuple[list[int], Any]:
    """Take a page from (key, index) pairs in order; returns (indices, key for NextToken or None)."""
    out: list[int] = []
    if filter_after_page:
        # AWS's quirk: cut the page first, filter second; pages may be empty yet carry a token.
        raw = []
        for item in ordered:
            if len(raw) == max_results:
                return [i for _, i in raw if match(i)], raw[-1][0]
            raw.append(item)
        return [i for _, i in raw if match(i)], None
    last_key = None
    for k, i in ordered:
        if match(i):
            if len(out) == max_results:
                return out, last_key  # one more exists, so a token is truthful
            out.append(i)
            last_key = k
    return out, None


# --- ListTrainingJobs -------------------------------------------------------------
def list_training_jobs(acct: Account, p: dict[str, Any], filter_after_page: bool = False) -> dict[str, Any]:
    t = acct.clock.timestamp()
    max_results = _int(p, "MaxResults", 10, 1, 100)
    sort_by = _enum(p, "SortBy", ("Name", "CreationTime", "Status"), "CreationTime")
    order = _enum(p, "SortOrder", ("Ascending", "Descending"), "Ascending")
    status_eq = _enum(p, "StatusEquals", LIST_STATUSES, None)
    pool_eq = _enum(p, "WarmPoolStatusEquals", WARM_POOL_STATUSES, None)
    name_contains = (p.get("NameContains") or "").lower()
    c_after, c_before = _time(p, "CreationTimeAfter"), _time(p, "CreationTimeBefore")
    m_after, m_before = _time(p, "LastModifiedTimeAfter"), _time(p, "LastModifiedTimeBefore")
    cursor = _decode_token(p.get("NextToken"), {"op": "ListTrainingJobs", "s": sort_by, "d": order})

    pop = acct.population
    count = acct.count(t)
    lo, hi = 0, count
    if not filter_after_page:
        # Creation is monotonic in the index, and a job changes only within MAX_LIFE of creation,
        # so every time filter narrows the index range before any job is looked at.
        if c_after is not None:
            lo = max(lo, pop.first_created_after(c_after))
        if m_after is not None:
            lo = max(lo, pop.first_created_after(m_after - MAX_LIFE))
        if c_before is not None:
            hi = min(hi, pop.count_at(c_before - 0.0005))
        if m_before is not None:
            hi = min(hi, pop.count_at(m_before))

    def match(i: int) -> bool:
        created = pop.creation(i)
        if (c_after is not None and created <= c_after) or (c_before is not None and created >= c_before):
            return False
        if name_contains and name_contains not in pop.name(i).lower():
            return False
        if status_eq is None and pool_eq is None and m_after is None and m_before is None:
            return True
        st = acct.state(i, t)
        return not (
            (status_eq is not None and st.status != status_eq)
            or (pool_eq is not None and st.warm_pool != pool_eq)
            or (m_after is not None and st.last_modified <= m_after)
            or (m_before is not None and st.last_modified >= m_before)
        )

    desc = order == "Descending"
    ordered: Iterator[tuple[Any, int]]
    if sort_by == "CreationTime":
        ordered = _by_creation(lo, hi, cursor, desc=desc)
    else:
        if sort_by == "Name":
            keyed = [(name, i) for name, i in pop.names_sorted(count) if lo <= i < hi]
        else:
            keyed = sorted((acct.state(i, t).status, i) for i in range(lo, hi))
        ordered = _from_cursor(keyed, None if cursor is None else tuple(cursor), desc)

    indices, next_key = _page(ordered, match, max_results, filter_after_page)
    out: dict[str, Any] = {"TrainingJobSummaries": [acct.summary(i, t) for i in indices]}
    if next_key is not None:
        out["NextToken"] = _encode_token({"op": "ListTrainingJobs", "s": sort_by, "d": order, "k": next_key})
    return out


def _from_cursor(keyed: list[tuple[Any, int]], cursor: tuple[Any, ...] | None, desc: bool) -> Iterator[tuple[Any, int]]:
    if desc:
        end = len(keyed) if cursor is None else bisect.bisect_left(keyed, cursor)
        for k in range(end - 1, -1, -1):
            yield list(keyed[k]), keyed[k][1]
    else:
        start = 0 if cursor is None else bisect.bisect_right(keyed, cursor)
        for k in range(start, len(keyed)):
            yield list(keyed[k]), keyed[k][1]


# --- Describe / Stop / ListTags --------------------------------------------------------
def _name(p: dict[str, Any]) -> str:
    name = p.get("TrainingJobName")
    if not isinstance(name, str) or not name:
        raise _invalid(
            "1 validation error detected: Value null at 'trainingJobName' failed to satisfy "
            "constraint: Member must not be null"
        )
    return name


def describe_training_job(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    t = acct.clock.timestamp()
    return acct.describe(acct.lookup(_name(p), t), t)


def stop_training_job(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    t = acct.clock.timestamp()
    acct.stop(acct.lookup(_name(p), t), t)
    return {}


def list_tags(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    t = acct.clock.timestamp()
    arn = p.get("ResourceArn")
    if not isinstance(arn, str):
        raise _invalid(
            "1 validation error detected: Value null at 'resourceArn' failed to satisfy "
            "constraint: Member must not be null"
        )
    max_results = _int(p, "MaxResults", 50, 50, None)
    prefix = acct.renderer.arn("")
    if not arn.startswith(prefix):
        raise ApiError("ValidationException", f"Resource {arn} not found.")
    i = acct.population.index_of(arn[len(prefix) :], t)
    if i is None:
        raise ApiError("ValidationException", f"Resource {arn} not found.")
    tags = acct.renderer.tags(i)
    start = int(_decode_token(p.get("NextToken"), {"op": "ListTags", "arn": arn}) or 0)
    out: dict[str, Any] = {"Tags": tags[start : start + max_results]}
    if start + max_results < len(tags):
        out["NextToken"] = _encode_token({"op": "ListTags", "arn": arn, "k": start + max_results})
    return out


# --- Search ------------------------------------------------------------------------
_CHEAP = {
    "TrainingJobName",
    "TrainingJobArn",
    "TrainingJobStatus",
    "SecondaryStatus",
    "CreationTime",
    "LastModifiedTime",
    "TrainingStartTime",
    "TrainingEndTime",
}
_TIME_PROPS = {"CreationTime", "LastModifiedTime", "TrainingStartTime", "TrainingEndTime"}
_OPERATORS = (
    "Equals",
    "NotEquals",
    "GreaterThan",
    "GreaterThanOrEqualTo",
    "LessThan",
    "LessThanOrEqualTo",
    "Contains",
    "Exists",
    "NotExists",
    "In",
)
_MISSING = object()


class _Record:
    """Lazy view of one job for Search: cheap properties first, the full record only if asked."""

    def __init__(self, acct: Account, i: int, t: float) -> None:
        self.acct, self.i, self.t = acct, i, t
        self._full: dict[str, Any] | None = None

    def full(self) -> dict[str, Any]:
        if self._full is None:
            self._full = self.acct.describe(self.i, self.t)
            self._full["Tags"] = self.acct.renderer.tags(self.i)
        return self._full

    def get(self, prop: str) -> Any:
        if prop in _CHEAP:
            pop, st = self.acct.population, self.acct.state(self.i, self.t)
            value = {
                "TrainingJobName": lambda: pop.name(self.i),
                "TrainingJobArn": lambda: self.acct.renderer.arn(pop.name(self.i)),
                "TrainingJobStatus": lambda: st.status,
                "SecondaryStatus": lambda: st.secondary,
                "CreationTime": lambda: pop.creation(self.i),
                "LastModifiedTime": lambda: st.last_modified,
                "TrainingStartTime": lambda: st.training_start,
                "TrainingEndTime": lambda: st.training_end,
            }[prop]()
            return _MISSING if value is None else value
        head, _, rest = prop.partition(".")
        record = self.full()
        if head == "Tags":
            return next((tag["Value"] for tag in record["Tags"] if tag["Key"] == rest), _MISSING)
        if head == "Metrics":
            return next(
                (m["Value"] for m in record.get("FinalMetricDataList", []) if m["MetricName"] == rest), _MISSING
            )
        value: Any = record
        for part in prop.split("."):
            if not isinstance(value, dict) or part not in value:
                return _MISSING
            value = value[part]
        return value


def _compare(prop: str, actual: Any, op: str, raw: Any) -> bool:
    if op == "Exists":
        return actual is not _MISSING
    if op == "NotExists":
        return actual is _MISSING
    if actual is _MISSING:
        return op == "NotEquals"
    if raw is None:
        raise _invalid(f"Filter on {prop} with operator {op} needs a Value.")
    if op == "In":
        return str(actual) in [v.strip() for v in str(raw).split(",")]
    if op == "Contains":
        return str(raw).lower() in str(actual).lower()
    want: Any = raw
    if prop.split(".")[0] in _TIME_PROPS:
        want = parse_time(raw)
    elif isinstance(actual, (int, float)) and not isinstance(actual, bool):
        try:
            want = float(raw)
        except ValueError:
            raise _invalid(f"Value {raw!r} for {prop} is not a number.") from None
    else:
        actual = str(actual)
        want = str(raw)
    return {
        "Equals": lambda: actual == want,
        "NotEquals": lambda: actual != want,
        "GreaterThan": lambda: actual > want,
        "GreaterThanOrEqualTo": lambda: actual >= want,
        "LessThan": lambda: actual < want,
        "LessThanOrEqualTo": lambda: actual <= want,
    }[op]()


def _check_filter(f: Any) -> tuple[str, str, Any]:
    if not isinstance(f, dict) or not isinstance(f.get("Name"), str):
        raise _invalid("Each filter needs a Name.")
    op = f.get("Operator", "Equals")
    if op not in _OPERATORS:
        raise _invalid(f"Unknown operator {op!r}.")
    return f["Name"], op, f.get("Value")


def _matches(expr: dict[str, Any], rec: _Record) -> bool:
    results: list[bool] = []
    for f in expr.get("Filters") or []:
        name, op, value = _check_filter(f)
        results.append(_compare(name, rec.get(name), op, value))
    for nested in expr.get("NestedFilters") or []:
        # Nested filters address lists of structures, e.g. InputDataConfig.ChannelName.
        base = rec.get(nested.get("NestedPropertyName", ""))
        items = base if isinstance(base, list) else []
        ok = False
        for item in items:
            sub = []
            for f in nested.get("Filters") or []:
                name, op, value = _check_filter(f)
                leaf = name.split(".")[-1]
                sub.append(_compare(leaf, item.get(leaf, _MISSING) if isinstance(item, dict) else _MISSING, op, value))
            if all(sub):
                ok = True
                break
        results.append(ok)
    for sub_expr in expr.get("SubExpressions") or []:
        results.append(_matches(sub_expr, rec))
    if not results:
        return True
    return any(results) if expr.get("Operator", "And") == "Or" else all(results)


def _named_jobs(acct: Account, expr: dict[str, Any], t: float) -> list[int] | None:
    """Indices of the jobs an expression names outright (Or of TrainingJobName Equals/In), else None.

    AWS answers these from an index; without this the simulator would scan every job.
    """
    filters = expr.get("Filters") or []
    if not filters or expr.get("NestedFilters") or expr.get("SubExpressions"):
        return None
    if len(filters) > 1 and expr.get("Operator", "And") != "Or":
        return None
    names: list[str] = []
    for f in filters:
        if not isinstance(f, dict) or f.get("Name") != "TrainingJobName" or not isinstance(f.get("Value"), str):
            return None
        op = f.get("Operator", "Equals")
        if op == "Equals":
            names.append(f["Value"])
        elif op == "In":
            names.extend(v.strip() for v in f["Value"].split(","))
        else:
            return None
    found = (acct.population.index_of(name, t) for name in names)
    return sorted({i for i in found if i is not None})


def _time_bounds(expr: dict[str, Any], lo_hi: list[float], now: float) -> None:
    """Narrow [earliest creation, latest creation] from top-level And filters on time and status."""
    if expr.get("Operator", "And") != "And":
        return
    for f in expr.get("Filters") or []:
        if not isinstance(f, dict) or f.get("Value") is None:
            continue
        name, op = f.get("Name"), f.get("Operator", "Equals")
        if name == "TrainingJobStatus" and op == "Equals" and f["Value"] not in TERMINAL:
            # A job is running only within MAX_LIFE of its creation.
            lo_hi[0] = max(lo_hi[0], now - MAX_LIFE - 1)
            continue
        if name not in ("LastModifiedTime", "CreationTime") or op not in (
            "Equals",
            "GreaterThan",
            "GreaterThanOrEqualTo",
            "LessThan",
            "LessThanOrEqualTo",
        ):
            continue
        v = parse_time(f["Value"])
        if op in ("GreaterThan", "GreaterThanOrEqualTo", "Equals"):
            lo_hi[0] = max(lo_hi[0], v - (MAX_LIFE if name == "LastModifiedTime" else 0) - 1)
        if op in ("LessThan", "LessThanOrEqualTo", "Equals"):
            lo_hi[1] = min(lo_hi[1], v + 1)
    for sub in expr.get("SubExpressions") or []:
        if isinstance(sub, dict):
            _time_bounds(sub, lo_hi, now)


def search(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    t = acct.clock.timestamp()
    resource = p.get("Resource")
    if resource != "TrainingJob":
        raise _invalid(f"The simulated account only supports Resource=TrainingJob, not {resource!r}.")
    max_results = _int(p, "MaxResults", 10, 1, 100)
    sort_by = p.get("SortBy") or "LastModifiedTime"
    order = _enum(p, "SortOrder", ("Ascending", "Descending"), "Descending")
    expr = p.get("SearchExpression") or {}
    if not isinstance(expr, dict):
        raise _invalid("SearchExpression must be a structure.")
    cursor = _decode_token(p.get("NextToken"), {"op": "Search", "s": sort_by, "d": order})

    pop = acct.population
    bounds = [float("-inf"), t]
    _time_bounds(expr, bounds, t)
    lo = pop.first_created_after(bounds[0])
    hi = min(acct.count(t), pop.count_at(bounds[1]))
    named = _named_jobs(acct, expr, t)
    desc = order == "Descending"
    records: dict[int, _Record] = {}

    def record(i: int) -> _Record:
        if i not in records:
            records[i] = _Record(acct, i, t)
        return records[i]

    def match(i: int) -> bool:
        return _matches(expr, record(i))

    ordered: Iterator[tuple[Any, int]]
    if sort_by == "CreationTime" and named is None:
        ordered = _by_creation(lo, hi, cursor, desc=desc)
    else:
        keyed = []
        for i in range(lo, hi) if named is None else named:
            rec = _Record(acct, i, t)  # not kept: a full scan must not hold 100k records
            if _matches(expr, rec):
                v = rec.get(sort_by)
                # Missing values sort as the smallest.
                keyed.append(((0, "") if v is _MISSING else (1, v), i))
        keyed.sort()
        cur = None if cursor is None else ((cursor[0][0], cursor[0][1]), cursor[1])
        ordered = _from_cursor_pairs(keyed, cur, desc)
        match = lambda i: True  # noqa: E731 - keyed holds only matches
    indices, next_key = _page(ordered, match, max_results, False)
    out: dict[str, Any] = {"Results": [{"TrainingJob": record(i).full()} for i in indices]}
    if next_key is not None:
        out["NextToken"] = _encode_token({"op": "Search", "s": sort_by, "d": order, "k": next_key})
    return out


def _from_cursor_pairs(
    keyed: list[tuple[Any, int]], cursor: tuple[Any, int] | None, desc: bool
) -> Iterator[tuple[Any, int]]:
    if desc:
        end = len(keyed) if cursor is None else bisect.bisect_left(keyed, cursor)
        for k in range(end - 1, -1, -1):
            yield [list(keyed[k][0]), keyed[k][1]], keyed[k][1]
    else:
        start = 0 if cursor is None else bisect.bisect_right(keyed, cursor)
        for k in range(start, len(keyed)):
            yield [list(keyed[k][0]), keyed[k][1]], keyed[k][1]


OPERATIONS: dict[str, Callable[[Account, dict[str, Any]], dict[str, Any]]] = {
    "DescribeTrainingJob": describe_training_job,
    "StopTrainingJob": stop_training_job,
    "ListTags": list_tags,
    "Search": search,
}
__all__ = ["OPERATIONS", "TERMINAL", "list_training_jobs", "parse_time"]


def _by_creation(lo: int, hi: int, cursor: Any, *, desc: bool) -> Iterator[tuple[Any, int]]:
    """Jobs in creation order (their index is their creation rank), resuming after ``cursor``."""
    if desc:
        top = hi if cursor is None else min(hi, int(cursor))
        return ((i, i) for i in range(top - 1, lo - 1, -1))
    bottom = lo if cursor is None else max(lo, int(cursor) + 1)
    return ((i, i) for i in range(bottom, hi))
