"""One page of a filtered job list, shared by the jobs page and the JSON API."""

from __future__ import annotations

from typing import Any

from jobs.filters import JobFilter
from jobs.models import TrainingJob, TrainingJobQuerySet

# Counting every match of a broad filter costs more than the page itself (a
# name search over 1,000,000 jobs counts ten times longer than it pages):
# past this many, the jobs page says "10,000+" and the API "count_capped".
COUNT_CAP = 10_000


def capped_count(flt: JobFilter, cap: int | None = None) -> tuple[int, bool]:
    """(matches up to ``cap``, whether there are more) for ``flt``'s list."""
    cap = COUNT_CAP if cap is None else cap
    matched = flt.index_count(limit=cap + 1)
    if matched is None:
        # Counted without the source join the rows need: with it SQLite read
        # whole rows (the raw JSON included) instead of an index.
        matched = flt.counted()[: cap + 1].count()
    return min(matched, cap), matched > cap


def page_of_jobs(flt: JobFilter, rows: TrainingJobQuerySet, offset: int, limit: int) -> list[Any]:
    """Jobs ``offset`` to ``offset + limit`` of ``flt``'s list, fetched through ``rows``.

    ``rows`` is ``flt.apply(...)`` narrowed to the columns and relations the
    caller reads: model instances, or dicts from values() with "id". Past the
    first page the page's ids come first, skipped over on the sort's index
    alone, then only those rows are fetched: an OFFSET over whole rows read
    every skipped job (page 1,000 took 0.4-1 s at 100,000 jobs on SQLite).
    Two queries past the first page, one on it, whatever ``limit``.
    """
    if not offset:
        return list(rows[:limit])
    ids = list(flt.apply().values_list("pk", flat=True)[offset : offset + limit])
    if not ids:
        return []
    by_pk = {_pk(job): job for job in rows.filter(pk__in=ids).order_by()}
    return [by_pk[pk] for pk in ids if pk in by_pk]


def _pk(row: TrainingJob | dict[str, Any]) -> int:
    return row["id"] if isinstance(row, dict) else row.pk
