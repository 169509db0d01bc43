"""Line charts as numbers for a server-side SVG: pure, no Django.

The template draws what ``line_chart`` lays out: one polyline per series
(already downsampled, see ``jobs.domain.cloudwatch.lttb``), axis ticks with
labels, and shaded bands for the job's phases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from jobs.domain.cloudwatch import Point

WIDTH = 640
HEIGHT = 160
LEFT = 48  # room for the y labels
RIGHT = 8
TOP = 8
BOTTOM = 20  # room for the x labels


@dataclass(frozen=True)
class Line:
    label: str
    points: str  # "x,y x,y ..." for <polyline points>
    last: float | None
    index: int  # picks the stroke colour class


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    lines: list[Line]
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def plot_top(self) -> int:
        return TOP

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM


def nice_step(span: float, target: int = 4) -> float:
    """A 1, 2 or 5 times a power of ten step giving about ``target`` ticks over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def _fmt_value(value: float, step: float) -> str:
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{digits}f}"


def _time_step(span_s: float) -> float:
    for step in (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400):
        if span_s / step <= 6:
            return step
    return 7 * 86400 * math.ceil(span_s / (6 * 7 * 86400))


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[Point]]],
    *,
    unit: str = "",
    x_range: tuple[float, float] | None = None,
    y_floor: float | None = None,
    y_ceiling: float | None = None,
    phases: Sequence[tuple[float, float, str]] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
    x_label: Callable[[float], str] | None = None,
) -> Chart:
    """Scale the series into a ``width`` x ``height`` plot.

    ``x_range`` (epoch seconds) lines up every chart of a job on one time
    axis; ``y_floor``/``y_ceiling`` pin the value axis (utilization reads
    0 to at least 100 %), otherwise it fits the data. ``x_label`` words an
    x tick (default: the UTC clock time of the epoch second).
    """
    xs = [p[0] for _, pts in series for p in pts]
    ys = [p[1] for _, pts in series for p in pts]
    if not xs:
        return Chart(title, unit, [], width=width, height=height)
    x0, x1 = x_range if x_range else (min(xs), max(xs))
    if x1 <= x0:
        x1 = x0 + 60
    y0 = min(ys) if y_floor is None else min(y_floor, min(ys))
    y1 = max(ys) if y_ceiling is None else max(y_ceiling, max(ys))
    if y1 <= y0:
        y0, y1 = y0 - 1, y1 + 1
    step = nice_step(y1 - y0)
    y0, y1 = math.floor(y0 / step) * step, math.ceil(y1 / step) * step
    left, right, top, bottom = LEFT, width - RIGHT, TOP, height - BOTTOM
    sx = (right - left) / (x1 - x0)
    sy = (bottom - top) / (y1 - y0)

    def px(x: float) -> float:
        return left + (x - x0) * sx

    def py(y: float) -> float:
        return bottom - (y - y0) * sy

    lines = []
    for i, (label, pts) in enumerate(series):
        coords = " ".join(f"{left + (x - x0) * sx:.1f},{bottom - (y - y0) * sy:.1f}" for x, y in pts if x0 <= x <= x1)
        lines.append(Line(label, coords, pts[-1][1] if pts else None, i))
    y_ticks = []
    value = y0
    while value <= y1 + step / 2:
        y_ticks.append(Tick(round(py(value), 1), _fmt_value(value, step)))
        value += step
    t_step = _time_step(x1 - x0)
    first = math.ceil(x0 / t_step) * t_step
    fmt = "%H:%M" if x1 - x0 <= 2 * 86400 else "%m-%d %H:%M"
    label = x_label or (lambda t: datetime.fromtimestamp(t, UTC).strftime(fmt))
    x_ticks = [Tick(round(px(t), 1), label(t)) for t in _frange(first, x1, t_step)]
    bands = [
        Band(round(px(max(a, x0)), 1), round(px(min(b, x1)) - px(max(a, x0)), 1), label)
        for a, b, label in phases
        if b > x0 and a < x1
    ]
    return Chart(title, unit, lines, x_ticks, y_ticks, bands, width, height)


def _frange(start: float, stop: float, step: float) -> list[float]:
    out = []
    value = start
    while value <= stop and len(out) < 50:
        out.append(value)
        value += step
    return out


def metric_group(name: str) -> str:
    """``train:loss`` and ``validation:loss`` share the chart ``loss``; a name without a prefix is its own."""
    return name.split(":", 1)[1] if ":" in name else name
