"""CloudWatch metrics and log events as the sync stores them: pure functions.

Queries for ``GetMetricData`` and how they are packed into calls, what a
response means per series, how new points merge behind a stored cursor,
how points are packed into bytes, and how a log line from a container is
made safe and short. No Django, Celery or boto3 here.
"""

from __future__ import annotations

import math
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

NAMESPACE = "/aws/sagemaker/TrainingJobs"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PERIOD = 60  # SageMaker publishes its metrics at one-minute resolution

# GetMetricData's limits per call.
MAX_QUERIES = 500
MAX_POINTS = 100_800

ALGORITHM = "algorithm"
INSTANCE = "instance"
INSTANCE_METRICS = ("CPUUtilization", "MemoryUtilization", "GPUUtilization", "GPUMemoryUtilization", "DiskUtilization")
GPU_METRICS = frozenset({"GPUUtilization", "GPUMemoryUtilization"})
# Instance families with GPUs (p3, p4d, g5, ...): only they publish GPU metrics,
# so CPU-only jobs are not asked for two series that never exist.
_GPU_FAMILY = re.compile(r"^ml\.(p\d|g\d)")


@dataclass(frozen=True)
class SeriesKey:
    """One series: an algorithm metric of a job (host ""), or an instance metric of one host."""

    job: str
    name: str
    host: str = ""

    @property
    def kind(self) -> str:
        return INSTANCE if self.host else ALGORITHM

    def query(self, query_id: str) -> dict[str, Any]:
        dimension = (
            {"Name": "Host", "Value": self.host} if self.host else {"Name": "TrainingJobName", "Value": self.job}
        )
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": self.name, "Dimensions": [dimension]},
                "Period": PERIOD,
                "Stat": "Average",
            },
            "ReturnData": True,
        }


def defined_metric_names(raw: dict[str, Any]) -> list[str]:
    """Names in the job's ``AlgorithmSpecification.MetricDefinitions``, in order, unique."""
    spec = raw.get("AlgorithmSpecification") if isinstance(raw, dict) else None
    definitions = spec.get("MetricDefinitions") if isinstance(spec, dict) else None
    names: list[str] = []
    for item in definitions if isinstance(definitions, list) else []:
        name = item.get("Name") if isinstance(item, dict) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def hosts(job_name: str, instance_count: int) -> list[str]:
    """The Host dimension of each instance: ``<job>/algo-1`` to ``algo-<n>``."""
    return [f"{job_name}/algo-{n}" for n in range(1, max(instance_count, 1) + 1)]


def instance_metric_names(instance_type: str) -> list[str]:
    gpu = bool(_GPU_FAMILY.match(instance_type or ""))
    return [m for m in INSTANCE_METRICS if gpu or m not in GPU_METRICS]


def series_for_job(
    job_name: str, *, metric_names: Iterable[str], instance_count: int, instance_type: str
) -> list[SeriesKey]:
    keys = [SeriesKey(job_name, name) for name in dict.fromkeys(metric_names)]
    names = instance_metric_names(instance_type)
    keys += [SeriesKey(job_name, name, host) for host in hosts(job_name, instance_count) for name in names]
    return keys


# A SEARCH names its hosts one by one (exact matches: a prefix would also match
# a longer job name's hosts); this many keep the expression within its 2,048
# characters at SageMaker's longest job names.
SEARCH_HOSTS = 16
# Every series a SEARCH returns is labelled "<host> <metric>", so its points map back.
SEARCH_LABEL = "${PROP('Dim.Host')} ${PROP('MetricName')}"


@dataclass(frozen=True)
class HostSearch:
    """The instance metrics of some hosts of one job, in one SEARCH query."""

    job: str
    hosts: tuple[str, ...]
    names: tuple[str, ...]
    host: str = ""  # sorts beside the job's algorithm series in pack_batches
    name: str = ""

    @property
    def weight(self) -> int:
        return len(self.hosts) * len(self.names)

    def series(self) -> list[SeriesKey]:
        return [SeriesKey(self.job, name, host) for host in self.hosts for name in self.names]

    def expression(self) -> str:
        hosts = " OR ".join(f'Host="{host}"' for host in self.hosts)
        names = " OR ".join(f'MetricName="{name}"' for name in self.names)
        return f"SEARCH('{{\"{NAMESPACE}\",Host}} ({hosts}) ({names})', 'Average', {PERIOD})"

    def query(self, query_id: str) -> dict[str, Any]:
        return {"Id": query_id, "Expression": self.expression(), "Label": SEARCH_LABEL, "ReturnData": True}


def host_searches(keys: Iterable[SeriesKey]) -> list[HostSearch]:
    """The instance series among ``keys`` as SEARCH queries: one per job (per SEARCH_HOSTS hosts)."""
    by_job: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for key in keys:
        if key.host:
            hosts, names = by_job.setdefault(key.job, ({}, {}))
            hosts[key.host] = None
            names[key.name] = None
    out = []
    for job, (hosts, names) in by_job.items():
        listed = list(hosts)
        for i in range(0, len(listed), SEARCH_HOSTS):
            out.append(HostSearch(job, tuple(listed[i : i + SEARCH_HOSTS]), tuple(names)))
    return out


Query = SeriesKey | HostSearch


def _weight(key: Query) -> int:
    return key.weight if isinstance(key, HostSearch) else 1


def floor_period(moment: datetime) -> datetime:
    """The start of the period holding ``moment``: AWS aligns its buckets so."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % PERIOD, UTC)


@dataclass(frozen=True)
class Batch:
    """One GetMetricData call: its time range and its queries (Id ``q<i>`` is ``keys[i]``)."""

    start: datetime
    end: datetime
    keys: tuple[Query, ...]

    @property
    def searches(self) -> list[HostSearch]:
        return [key for key in self.keys if isinstance(key, HostSearch)]

    def queries(self) -> list[dict[str, Any]]:
        return [key.query(f"q{i}") for i, key in enumerate(self.keys)]


def periods_between(start: datetime, end: datetime) -> int:
    return max(1, math.ceil((end - start).total_seconds() / PERIOD))


def pack_batches(
    wanted: Sequence[tuple[Query, datetime, datetime]],
    *,
    max_queries: int = MAX_QUERIES,
    max_points: int = MAX_POINTS,
) -> list[Batch]:
    """Pack (series, fetch from, fetch to) into as few calls as the limits allow.

    A call has one time range for all its queries: the earliest start to the
    latest end of its series. Sorted by start, each call takes series while
    (queries x periods of its range) stays within the points budget, so
    series fetched up to a minute ago share calls by the hundreds, and the
    first fetch of a long job takes a call of its own. A SEARCH counts for
    the points of every series it may return.
    """
    ordered = sorted(
        ((floor_period(start), end, key) for key, start, end in wanted),
        key=lambda item: (item[0], item[2].job, item[2].host, item[2].name),
    )
    batches: list[Batch] = []
    keys: list[Query] = []
    series = 0
    lo = hi = None
    for start, end, key in ordered:
        end = max(end, start + timedelta(seconds=PERIOD))
        if lo is not None and hi is not None:
            wider = max(hi, end)
            if len(keys) < max_queries and (series + _weight(key)) * periods_between(lo, wider) <= max_points:
                keys.append(key)
                series += _weight(key)
                hi = wider
                continue
            batches.append(Batch(lo, hi, tuple(keys)))
        # A single series longer than the budget is still asked alone: AWS pages it.
        keys, series, lo, hi = [key], _weight(key), start, end
    if keys and lo is not None and hi is not None:
        batches.append(Batch(lo, hi, tuple(keys)))
    return batches


Point = tuple[float, float]  # (epoch seconds, value)


def parse_results(batch: Batch, results: Iterable[dict[str, Any]]) -> dict[SeriesKey, list[Point]]:
    """Points per series of one call's results, oldest first; unknown Ids and bad values dropped.

    A SEARCH's results share its Id; each is mapped back to its series by its
    "<host> <metric>" label, and a label naming a series the SEARCH did not
    ask for is dropped.
    """
    by_id = {f"q{i}": key for i, key in enumerate(batch.keys)}
    out: dict[SeriesKey, list[Point]] = {}
    for query in batch.keys:
        out.update({key: [] for key in query.series()} if isinstance(query, HostSearch) else {query: []})
    for result in results:
        query = by_id.get(str(result.get("Id", "")))
        if query is None:
            continue
        if isinstance(query, HostSearch):
            host, _, name = str(result.get("Label") or "").rpartition(" ")
            key = SeriesKey(query.job, name, host)
            if host not in query.hosts or name not in query.names:
                continue
        else:
            key = query
        points = {}
        for stamp, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
            if not isinstance(stamp, datetime) or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if math.isfinite(value):
                points[stamp.timestamp()] = float(value)
        out[key] = sorted(points.items())
    return out


def merge_points(stored: list[Point], new: Sequence[Point], cursor: float | None) -> list[Point]:
    """Append what is new behind the cursor (the last stored timestamp).

    The period at the cursor is fetched again and replaces the stored one:
    the current minute's average was partial when first read. Older points
    are never rewritten.
    """
    if cursor is None:
        return sorted(dict(new).items())
    fresh = [p for p in new if p[0] >= cursor]
    if not fresh:
        return stored
    keep = stored[:-1] if stored and stored[-1][0] >= fresh[0][0] else stored
    return keep + [p for p in sorted(dict(fresh).items()) if not keep or p[0] > keep[-1][0]]


def cap_points(points: list[Point], cap: int) -> list[Point]:
    """Over ``cap``, thin the series to half of it, its shape kept: storage per series stays bounded."""
    return lttb(points, cap // 2) if len(points) > cap else points


def pack_points(points: Sequence[Point]) -> bytes:
    """Points as little-endian float64 pairs: 16 bytes a point, read back without parsing."""
    flat = array("d", [x for point in points for x in point])
    if sys.byteorder != "little":
        flat.byteswap()
    return flat.tobytes()


def unpack_points(data: bytes | memoryview | None) -> list[Point]:
    if not data:
        return []
    flat = array("d")
    flat.frombytes(bytes(data))
    if sys.byteorder != "little":
        flat.byteswap()
    return list(zip(flat[0::2], flat[1::2], strict=True))


def lttb(points: Sequence[Point], threshold: int) -> list[Point]:
    """Largest-triangle-three-buckets: ``threshold`` points that keep the curve's shape.

    The first and last points are kept; each bucket between keeps the point
    making the largest triangle with the last kept point and the next
    bucket's average, so peaks and dips survive where averaging would
    flatten them.
    """
    n = len(points)
    if threshold >= n or threshold < 3:
        return list(points) if threshold >= n else list(points[: max(threshold, 0)])
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    out = [points[0]]
    every = (n - 2) / (threshold - 2)
    a = 0
    for i in range(threshold - 2):
        lo = int(i * every) + 1
        hi = int((i + 1) * every) + 1
        nxt_lo, nxt_hi = hi, min(int((i + 2) * every) + 1, n)
        if nxt_lo >= nxt_hi:
            nxt_lo, nxt_hi = n - 1, n
        span = nxt_hi - nxt_lo
        avg_x = sum(xs[nxt_lo:nxt_hi]) / span
        avg_y = sum(ys[nxt_lo:nxt_hi]) / span
        ax, ay = xs[a], ys[a]
        best, best_area = lo, -1.0
        for j in range(lo, hi):
            area = abs((ax - avg_x) * (ys[j] - ay) - (ax - xs[j]) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        out.append(points[best])
        a = best
    out.append(points[-1])
    return out


# Log lines -------------------------------------------------------------------

# CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by BEL or ST) and
# the two-byte escapes: terminal control, not text.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
# Other C0/C1 controls but tab; a lone surrogate (bytes that were not UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]|[\ud800-\udfff]")
LINE_MAX_CHARS = 2000


@dataclass(frozen=True)
class LogLine:
    timestamp_ms: int
    text: str
    length: int  # of the cleaned line before truncation: more than len(text) when cut

    @property
    def truncated(self) -> bool:
        return self.length > len(self.text)


def clean_log_text(message: Any, max_chars: int = LINE_MAX_CHARS) -> tuple[str, int]:
    """A container's log message as plain text: ANSI escapes and controls out, cut to ``max_chars``.

    Returns the text and the cleaned length before the cut. Escaping for
    HTML is the template's job, not this one's.
    """
    text = message if isinstance(message, str) else str(message or "")
    text = _ANSI.sub("", text.rstrip("\r\n"))
    text = _CONTROL.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "", text)
    return text[:max_chars], len(text)


def log_lines(events: Iterable[dict[str, Any]], max_chars: int = LINE_MAX_CHARS) -> list[LogLine]:
    lines = []
    for event in events:
        stamp = event.get("timestamp")
        text, length = clean_log_text(event.get("message", ""), max_chars)
        lines.append(LogLine(stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else 0, text, length))
    return lines


def tail(stored: list[list[Any]], new: Sequence[LogLine], cap: int) -> list[list[Any]]:
    """The last ``cap`` lines, stored as [timestamp ms, text, length] lists (JSON-friendly)."""
    joined = stored + [[line.timestamp_ms, line.text, line.length] for line in new]
    return joined[-cap:] if cap > 0 else []


_TRACEBACK = re.compile(r"^Traceback \(most recent call last\)")
_ERROR = re.compile(r"\b(?:\w*Error|\w*Exception|FATAL|CRITICAL|Killed|OOM)\b")


def error_line(texts: Sequence[str]) -> int | None:
    """Where a failed job's log tail should open: its last traceback, else its last error-looking line."""
    last_error = None
    for i in range(len(texts) - 1, -1, -1):
        if _TRACEBACK.search(texts[i]):
            return i
        if last_error is None and _ERROR.search(texts[i]):
            last_error = i
    return last_error


def host_of_stream(job_name: str, stream: str) -> str:
    """``<job>/algo-2-1700000000`` -> ``algo-2``; a stream named otherwise keeps its own name."""
    rest = stream[len(job_name) + 1 :] if stream.startswith(f"{job_name}/") else stream
    match = re.match(r"^(algo-\d+)(?:-\d+)?$", rest)
    return match.group(1) if match else rest


def _console_escape(text: str) -> str:
    # The console's fragment double-encodes: "/" is $252F.
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def log_stream_url(region: str, stream: str, group: str = LOG_GROUP) -> str:
    """The whole stream in the CloudWatch console."""
    return (
        f"https://console.aws.amazon.com/cloudwatch/home?region={quote(region, safe='')}"
        f"#logsV2:log-groups/log-group/{_console_escape(group)}/log-events/{_console_escape(stream)}"
    )


def append_packed(data: bytes, new: Sequence[Point], cursor: float | None) -> tuple[bytes, int]:
    """``merge_points`` on packed bytes: only the last stored point is read.

    Returns the new bytes and how many points they hold. Appending costs a
    copy of the bytes, not a parse of every point, so a long series grows
    cheaply each cycle.
    """
    data = bytes(data or b"")
    if cursor is None or not data:
        merged = merge_points([], new, None)
        return pack_points(merged), len(merged)
    last = unpack_points(data[-16:])
    tail = merge_points(last, new, cursor)
    out = data[:-16] + pack_points(tail)
    return out, len(out) // 16


DISPLAY_POINTS = 300  # a chart plots 584 px wide: about two pixels a point


def refresh_display(
    display: bytes, packed: bytes | Callable[[], bytes], fresh: Sequence[Point], cursor: float | None
) -> bytes:
    """The downsampled copy the charts draw (packed like the points), kept up to date cheaply.

    New points are appended to it (the partial period at the cursor
    replaced) until it holds twice ``DISPLAY_POINTS``; then it is rebuilt
    from every stored point with ``lttb``, so the whole series is read once
    every few hundred new points, not every cycle.
    """
    merged, count = append_packed(display, fresh, cursor if display else None)
    if count <= 2 * DISPLAY_POINTS:
        return merged
    # A callable: the stored points are read (every chunk joined) only when a rebuild needs them.
    whole = packed() if callable(packed) else packed
    return pack_points(lttb(unpack_points(whole), DISPLAY_POINTS))


def split_by_day(points: Sequence[Point]) -> dict[date, list[Point]]:
    """Points grouped by their UTC day, in order: a series is stored one chunk per day."""
    out: dict[date, list[Point]] = {}
    for point in points:
        out.setdefault(datetime.fromtimestamp(point[0], UTC).date(), []).append(point)
    return out
