"""A stop requested at a fractional second shows at once on a frozen clock."""

from datetime import UTC, datetime

import boto3

from simulator import SimulatedSageMaker


def test_stop_at_a_fractional_second_is_visible_immediately(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    start = datetime(2026, 11, 1, 12, 0, 0, 123789, tzinfo=UTC)
    with SimulatedSageMaker(jobs=300, seed=3, speed=0, start=start) as sim:
        client = boto3.client("sagemaker", endpoint_url=sim.endpoint_url, region_name="us-east-1")
        running = next(n for n in reversed(sim.job_names()) if sim.describe(n)["TrainingJobStatus"] == "InProgress")
        client.stop_training_job(TrainingJobName=running)
        assert client.describe_training_job(TrainingJobName=running)["TrainingJobStatus"] == "Stopping"
