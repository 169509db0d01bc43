"""Search expressions that fetch many training jobs in one call.

Search(Resource="TrainingJob") returns up to 100 full training-job records
a page, tags included: the fields this product reads from
DescribeTrainingJob, for a fraction of the calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jobs.domain.chunks import chunked

# A SearchExpression holds at most 20 filters.
NAMES_PER_SEARCH = 20


def by_status(status: str) -> dict[str, Any]:
    return {"Filters": [{"Name": "TrainingJobStatus", "Operator": "Equals", "Value": status}]}


def by_names(names: list[str]) -> Iterator[dict[str, Any]]:
    """Expressions matching exactly these jobs, NAMES_PER_SEARCH names each."""
    for group in chunked(names, NAMES_PER_SEARCH):
        yield {
            "Operator": "Or",
            "Filters": [{"Name": "TrainingJobName", "Operator": "Equals", "Value": name} for name in group],
        }


def split_tags(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str] | None]:
    """A Search record as (the DescribeTrainingJob-shaped part, its tags).

    Tags are None when the record does not carry a readable list: unknown,
    so what is stored is kept.
    """
    raw = {k: v for k, v in record.items() if k != "Tags"}
    tags = record.get("Tags")
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        return raw, None
    return raw, {str(t.get("Key", "")): str(t.get("Value", "")) for t in tags}
