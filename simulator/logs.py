"""CloudWatch Logs' DescribeLogStreams and GetLogEvents for the account's training jobs.

One log group, ``/aws/sagemaker/TrainingJobs``; its streams and lines come
from ``logtext.py``. A line exists for a reader once CloudWatch Logs has
ingested it (its ``ingestionTime`` is at or before the account's now), and
a stream once its first line has.

GetLogEvents tokens are positions in the stream, as AWS's are: ``f/<n>``
reads forward from line n, ``b/<n>`` backward from it. A forward read that
finds nothing new hands back the very token it was given.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from typing import Any

from . import logtext
from .account import Account, ApiError

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes AWS counts per event on top of its message
STREAMS_PAGE = 50
_STREAM = re.compile(r"(.+)/algo-(\d+)-(\d+)")
_TOKEN = re.compile(r"([fb])/(\d{1,56})")


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterException", message)


def _group(acct: Account, p: dict[str, Any]) -> None:
    name, ident = p.get("logGroupName"), p.get("logGroupIdentifier")
    if name is not None and ident is not None:
        raise _invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if ident is not None:
        prefix = f"arn:aws:logs:{acct.region}:{acct.account_id}:log-group:"
        name = ident[len(prefix) :] if isinstance(ident, str) and ident.startswith(prefix) else ident
        if isinstance(name, str) and name.endswith(":*"):
            name = name[:-2]
    if name is None:
        raise _invalid("Either logGroupName or logGroupIdentifier is required.")
    if name != LOG_GROUP:
        raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")


def _int(p: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = p.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise _invalid(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            f"Member must have value between {lo} and {hi}"
        )
    return value


def _now_ms(acct: Account) -> int:
    return int(acct.clock.timestamp() * 1000)


# --- streams ------------------------------------------------------------------------
def job_streams(acct: Account, i: int, now_ms: int) -> list[tuple[str, int, int]]:
    """(stream name, host, attempt) of job i's streams that exist at now_ms, in name order."""
    act = acct.activity(i)
    found = []
    for k, (start, _) in enumerate(logtext.attempts(act)):
        if int(start * 1000) > now_ms:  # no line can be ingested before it is written
            break
        for host in range(1, len(act.host_types) + 1):
            events = acct.stream(i, host, k)
            if events and events[0].ingestion <= now_ms:
                found.append((logtext.stream_name(act.name, host, start), host, k))
    found.sort()
    return found


def _sorted_jobs(acct: Account, count: int) -> tuple[list[str], list[int]]:
    """Jobs ordered as their streams sort: by ``name + "/"`` ("a/" sorts after "a-b/")."""
    cache = getattr(acct, "_stream_order", None)
    if cache is None or cache[0] != count:
        pairs = sorted((name + "/", i) for name, i in acct.population.names_sorted(count))
        cache = (count, [k for k, _ in pairs], [i for _, i in pairs])
        acct._stream_order = cache  # type: ignore[attr-defined]
    return cache[1], cache[2]


def _candidates(acct: Account, prefix: str, after: str | None, desc: bool, t: float) -> Iterator[int]:
    """Jobs whose streams can match ``prefix``, in stream order, from the one holding ``after``."""
    if "/" in prefix:
        i = acct.population.index_of(prefix.split("/", 1)[0], t)
        yield from [] if i is None else [i]
        return
    keys, indices = _sorted_jobs(acct, acct.count(t))
    lo, hi = bisect.bisect_left(keys, prefix), len(keys)
    if prefix:
        hi = bisect.bisect_left(keys, prefix + "\U0010ffff")
    if after is not None:
        job_key = after.split("/", 1)[0] + "/"
        if desc:
            hi = min(hi, bisect.bisect_right(keys, job_key))
        else:
            lo = max(lo, bisect.bisect_left(keys, job_key))
    yield from (indices[k] for k in (range(hi - 1, lo - 1, -1) if desc else range(lo, hi)))


def describe_log_streams(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    _group(acct, p)
    t = acct.clock.timestamp()
    now_ms = int(t * 1000)
    prefix = p.get("logStreamNamePrefix") or ""
    order = p.get("orderBy", "LogStreamName")
    if order not in ("LogStreamName", "LastEventTime"):
        raise _invalid(f"1 validation error detected: Value '{order}' at 'orderBy' failed to satisfy constraint")
    if order == "LastEventTime":
        if prefix:
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        raise _invalid("The simulated account lists streams by LogStreamName only.")
    desc = bool(p.get("descending", False))
    limit = _int(p, "limit", STREAMS_PAGE, 1, STREAMS_PAGE)
    after = p.get("nextToken")
    if after is not None and (not isinstance(after, str) or not _STREAM.fullmatch(after)):
        raise _invalid("The specified nextToken is invalid.")
    out: list[dict[str, Any]] = []
    more = False
    for i in _candidates(acct, prefix, after, desc, t):
        streams = job_streams(acct, i, now_ms)
        for name, host, k in reversed(streams) if desc else streams:
            if not name.startswith(prefix) or (after is not None and (name >= after if desc else name <= after)):
                continue
            if len(out) == limit:
                more = True
                break
            out.append(_stream_record(acct, i, name, host, k, now_ms))
        if more:
            break
    result: dict[str, Any] = {"logStreams": out}
    if more:
        result["nextToken"] = out[-1]["logStreamName"]
    return result


def _stream_record(acct: Account, i: int, name: str, host: int, k: int, now_ms: int) -> dict[str, Any]:
    events = acct.stream(i, host, k)
    n = bisect.bisect_right([e.ingestion for e in events], now_ms)
    seen = events[:n]
    return {
        "logStreamName": name,
        "creationTime": seen[0].timestamp,
        "firstEventTimestamp": seen[0].timestamp,
        "lastEventTimestamp": seen[-1].timestamp,
        "lastIngestionTime": seen[-1].ingestion,
        "uploadSequenceToken": f"{49_000_000_000_000_000 + n:056d}",
        "arn": f"arn:aws:logs:{acct.region}:{acct.account_id}:log-group:{LOG_GROUP}:log-stream:{name}",
        "storedBytes": 0,
    }


# --- events -------------------------------------------------------------------------
def _find_stream(acct: Account, name: Any, t: float) -> tuple[int, int, int]:
    missing = ApiError("ResourceNotFoundException", "The specified log stream does not exist.")
    if not isinstance(name, str) or not name:
        raise _invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint")
    m = _STREAM.fullmatch(name)
    if m is None:
        raise missing
    i = acct.population.index_of(m.group(1), t)
    if i is None:
        raise missing
    for stream, host, k in job_streams(acct, i, int(t * 1000)):
        if stream == name:
            return i, host, k
    raise missing


def _size(e: logtext.LogEvent) -> int:
    return len(e.message.encode()) + EVENT_OVERHEAD


def get_log_events(acct: Account, p: dict[str, Any]) -> dict[str, Any]:
    _group(acct, p)
    t = acct.clock.timestamp()
    now_ms = int(t * 1000)
    i, host, k = _find_stream(acct, p.get("logStreamName"), t)
    limit = _int(p, "limit", MAX_EVENTS, 1, MAX_EVENTS)
    token = p.get("nextToken")
    parsed = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if token is not None and parsed is None:
        raise _invalid("The specified nextToken is invalid.")
    events = acct.stream(i, host, k)
    stamps = [e.timestamp for e in events]
    # Only what is ingested by now exists; startTime is inclusive, endTime exclusive.
    visible = bisect.bisect_right([e.ingestion for e in events], now_ms)
    lo = bisect.bisect_left(stamps, p["startTime"]) if p.get("startTime") is not None else 0
    hi = min(visible, bisect.bisect_left(stamps, p["endTime"]) if p.get("endTime") is not None else visible)
    hi = max(hi, lo)

    forward = parsed.group(1) == "f" if parsed else bool(p.get("startFromHead", False))
    at = int(parsed.group(2)) if parsed else lo if forward else hi
    if forward:
        first = max(at, lo)
        last = first
        budget = MAX_BYTES
        while last < min(hi, first + limit) and budget >= _size(events[last]):
            budget -= _size(events[last])
            last += 1
    else:
        last = min(at, hi)
        first = last
        budget = MAX_BYTES
        while first > max(lo, last - limit) and budget >= _size(events[first - 1]):
            budget -= _size(events[first - 1])
            first -= 1
    page = events[first:last] if last > first else []
    fwd, back = f"f/{max(last, first):056d}", f"b/{first:056d}"
    if not page and parsed:
        # Nothing new: AWS hands back the token it was given.
        if forward:
            fwd = token  # type: ignore[assignment]
        else:
            back = token  # type: ignore[assignment]
    return {
        "events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion} for e in page],
        "nextForwardToken": fwd,
        "nextBackwardToken": back,
    }


OPERATIONS: dict[str, Callable[[Account, dict[str, Any]], dict[str, Any]]] = {
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
}
