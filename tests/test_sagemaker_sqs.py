"""The SQS calls in jobs/sagemaker.py: long-poll batches of ten, batched deletes, our errors."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from jobs import sagemaker
from jobs.sagemaker import SageMakerError, SourceConfig

CONFIG = SourceConfig(region="us-east-1")
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/sagemaker-events"


@pytest.fixture
def sqs(aws_env):
    with Stubber(sagemaker.client_for(CONFIG, sagemaker.SQS)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_receive_long_polls_for_ten(sqs):
    sqs.add_response(
        "receive_message",
        {"Messages": [{"MessageId": "m1", "ReceiptHandle": "h1", "Body": "{}"}]},
        {"QueueUrl": URL, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 20},
    )
    assert [m["ReceiptHandle"] for m in sagemaker.receive_messages(CONFIG, URL)] == ["h1"]


def test_an_empty_receive_is_no_messages(sqs):
    sqs.add_response("receive_message", {}, {"QueueUrl": URL, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0})
    assert sagemaker.receive_messages(CONFIG, URL, wait_seconds=0) == []


def test_deletes_go_ten_a_call_and_failures_come_back(sqs):
    handles = [f"h{i}" for i in range(12)]
    first = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles[:10])]
    sqs.add_response(
        "delete_message_batch",
        {
            "Successful": [{"Id": str(i)} for i in range(10) if i != 3],
            "Failed": [{"Id": "3", "SenderFault": True, "Code": "ReceiptHandleIsInvalid"}],
        },
        {"QueueUrl": URL, "Entries": first},
    )
    second = [{"Id": "0", "ReceiptHandle": "h10"}, {"Id": "1", "ReceiptHandle": "h11"}]
    sqs.add_response(
        "delete_message_batch",
        {"Successful": [{"Id": "0"}, {"Id": "1"}], "Failed": []},
        {"QueueUrl": URL, "Entries": second},
    )
    assert sagemaker.delete_messages(CONFIG, URL, handles) == ["h3"]


def test_sqs_errors_are_ours(sqs):
    sqs.add_client_error(
        "receive_message", service_error_code="AWS.SimpleQueueService.NonExistentQueue", http_status_code=400
    )
    sqs.add_client_error("receive_message", service_error_code="ThrottlingException", http_status_code=400)
    with pytest.raises(SageMakerError) as missing:
        sagemaker.receive_messages(CONFIG, URL)
    assert not missing.value.retryable
    with pytest.raises(SageMakerError) as throttled:
        sagemaker.receive_messages(CONFIG, URL)
    assert throttled.value.retryable


def test_an_unreachable_queue_names_sqs(aws_env, settings):
    settings.AWS_MAX_ATTEMPTS = 1
    config = SourceConfig(region="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(SageMakerError) as caught:
        sagemaker.receive_messages(config, URL, wait_seconds=0)
    assert caught.value.code == "ConnectionError" and caught.value.retryable
    assert "cannot reach SQS" in str(caught.value)


def test_clients_are_cached_per_service(aws_env):
    assert sagemaker.client_for(CONFIG, sagemaker.SQS) is sagemaker.client_for(CONFIG, sagemaker.SQS)
    assert sagemaker.client_for(CONFIG, sagemaker.SQS) is not sagemaker.client_for(CONFIG)
