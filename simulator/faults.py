"""Fault injection: throttling, 5xx, latency, dropped connections, malformed bodies."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from random import Random
from typing import Any

from .rand import key


@dataclass
class Faults:
    """Rates are probabilities per request (0..1); change them at runtime on ``sim.faults``."""

    throttle_rate: float = 0.0  # 400 ThrottlingException "Rate exceeded"
    server_error_rate: float = 0.0  # 500 InternalFailure
    unavailable_rate: float = 0.0  # 503 ServiceUnavailable
    drop_rate: float = 0.0  # close the connection without answering
    malformed_rate: float = 0.0  # DescribeTrainingJob and Search records: parseable but wrong body
    latency_ms: float = 0.0  # added to every response


# (code, HTTP status, message) per fault kind
ERRORS = {
    "throttle": ("ThrottlingException", 400, "Rate exceeded"),
    "server_error": ("InternalFailure", 500, "An internal error occurred. Try again."),
    "unavailable": ("ServiceUnavailable", 503, "Service is unavailable. Try again later."),
}
MALFORMATIONS = (
    "missing_status",
    "creation_time_string",
    "instance_count_string",
    "unknown_status",
    "unknown_secondary",
)


class FaultInjector:
    """Draws from one seeded stream so a single-threaded client sees the same faults every run."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._rng = Random(key(seed, 9))
        self._lock = threading.Lock()

    def draw(self) -> tuple[str | None, str | None]:
        """(request fault kind or None, malformation or None) for one request."""
        f = self.faults
        with self._lock:
            # Always the same number of draws per request, so changing one rate
            # does not reshuffle when the others fire.
            r_drop, r_throttle, r_500, r_503, r_bad = (self._rng.random() for _ in range(5))
            variant = self._rng.choice(MALFORMATIONS)
        if r_drop < f.drop_rate:
            return "drop", None
        if r_throttle < f.throttle_rate:
            return "throttle", None
        if r_500 < f.server_error_rate:
            return "server_error", None
        if r_503 < f.unavailable_rate:
            return "unavailable", None
        return None, variant if r_bad < f.malformed_rate else None


def malform(response: dict[str, Any], variant: str) -> dict[str, Any]:
    """A DescribeTrainingJob body (or Search record) that still parses as JSON but breaks the contract."""
    body = copy.deepcopy(response)
    if variant == "missing_status":
        body.pop("TrainingJobStatus", None)
    elif variant == "creation_time_string":
        body["CreationTime"] = "yesterday afternoon"
    elif variant == "instance_count_string":
        rc = body.setdefault("ResourceConfig", {})
        rc["InstanceCount"] = str(rc.get("InstanceCount", 1))
    elif variant == "unknown_status":
        body["TrainingJobStatus"] = "Pausing"
    elif variant == "unknown_secondary":
        body["SecondaryStatus"] = "Hibernating"
    return body
