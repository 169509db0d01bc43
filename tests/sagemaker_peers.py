"""Real HTTP SageMaker peers for tests that must cross the wire.

The simulated account (``simulator``) when it is importable and speaks
StopTrainingJob; moto's server otherwise (moto has no StopTrainingJob, so
with it only the error path can be exercised).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from jobs import sync
from jobs.models import Source, TrainingJob

try:
    from simulator import SimulatedSageMaker
    from simulator.operations import OPERATIONS

    HAVE_SIMULATOR = "StopTrainingJob" in OPERATIONS
except ImportError:  # the simulated account is optional
    HAVE_SIMULATOR = False


@dataclass
class SimulatedPeer:
    sim: SimulatedSageMaker
    source: Source
    running: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    def store(self, name: str) -> TrainingJob:
        """Describe the job over HTTP and store it, as a sync would."""
        result = sync.describe_and_store(self.source, name, cycle_id=None)
        assert result.error == "", result.error
        return TrainingJob.objects.get(source=self.source, name=name)

    def status(self, name: str) -> str:
        return self.sim.describe(name)["TrainingJobStatus"]

    def stop_calls(self) -> int:
        return self.sim.stats["calls"]["StopTrainingJob"]


# A whole second: the simulator rounds a stop's moment to the millisecond, so
# on a clock frozen at a fractional time the stop could land just after "now"
# and never show.
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@contextmanager
def simulated_peer(source_name: str = "simulated", *, jobs: int = 200, seed: int = 3) -> Iterator[SimulatedPeer]:
    """A started simulated account (frozen clock) and a Source pointing at it."""
    sim = SimulatedSageMaker(jobs=jobs, seed=seed, speed=0, start=START).start()
    try:
        source = Source.objects.create(name=source_name, region="us-east-1", endpoint_url=sim.endpoint_url)
        peer = SimulatedPeer(sim, source)
        for name in sim.job_names():
            status = peer.status(name)
            if status == "InProgress":
                peer.running.append(name)
            elif status in ("Completed", "Failed", "Stopped"):
                peer.finished.append(name)
        yield peer
    finally:
        sim.stop()
