"""Real peers for integration tests: moto's HTTP server, Redis, a Celery worker."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from moto.backends import get_backend
from moto.server import ThreadedMotoServer

from dashboard.celery import app as celery_app
from jobs import sagemaker
from jobs.models import Source

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def moto_url(aws_env) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        get_backend("sagemaker")[ACCOUNT][REGION].training_jobs.clear()
        server.stop()


@pytest.fixture
def moto_jobs(moto_url):
    """moto's in-process store of training jobs, for editing their state."""
    return get_backend("sagemaker")[ACCOUNT][REGION].training_jobs


@pytest.fixture
def sm_client(moto_url):
    return boto3.client("sagemaker", endpoint_url=moto_url, region_name=REGION)


@pytest.fixture
def moto_source(db, moto_url) -> Source:
    return Source.objects.create(name="moto", region=REGION, endpoint_url=moto_url)


@pytest.fixture
def aws_calls(moto_source) -> Counter:
    """Counts the SageMaker operations our client really sends."""
    calls: Counter = Counter()
    client = sagemaker.client_for(sagemaker.SourceConfig.of(moto_source))
    client.meta.events.register("before-call.sagemaker.*", lambda model, **kw: calls.update([model.name]))
    return calls


def create_job(client, name: str, *, instance_count: int = 1, tags: dict | None = None) -> None:
    client.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/t:1",
            "TrainingInputMode": "File",
        },
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": instance_count, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"epochs": "3"},
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {"team": "vision"}).items()],
    )


def naive_utc(moment: datetime) -> datetime:
    """moto keeps naive UTC datetimes on its backend objects."""
    return moment.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {url}: run the tests through ./scripts/test, which starts one")
    return url


def real_worker(redis_url: str, *, pool: str = "solo", concurrency: int = 1):
    """A real Celery worker on the real Redis broker, from empty queues: no task of another test leaks in."""
    celery_app.conf.broker_url = redis_url
    redis.Redis.from_url(redis_url).delete("celery", "sync")
    return start_worker(celery_app, pool=pool, concurrency=concurrency, perform_ping_check=False, shutdown_timeout=10)


@pytest.fixture
def celery_worker(redis_url, transactional_db):
    """A real Celery worker consuming from the real Redis broker."""
    with real_worker(redis_url) as worker:
        yield worker
