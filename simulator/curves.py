"""Shapes of a job's metric curves and instance utilization (pure arithmetic).

A curve is a function of training progress p in [0, 1] that ends exactly at
the job's final value: losses fall, accuracies rise, a learning rate decays.
Noise comes in as a uniform draw ``u`` the caller hashes from (job, series,
minute), so every point is computed on its own, in any order, and repeated
fetches agree.
"""

from __future__ import annotations

import math
from typing import NamedTuple

RISING = ("accuracy", "auc", "f1")


class Curve(NamedTuple):
    final: float
    start: float
    k: float  # steepness of the exponential approach
    noise: float  # relative amplitude at p = 0, shrinking to 0 at p = 1
    bounded: bool  # a ratio metric: never above 1


def direction(name: str) -> str:
    low = name.lower()
    if any(word in low for word in RISING):
        return "rising"
    if "learning_rate" in low or low.endswith(":lr"):
        return "decay"
    return "falling"


def curve_for(name: str, final: float, u1: float, u2: float) -> Curve:
    """The curve of metric ``name`` ending at ``final``; u1, u2 uniform in [0, 1) pick its shape."""
    kind = direction(name)
    if kind == "rising":
        return Curve(final, final * (0.35 + 0.35 * u1), 3.0 + 3.0 * u2, 0.03, True)
    if kind == "decay":
        return Curve(final, final * (5.0 + 15.0 * u1), 0.5 + u2, 0.0, False)
    return Curve(final, final * (2.0 + 4.0 * u1), 3.0 + 4.0 * u2, 0.05, False)


def value_at(c: Curve, p: float, u: float) -> float:
    """The curve at progress p with noise draw u, to 6 significant digits (what a log line prints)."""
    p = min(1.0, max(0.0, p))
    shape = (math.exp(-c.k * p) - math.exp(-c.k)) / (1.0 - math.exp(-c.k))
    v = c.final + (c.start - c.final) * shape
    v *= 1.0 + c.noise * (1.0 - p) * (2.0 * u - 1.0)
    v = max(v, 0.0)
    if c.bounded:
        v = min(v, 1.0)
    return float(f"{v:.6g}")


# Share of capacity per phase: (CPU, GPU, GPU memory, memory). CPU and GPU figures are summed
# over cores and GPUs, as SageMaker publishes them, so capacity is 100 x cores.
LEVELS: dict[str, tuple[float, float, float, float]] = {
    "PreparingTrainingStack": (0.03, 0.0, 0.0, 0.05),
    "Downloading": (0.12, 0.0, 0.0, 0.12),
    "DownloadingTrainingImage": (0.08, 0.0, 0.0, 0.10),
    "Training": (0.72, 0.93, 0.78, 0.55),
    "Uploading": (0.15, 0.01, 0.05, 0.30),
    "Stopping": (0.05, 0.0, 0.02, 0.20),
}
ACTIVE = frozenset(LEVELS)
INSTANCE_METRICS = ("CPUUtilization", "MemoryUtilization", "GPUUtilization", "GPUMemoryUtilization", "DiskUtilization")
_COLUMN = {"CPUUtilization": 0, "GPUUtilization": 1, "GPUMemoryUtilization": 2, "MemoryUtilization": 3}


def utilization(metric: str, phase: str, capacity: int, scale: float, u: float) -> float:
    """Percent for one minute of ``phase``; ``capacity`` is how many 100 % units (cores, GPUs) sum up.

    ``scale`` (about 0.8..1) is how hard this job drives its hardware; noise grows with the load.
    """
    level = LEVELS[phase][_COLUMN[metric]]
    if phase == "Training":
        level *= scale
    spread = 0.04 + 0.08 * level
    share = min(1.0, max(0.0, level + spread * (2.0 * u - 1.0)))
    return round(100.0 * capacity * share, 2)


def disk(phase: str, fraction: float, base: float, full: float, u: float) -> float:
    """DiskUtilization percent: fills from ``base`` to ``full`` while downloading (``fraction`` done)."""
    if phase in ("PreparingTrainingStack",):
        v = base
    elif phase == "Downloading":
        v = base + (full - base) * min(1.0, max(0.0, fraction))
    elif phase == "Uploading":
        v = full + 2.0 * fraction
    else:
        v = full
    return round(min(100.0, v + 0.4 * (2.0 * u - 1.0)), 2)
