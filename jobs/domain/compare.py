"""Side-by-side comparison of jobs: which rows differ, which value is best. Pure, no Django."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# A metric whose name contains one of these reads best when smallest.
LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "mse")


def lower_is_better(name: str) -> bool:
    """Whether a smaller value of the metric ``name`` is the better one (else a larger one is)."""
    lowered = name.lower()
    return any(word in lowered for word in LOWER_IS_BETTER)


def union_keys(mappings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every key of any of the mappings, sorted."""
    return sorted({str(key) for mapping in mappings for key in mapping})


def differs(values: Sequence[Any]) -> bool:
    """Whether the values are not all the same; a missing value (None) differs from any present one."""
    return len({repr(value) for value in values}) > 1


def best_indexes(name: str, values: Sequence[float | None]) -> set[int]:
    """Positions of the best value in ``values`` for metric ``name``; all of them on a tie.

    Missing and non-finite values are never best; nothing is marked when
    fewer than two values are present or all of them are equal, since then
    no job did better.
    """
    present = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if len(present) < 2:
        return set()
    pick = min if lower_is_better(name) else max
    best = pick(v for _, v in present)
    marked = {i for i, v in present if v == best}
    return set() if len(marked) == len(present) else marked
