"""The jobs list's filters and sorts, shared by the page and the JSON API.

Parsed from the query string so a filtered view is a shareable URL. Every
filter and sort is backed by an index (see TrainingJob.Meta.indexes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, time
from typing import Any

from django.db import connection
from django.db.models import Exists, F, Func, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from jobs.domain import statuses
from jobs.models import FinalMetric, JobTag, Source, TrainingJob, TrainingJobQuerySet

SORTS = {
    "created": "creation_time",
    "name": "name",
    "status": "status",
    "billable": "billable_seconds",
    "instance": "instance_type",
    "start": "training_start_time",
    "end": "training_end_time",
}
DEFAULT_SORT = "-created"
# Longer than any value a filter can match (tag values, ARNs: 256; names: 63);
# q is a LIKE pattern, and SQLite refuses patterns past 50,000 bytes.
MAX_VALUE_LENGTH = 1024
MAX_Q_LENGTH = 200


class BadFilter(ValueError):
    """A query string the jobs list refuses; the page and the API answer 400 with this message."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def check_query(query: Mapping[str, Any]) -> None:
    """Refuse a query string that no filter could use, whatever the parameter.

    A NUL cannot be sent to PostgreSQL at all (its text type has no room for
    it), so it is refused here, for every parameter, before any query runs.
    """
    items = query.lists() if hasattr(query, "lists") else ((k, [v]) for k, v in query.items())
    for key, values in items:
        if "\x00" in key or any("\x00" in value for value in values):
            raise BadFilter(key.replace("\x00", ""), f"The parameter {key!r} contains a NUL character.")


@dataclass(frozen=True)
class JobFilter:
    status: str = ""
    secondary_status: str = ""
    instance_type: str = ""
    source: str = ""
    tuning_job: str = ""
    tag: str = ""  # "key=value", or "key" for any value; "\=" is an "=" inside the key (see tag_param)
    created_after: str = ""
    created_before: str = ""
    q: str = ""  # name contains
    name: str = ""  # exact name
    metric: str = ""  # a metric name to show as a column (and sort on with sort=metric)
    sort: str = DEFAULT_SORT

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> JobFilter:
        """The filter of a query string; BadFilter for one no filter can use (see check_query)."""
        check_query(query)
        values = {f.name: str(query.get(f.name, "")).strip() for f in fields(cls)}
        for name, value in values.items():
            limit = MAX_Q_LENGTH if name == "q" else MAX_VALUE_LENGTH
            if len(value) > limit:
                raise BadFilter(name, f"The parameter {name!r} is longer than {limit} characters.")
        if not values["sort"]:
            values["sort"] = DEFAULT_SORT
        # "completed" means Completed: a status in another case matches no stored job.
        known = {status.lower(): status for status in statuses.TRAINING_JOB_STATUSES}
        values["status"] = known.get(values["status"].lower(), values["status"])
        return cls(**values)

    def unknown_values(self) -> list[str]:
        """Notices for filter values that no job has and that are not known values, for an empty list.

        Statuses are stored as AWS sends them, including ones added after this
        code: a value outside the known lists is only reported when no job has it.
        """
        notices = []
        for name, label, known in (
            ("status", "status", statuses.TRAINING_JOB_STATUSES),
            ("secondary_status", "phase", statuses.SECONDARY_STATUSES),
        ):
            value = getattr(self, name)
            if value and value not in known and not TrainingJob.objects.filter(**{name: value}).exists():
                notices.append(f"No job has {label} {value!r}; known: {', '.join(known)}.")
        if self.source and not Source.objects.filter(name=self.source).exists():
            names = list(Source.objects.order_by("name").values_list("name", flat=True)[:20])
            notices.append(f"No source is named {self.source!r}; sources: {', '.join(names) or 'none'}.")
        if self.metric and not FinalMetric.objects.filter(name=self.metric).exists():
            notices.append(f"No job has a final metric named {self.metric!r}.")
        return notices

    @property
    def active(self) -> dict[str, str]:
        """The non-default parameters, for links that keep the filter state."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def index_count(self, *, limit: int | None = None) -> int | None:
        """The number of matches counted on one child table's index, when that is exact; None otherwise.

        A list narrowed by a tag alone has one JobTag row per match (unique job
        and key), so count those on the (key, value) index: the EXISTS probe per
        job grew with the table. Likewise a list sorted by a metric
        and filtered by nothing else has one FinalMetric row per match (unique
        job and name), counted on the (name, value) index; the join probed every
        job by id.
        """
        narrowing = {k for k in self.active if k not in {"sort", "metric"}}
        if self.sort_key == "metric" and self.metric:
            if narrowing:
                return None
            rows = FinalMetric.objects.filter(name=self.metric)
        elif narrowing == {"tag"}:
            key, has_value, value = split_tag(self.tag)
            rows = JobTag.objects.filter(key=key, **({"value": value} if has_value else {}))
        else:
            return None
        rows = rows.order_by()
        return (rows[:limit] if limit is not None else rows).count()

    def counted(self) -> TrainingJobQuerySet:
        """The list's rows, unordered, in the form that is cheapest to count.

        The same rows as ``apply()``. A tag is matched as "id IN (its jobs'
        ids)" here rather than EXISTS: EXISTS suits the page (the newest-first
        walk stops after one page) but a count runs it for every candidate,
        e.g. every failed job probed one by one for a tag; the id list is read once from the tag index.
        """
        return self.apply(for_count=True).order_by()

    def apply(self, qs: TrainingJobQuerySet | None = None, *, for_count: bool = False) -> TrainingJobQuerySet:
        qs = qs if qs is not None else TrainingJob.objects.all()
        if self.status:
            qs = qs.filter(status=self.status)
        if self.secondary_status:
            qs = qs.filter(secondary_status=self.secondary_status)
        if self.instance_type:
            qs = qs.filter(instance_type=self.instance_type)
        if self.source:
            qs = qs.filter(source__name=self.source)
        if self.tuning_job:
            qs = qs.filter(tuning_job_arn=self.tuning_job)
        if self.tag and for_count:
            key, has_value, value = split_tag(self.tag)
            tagged = JobTag.objects.filter(key=key, **({"value": value} if has_value else {}))
            qs = qs.alias(tagged_id=_NotIndexed("pk")).filter(tagged_id__in=tagged.values("job_id"))
        elif self.tag:
            key, has_value, value = split_tag(self.tag)
            tagged = JobTag.objects.filter(job=OuterRef("pk"), key=key)
            # EXISTS, not a join: the newest-first index walk stops after one
            # page of matches, each checked on (job, key); a join made SQLite
            # fetch every tagged job (16,000 of 100,000 for a team) and sort.
            qs = qs.filter(Exists(tagged.filter(value=value) if has_value else tagged))
        after = _parse_moment(self.created_after, end_of_day=False)
        if after:
            qs = qs.filter(creation_time__gte=after)
        before = _parse_moment(self.created_before, end_of_day=True)
        if before:
            qs = qs.filter(creation_time__lte=before)
        if self.name:
            qs = qs.filter(name=self.name)
        if self.q:
            qs = qs.filter(name__icontains=self.q)
        return self._order(qs)

    def _order(self, qs: TrainingJobQuerySet) -> TrainingJobQuerySet:
        key = self.sort_key
        if key == "metric" and self.metric:
            # Start from the (name, value) index: jobs without the metric drop out.
            qs = qs.filter(metrics__name=self.metric).annotate(metric_value=F("metrics__value"))
            value = F("metric_value").desc() if self.descending else F("metric_value").asc()
            return qs.order_by(value, "-pk")
        column = SORTS.get(key, "creation_time")
        if TrainingJob._meta.get_field(column).null:
            expression = F(column).desc(nulls_last=True) if self.descending else F(column).asc(nulls_last=True)
        else:
            # No NULLS LAST on a NOT NULL column: PostgreSQL matches it against
            # the index's own null order and, for "-created" on a DESC index,
            # sorted all 100,000 rows instead of reading the first 50.
            expression = F(column).desc() if self.descending else F(column).asc()
        return qs.order_by(expression, "-pk")


# An id as the rows endpoint accepts it: ASCII digits, no longer than the largest id.
_ID = re.compile(r"[0-9]{1,19}")
# The first "=" that no backslash escapes. AWS tag keys cannot hold a
# backslash, so "\=" is free to stand for an "=" inside a key.
_TAG_SEPARATOR = re.compile(r"(?<!\\)=")


def split_tag(tag: str) -> tuple[str, bool, str]:
    """A tag filter as (key, has_value, value), like str.partition: "key=value", or "key" for any value.

    A key containing "=" is written with "\\=" (``tag_param`` does it); the
    value is everything after the separator, "=" included.
    """
    match = _TAG_SEPARATOR.search(tag)
    key, value = (tag[: match.start()], tag[match.end() :]) if match else (tag, "")
    return key.replace("\\=", "="), match is not None, value


def tag_param(key: str, value: str) -> str:
    """The tag filter matching one key and value (the inverse of split_tag)."""
    return key.replace("=", "\\=") + "=" + value


def parse_ids(raw: str, *, limit: int) -> list[int]:
    """Comma-separated job ids, the first ``limit``; parts that are not an id a row could have are skipped.

    Plain ASCII digits only ("²" is a digit to str.isdigit but not to int),
    and within the id column's range: a larger number overflows the
    database's integer before it can match nothing.
    """
    _low, high = connection.ops.integer_field_range(TrainingJob._meta.pk.get_internal_type())
    high = high if high is not None else 2**63 - 1
    ids = []
    for part in raw.split(","):
        part = part.strip()
        if _ID.fullmatch(part) and 0 < int(part) <= high:
            ids.append(int(part))
            if len(ids) == limit:
                break
    return ids


class _NotIndexed(Func):
    """A column that SQLite must not look rows up by: ``+id`` (the unary plus is SQLite's own idiom).

    For "id IN (a list)" SQLite otherwise fetches each listed job's row by
    id, kilobytes of raw JSON each, to test the other filters, instead of
    walking those filters' index and testing each id against the list.
    Elsewhere the column as it is.
    """

    template = "%(expressions)s"
    arity = 1

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="+%(expressions)s", **extra)


def _parse_moment(raw: str, *, end_of_day: bool) -> datetime | None:
    """A date (whole day) or an ISO datetime; anything else is ignored."""
    if not raw:
        return None
    # Dates first: parse_datetime (fromisoformat on Python 3.11+) reads a bare
    # date as midnight, which would cut created_before's day off.
    try:
        day = parse_date(raw)
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        return None
    if day is not None:
        moment = datetime.combine(day, time.max if end_of_day else time.min)
    else:
        try:
            moment = parse_datetime(raw)
        except ValueError:
            return None
        if moment is None:
            return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment
