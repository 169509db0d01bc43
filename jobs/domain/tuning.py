"""A hyperparameter tuning job seen through its trials: objective, best trial, scatter plots. Pure, no Django.

The objective's name and direction come from DescribeHyperParameterTuningJob
when it was read (``objective_of``); otherwise the page picks them from the
trials' final metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobs.domain import compare
from jobs.domain.charts import nice_step

TUNING_ARN_MARK = ":hyper-parameter-tuning-job/"

WIDTH = 280
HEIGHT = 180
LEFT = 48
RIGHT = 8
TOP = 8
BOTTOM = 28


def arn_suffix(name: str) -> str:
    """The end of every TuningJobArn of the tuning job ``name``, whatever its region and account."""
    return f"{TUNING_ARN_MARK}{name}"


def name_of(arn: str) -> str:
    """The tuning job's name in its ARN (the part after the last "/")."""
    return arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class TuningDescription:
    status: str
    objective_metric: str
    objective_type: str  # "Minimize", "Maximize" or ""
    strategy: str
    max_training_jobs: int | None


def parse_description(raw: Mapping[str, Any]) -> TuningDescription:
    """What the page uses of a DescribeHyperParameterTuningJob response; missing parts are empty."""
    config = raw.get("HyperParameterTuningJobConfig")
    config = config if isinstance(config, Mapping) else {}
    objective = config.get("HyperParameterTuningJobObjective")
    objective = objective if isinstance(objective, Mapping) else {}
    limits = config.get("ResourceLimits")
    limits = limits if isinstance(limits, Mapping) else {}
    kind = str(objective.get("Type") or "")
    most = limits.get("MaxNumberOfTrainingJobs")
    return TuningDescription(
        status=str(raw.get("HyperParameterTuningJobStatus") or "")[:32],
        objective_metric=str(objective.get("MetricName") or "")[:256],
        objective_type=kind if kind in ("Minimize", "Maximize") else "",
        strategy=str(config.get("Strategy") or "")[:32],
        max_training_jobs=most if isinstance(most, int) and not isinstance(most, bool) and most >= 0 else None,
    )


def as_number(value: Any) -> float | None:
    """The value as a finite float, or None when it does not parse as one (categorical, NaN, inf)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def numeric_keys(params: Sequence[Mapping[str, Any]]) -> list[str]:
    """The hyperparameters every trial that sets them sets to a number, sorted.

    A key with one non-numeric value is categorical and cannot go on an axis.
    """
    keys = compare.union_keys(params)
    return [
        key
        for key in keys
        if all(as_number(p[key]) is not None for p in params if key in p and p[key] is not None)
        and any(as_number(p.get(key)) is not None for p in params)
    ]


# SageMaker's SDK passes the tuning job's objective to each trial as this hyperparameter.
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"


def default_objective(metric_names: Sequence[str], params: Sequence[Mapping[str, Any]] = ()) -> str:
    """The metric to rank trials by when none is chosen: the one the trials' ``_tuning_objective_metric``
    names when they report it, else the first read as a loss or error (a direction the name states),
    else the first name; "" without metrics."""
    names = sorted(set(metric_names))
    named = {str(p.get(OBJECTIVE_HYPERPARAMETER, "")).strip('"') for p in params} - {""}
    if len(named) == 1 and (objective := named.pop()) in names:
        return objective
    for name in names:
        if compare.lower_is_better(name):
            return name
    return names[0] if names else ""


def minimizes(objective: str, direction: str) -> bool:
    """Whether smaller is better: ``direction`` ("min" or "max") when given, else inferred from the name."""
    if direction in ("min", "max"):
        return direction == "min"
    return compare.lower_is_better(objective)


def best_index(values: Sequence[float | None], *, minimize: bool) -> int | None:
    """Position of the best finite value (the first on a tie), None when there is none."""
    present = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not present:
        return None
    pick = min if minimize else max
    best = pick(v for v, _ in present)
    return next(i for v, i in present if v == best)


def sort_positions(values: Sequence[float | None], *, descending: bool) -> list[int]:
    """Positions of ``values`` sorted by value, trials without one last (in their original order)."""
    present = sorted(
        ((v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)),
        key=lambda pair: pair[0],
        reverse=descending,
    )
    kept = {i for _, i in present}
    return [i for _, i in present] + [i for i in range(len(values)) if i not in kept]


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str
    best: bool = False


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Scatter:
    """The objective (y) against one hyperparameter (x), in SVG user units."""

    title: str
    dots: list[Dot]
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM


def _fmt(value: float, step: float) -> str:
    if abs(value) >= 1e5 or (value and abs(value) < 1e-3):
        return f"{value:.2g}"
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{digits}f}"


def _axis(values: Sequence[float]) -> tuple[float, float, float]:
    low, high = min(values), max(values)
    if high <= low:
        low, high = low - 1, high + 1
    step = nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _ticks(low: float, high: float, step: float, place: Any) -> list[Tick]:
    ticks = []
    value = low
    while value <= high + step / 2:
        ticks.append(Tick(round(place(value), 1), _fmt(value, step)))
        value += step
    return ticks


def scatter(
    title: str,
    points: Sequence[tuple[float, float, str]],
    *,
    best_label: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Scatter:
    """Scale ``(x, y, label)`` points into a ``width`` x ``height`` plot; y grows upward.

    Points with a non-finite coordinate are dropped; the dot labelled
    ``best_label`` is marked.
    """
    kept = [(x, y, label) for x, y, label in points if math.isfinite(x) and math.isfinite(y)]
    right, bottom = width - RIGHT, height - BOTTOM
    if not kept:
        return Scatter(title, [], width=width, height=height, plot_right=right, plot_bottom=bottom)
    x0, x1, x_step = _axis([x for x, _, _ in kept])
    y0, y1, y_step = _axis([y for _, y, _ in kept])

    def px(x: float) -> float:
        return LEFT + (x - x0) * (right - LEFT) / (x1 - x0)

    def py(y: float) -> float:
        return bottom - (y - y0) * (bottom - TOP) / (y1 - y0)

    dots = [
        Dot(round(px(x), 1), round(py(y), 1), label, bool(best_label) and label == best_label) for x, y, label in kept
    ]
    return Scatter(
        title,
        dots,
        x_ticks=_ticks(x0, x1, x_step, px),
        y_ticks=_ticks(y0, y1, y_step, py),
        width=width,
        height=height,
        plot_right=right,
        plot_bottom=bottom,
    )
