"""A real ``manage.py consume_events`` process SIGKILLed between its commit and its delete.

The pause is in the peer, not in our code: moto's DeleteMessageBatch (served
from this process) blocks, so the consumer has committed and sent its delete
when it dies, and the delete never takes effect. Redelivered after the
visibility timeout, the message must change nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
from django.db import connection
from moto.backends import get_backend
from moto.sqs.models import SQSBackend

from jobs.models import JobChange, TrainingJob
from tests.factories import describe_response, state_change_event
from tests.integration.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)  # the subprocess must see committed rows


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def manage(*args: str, moto_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "TRAINWATCH_DEFAULT_SOURCE": "False",
        "AWS_ENDPOINT_URL": moto_url,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigkill_between_commit_and_delete_changes_nothing_on_redelivery(moto_url, moto_source, monkeypatch):
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name=REGION)
    url = sqs.create_queue(QueueName="kill-events", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    moto_source.events_queue_url = url
    moto_source.save()
    event = state_change_event(describe_response("evt-kill", status="InProgress"))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))

    arrived, release = threading.Event(), threading.Event()
    original = SQSBackend.delete_message_batch

    def blocked(self, queue_name, receipts):
        arrived.set()
        release.wait(30)
        return [], []  # the consumer is dead: nothing deleted

    monkeypatch.setattr(SQSBackend, "delete_message_batch", blocked)
    proc = manage("consume_events", "--source", "moto", "--wait", "1", moto_url=moto_url)
    try:
        assert arrived.wait(60), proc.stdout.read1().decode() if proc.poll() is not None else "no delete"
        # Committed before the delete was sent.
        assert TrainingJob.objects.get(name="evt-kill").status == "InProgress"
        changes, jobs = JobChange.objects.count(), TrainingJob.objects.count()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    monkeypatch.setattr(SQSBackend, "delete_message_batch", original)

    time.sleep(2.2)  # the visibility timeout: SQS delivers the message again
    again = manage("consume_events", "--once", "--source", "moto", "--wait", "1", moto_url=moto_url)
    out = again.communicate(timeout=120)[0].decode()
    assert again.returncode == 0, out
    assert "received 1, changed 0, malformed 0, deleted 1" in out
    assert (JobChange.objects.count(), TrainingJob.objects.count()) == (changes, jobs)
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 0
    get_backend("sqs").reset()
