from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config

from simulator import Faults, SimulatedSageMaker

START = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def dummy_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials so boto3 never looks for real ones."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SAGEMAKER",
        "AWS_ENDPOINT_URL_CLOUDWATCH",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimulatedSageMaker]]:
    """Start simulators with frozen time; all are stopped after the test."""
    started: list[SimulatedSageMaker] = []

    def make(**kwargs: Any) -> SimulatedSageMaker:
        kwargs.setdefault("start", START)
        kwargs.setdefault("speed", 0.0)
        kwargs.setdefault("faults", Faults())
        sim = SimulatedSageMaker(**kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., SimulatedSageMaker]) -> SimulatedSageMaker:
    return make_sim(jobs=200, seed=7)


def client_for(sim: SimulatedSageMaker, attempts: int = 1, service: str = "sagemaker", **config: Any) -> Any:
    """A boto3 client aimed at the simulator; no retries unless asked for."""
    retries = {"mode": "standard", "total_max_attempts": attempts}
    return boto3.client(
        service,
        endpoint_url=sim.endpoint_url,
        region_name="us-east-1",
        config=Config(retries=retries, connect_timeout=5, read_timeout=10, **config),
    )


@pytest.fixture
def client(sim: SimulatedSageMaker) -> Any:
    return client_for(sim)
