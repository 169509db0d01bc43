"""Every call to AWS lives here: SageMaker, CloudWatch, CloudWatch Logs and SQS.

Clients are built lazily and reused per process and service (botocore's
adaptive retry mode keeps its rate limiter on the client, so reuse is what
makes it work). A source's ``endpoint_url`` is the endpoint of all four
services (moto and the simulated account serve them on one port); without
it boto3 applies ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.exceptions
import botocore.parsers
from botocore.config import Config
from django.conf import settings

from jobs import metrics

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)


@dataclass(frozen=True)
class SourceConfig:
    """What it takes to reach one account's SageMaker; hashable for the client cache."""

    region: str = ""
    profile: str = ""
    role_arn: str = ""
    endpoint_url: str = ""

    @classmethod
    def of(cls, source: Any) -> SourceConfig:
        return cls(source.region, source.profile, source.role_arn, source.endpoint_url)


# A response botocore itself could not read: recorded as malformed once retries run out.
UNREADABLE = "UnreadableResponse"


class SageMakerError(Exception):
    """A call failed; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class NotFound(SageMakerError):
    """The source has no such job (or no longer has it): not worth retrying."""


# AWS answers an unknown training job with ValidationException ("Requested
# resource not found", "Could not find ..."); other services' codes, in case.
NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException"})


SAGEMAKER = "sagemaker"
CLOUDWATCH = "cloudwatch"
LOGS = "logs"
SQS = "sqs"
PRICING = "pricing"
EVENTS = "events"
_SERVICE_LABELS = {SAGEMAKER: "SageMaker", CLOUDWATCH: "CloudWatch", LOGS: "CloudWatch Logs", SQS: "SQS"}

_clients: dict[tuple[SourceConfig, str], Any] = {}
_lock = threading.Lock()


def client_for(config: SourceConfig, service: str = SAGEMAKER) -> Any:
    with _lock:
        client = _clients.get((config, service))
        if client is None:
            client = _clients[(config, service)] = _build_client(config, service)
        return client


def reset_clients() -> None:
    """Forget cached clients (tests that change endpoints or credentials)."""
    with _lock:
        _clients.clear()


def _build_client(config: SourceConfig, service: str = SAGEMAKER) -> Any:
    session = boto3.Session(profile_name=config.profile or None, region_name=config.region or None)
    if config.role_arn:
        creds = session.client("sts").assume_role(RoleArn=config.role_arn, RoleSessionName="trainwatch")["Credentials"]
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=session.region_name,
        )
    botocore_config = Config(
        retries={"mode": settings.AWS_RETRY_MODE, "total_max_attempts": settings.AWS_MAX_ATTEMPTS},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="trainwatch",
    )
    return session.client(service, endpoint_url=config.endpoint_url or None, config=botocore_config)


def _translate(exc: Exception, service: str = SAGEMAKER) -> SageMakerError:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", exc))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in NOT_FOUND_CODES or (
            code == "ValidationException" and ("not found" in message.lower() or "could not find" in message.lower())
        ):
            return NotFound(message, code=code)
        retryable = code in THROTTLING_CODES or status >= 500
        return SageMakerError(f"{code}: {message}", code=code, retryable=retryable)
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.NoRegionError):
        return SageMakerError(str(exc), code=type(exc).__name__)
    if isinstance(exc, botocore.exceptions.ProfileNotFound | botocore.exceptions.PartialCredentialsError):
        return SageMakerError(str(exc), code=type(exc).__name__)
    if isinstance(
        exc,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectionError
        # ReadTimeoutError, and ConnectionClosedError: the server hung up mid-answer.
        | botocore.exceptions.HTTPClientError
        | botocore.exceptions.ConnectTimeoutError,
    ):
        return SageMakerError(
            f"cannot reach {_SERVICE_LABELS.get(service, service)}: {exc}", code="ConnectionError", retryable=True
        )
    # botocore raises a bare ValueError for a member it cannot parse (a timestamp
    # that is not one), before our own parser could see the response.
    if isinstance(exc, botocore.parsers.ResponseParserError | ValueError):
        return SageMakerError(f"unreadable response: {exc}", code=UNREADABLE, retryable=True)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return SageMakerError(str(exc), code=type(exc).__name__)
    raise exc


def _call(config: SourceConfig, operation: str, *, service: str = SAGEMAKER, **params: Any) -> dict[str, Any]:
    # Counted here, where every call passes, for /metrics (see jobs.metrics).
    try:
        response = getattr(client_for(config, service), operation)(**params)
    except Exception as exc:
        try:
            error = _translate(exc, service)
        except Exception:  # not botocore's: re-raised as it was, still counted
            metrics.count_aws_call(operation, error_code="unexpected")
            raise
        metrics.count_aws_call(operation, error_code=error.code)
        raise error from exc
    metrics.count_aws_call(operation)
    return response


def list_changed_pages(config: SourceConfig, since: datetime) -> Iterator[dict[str, Any]]:
    """Summaries of jobs modified after ``since``, one page (a list) at a time.

    AWS cuts a page before filtering, so a page may be empty and still carry
    a NextToken: keep going until there is no token.
    """
    params: dict[str, Any] = {"LastModifiedTimeAfter": since, "MaxResults": 100}
    while True:
        page = _call(config, "list_training_jobs", **params)
        yield page.get("TrainingJobSummaries", [])
        token = page.get("NextToken")
        if not token:
            return
        params["NextToken"] = token


def search_job_pages(config: SourceConfig, expression: dict[str, Any]) -> Iterator[list[Any]]:
    """Full training-job records matching ``expression``, one page (up to 100) at a time."""
    params: dict[str, Any] = {"Resource": "TrainingJob", "SearchExpression": expression, "MaxResults": 100}
    while True:
        page = _call(config, "search", **params)
        yield [r.get("TrainingJob") for r in page.get("Results", []) if isinstance(r, dict)]
        token = page.get("NextToken")
        if not token:
            return
        params["NextToken"] = token


def describe_job(config: SourceConfig, name: str) -> dict[str, Any]:
    return _call(config, "describe_training_job", TrainingJobName=name)


def describe_tuning_job(config: SourceConfig, name: str) -> dict[str, Any]:
    return _call(config, "describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)


def list_tags(config: SourceConfig, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    params: dict[str, Any] = {"ResourceArn": arn, "MaxResults": 100}
    while True:
        page = _call(config, "list_tags", **params)
        for tag in page.get("Tags", []):
            tags[str(tag.get("Key", ""))] = str(tag.get("Value", ""))
        token = page.get("NextToken")
        if not token:
            return tags
        params["NextToken"] = token


def stop_job(config: SourceConfig, name: str) -> None:
    _call(config, "stop_training_job", TrainingJobName=name)


# CloudWatch: SageMaker's training metrics, algorithm and instance.

SAGEMAKER_NAMESPACE = "/aws/sagemaker/TrainingJobs"
SAGEMAKER_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def list_job_metric_names(config: SourceConfig, job_name: str) -> list[str]:
    """Names of the algorithm metrics CloudWatch holds for one job (dimension TrainingJobName)."""
    names: list[str] = []
    params: dict[str, Any] = {
        "Namespace": SAGEMAKER_NAMESPACE,
        "Dimensions": [{"Name": "TrainingJobName", "Value": job_name}],
    }
    while True:
        page = _call(config, "list_metrics", service=CLOUDWATCH, **params)
        names.extend(str(m.get("MetricName", "")) for m in page.get("Metrics", []) if isinstance(m, dict))
        token = page.get("NextToken")
        if not token:
            return [n for n in names if n]
        params["NextToken"] = token


def get_metric_data(
    config: SourceConfig, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Every MetricDataResult of one batch of queries, each Id's pages joined.

    AWS pages a result that outgrows its points budget; a later page
    continues an Id of an earlier one, so pages are merged per Id and label.
    """
    merged: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        page = _call(config, "get_metric_data", service=CLOUDWATCH, **params)
        for result in page.get("MetricDataResults", []):
            if not isinstance(result, dict):
                continue
            # A SEARCH returns many series under one Id, told apart by their labels.
            into = merged.setdefault(
                f"{result.get('Id', '')} {result.get('Label', '')}",
                {"Id": result.get("Id"), "Label": result.get("Label"), "Timestamps": [], "Values": []},
            )
            into["Timestamps"].extend(result.get("Timestamps") or [])
            into["Values"].extend(result.get("Values") or [])
            into["StatusCode"] = result.get("StatusCode", "")
        token = page.get("NextToken")
        if not token:
            return list(merged.values())
        params["NextToken"] = token


# CloudWatch Logs: one stream per host. FilterLogEvents is rationed (5 calls/s
# per account) and meant for people: streams are listed by the job's prefix
# and read forward from a stored token instead.


def list_log_streams(config: SourceConfig, job_name: str) -> list[str]:
    """The job's log streams (``<job>/algo-<n>-<epoch>``); none until its containers write."""
    names: list[str] = []
    params: dict[str, Any] = {"logGroupName": SAGEMAKER_LOG_GROUP, "logStreamNamePrefix": f"{job_name}/"}
    while True:
        try:
            page = _call(config, "describe_log_streams", service=LOGS, **params)
        except NotFound:  # no job of this account has logged yet: the group does not exist
            return names
        names.extend(str(s.get("logStreamName", "")) for s in page.get("logStreams", []) if isinstance(s, dict))
        token = page.get("nextToken")
        if not token or token == params.get("nextToken"):
            return [n for n in names if n]
        params["nextToken"] = token


def log_event_pages(config: SourceConfig, stream: str, token: str = "") -> Iterator[tuple[list[dict[str, Any]], str]]:
    """(events, next forward token) a page at a time, oldest first, from ``token`` (or the head).

    The stream's end is reached when the forward token comes back unchanged.
    """
    params: dict[str, Any] = {"logGroupName": SAGEMAKER_LOG_GROUP, "logStreamName": stream, "startFromHead": True}
    if token:
        params["nextToken"] = token
    while True:
        page = _call(config, "get_log_events", service=LOGS, **params)
        events = [e for e in page.get("events", []) if isinstance(e, dict)]
        forward = str(page.get("nextForwardToken") or "")
        yield events, forward
        if not forward or forward == params.get("nextToken"):
            return
        params["nextToken"] = forward


# SQS: the queue an EventBridge rule delivers SageMaker's state-change events to.

SQS_MAX_MESSAGES = 10  # ReceiveMessage and DeleteMessageBatch take at most ten


def receive_messages(config: SourceConfig, queue_url: str, *, wait_seconds: int = 20) -> list[dict[str, Any]]:
    """Up to ten messages, long-polling up to ``wait_seconds`` (at most 20) for the first."""
    page = _call(
        config,
        "receive_message",
        service=SQS,
        QueueUrl=queue_url,
        MaxNumberOfMessages=SQS_MAX_MESSAGES,
        WaitTimeSeconds=wait_seconds,
    )
    return [m for m in page.get("Messages", []) if isinstance(m, dict)]


def delete_messages(config: SourceConfig, queue_url: str, receipt_handles: list[str]) -> list[str]:
    """Delete by receipt handle, ten a call; returns the handles SQS did not delete.

    A handle left undeleted is redelivered after its visibility timeout, and
    storing its event again changes nothing.
    """
    failed: list[str] = []
    for start in range(0, len(receipt_handles), SQS_MAX_MESSAGES):
        chunk = receipt_handles[start : start + SQS_MAX_MESSAGES]
        entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)]
        page = _call(config, "delete_message_batch", service=SQS, QueueUrl=queue_url, Entries=entries)
        failed.extend(chunk[int(f["Id"])] for f in page.get("Failed", []) if str(f.get("Id", "")).isdigit())
    return failed


# setup_events: the queue and EventBridge rule that bring the events. Each returns
# whether it created or changed something, so a second run can say it changed nothing.


def queue_url(config: SourceConfig, name: str) -> str | None:
    try:
        return _call(config, "get_queue_url", service=SQS, QueueName=name)["QueueUrl"]
    except SageMakerError as exc:
        if exc.code in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            return None
        raise


def ensure_queue(config: SourceConfig, name: str, attributes: dict[str, str]) -> tuple[str, str, str]:
    """(url, arn, "created" | "updated" | "found") for the queue ``name`` with ``attributes``."""
    url = queue_url(config, name)
    if url is None:
        url = _call(config, "create_queue", service=SQS, QueueName=name, Attributes=attributes)["QueueUrl"]
        outcome = "created"
    else:
        outcome = "updated" if ensure_queue_attributes(config, url, attributes) else "found"
    arn = _call(config, "get_queue_attributes", service=SQS, QueueUrl=url, AttributeNames=["QueueArn"])
    return url, arn["Attributes"]["QueueArn"], outcome


def ensure_queue_attributes(config: SourceConfig, url: str, attributes: dict[str, str]) -> bool:
    """Set those of ``attributes`` the queue does not have already; whether any was."""
    have = _call(config, "get_queue_attributes", service=SQS, QueueUrl=url, AttributeNames=["All"])
    current = have.get("Attributes", {})
    changed = {k: v for k, v in attributes.items() if not _same_attribute(current.get(k), v)}
    if changed:
        _call(config, "set_queue_attributes", service=SQS, QueueUrl=url, Attributes=changed)
    return bool(changed)


def _same_attribute(current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    try:  # policies come back re-serialised, and a count in them as a number or a string
        return _scalars_as_text(json.loads(current)) == _scalars_as_text(json.loads(wanted))
    except ValueError:
        return current == wanted


def _scalars_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scalars_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scalars_as_text(v) for v in value]
    return str(value)


def ensure_rule(config: SourceConfig, name: str, pattern: dict[str, Any]) -> tuple[str, str]:
    """(arn, "created" | "updated" | "found") for the rule ``name`` matching ``pattern``."""
    try:
        rule = _call(config, "describe_rule", service=EVENTS, Name=name)
    except SageMakerError as exc:
        if exc.code != "ResourceNotFoundException":
            raise
        rule = None
    if rule and json.loads(rule.get("EventPattern") or "{}") == pattern and rule.get("State") == "ENABLED":
        return rule["Arn"], "found"
    arn = _call(config, "put_rule", service=EVENTS, Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    return arn["RuleArn"], "updated" if rule else "created"


def ensure_target(config: SourceConfig, rule: str, target_id: str, arn: str) -> str:
    """"created" | "updated" | "found" for the rule's target ``target_id`` pointing at ``arn``."""
    targets = _call(config, "list_targets_by_rule", service=EVENTS, Rule=rule).get("Targets", [])
    mine = next((t for t in targets if t.get("Id") == target_id), None)
    if mine and mine.get("Arn") == arn:
        return "found"
    _call(config, "put_targets", service=EVENTS, Rule=rule, Targets=[{"Id": target_id, "Arn": arn}])
    return "updated" if mine else "created"


# Pricing: the AWS Price List, for import_prices.

# The Price List API answers in these regions only, whatever region is priced.
PRICING_REGIONS = ("us-east-1", "ap-south-1")


def price_list_pages(config: SourceConfig, region: str) -> Iterator[list[str]]:
    """GetProducts for SageMaker training in ``region``: each page's PriceList (JSON documents as text)."""
    if config.region not in PRICING_REGIONS:
        config = SourceConfig(PRICING_REGIONS[0], config.profile, config.role_arn, config.endpoint_url)
    params: dict[str, Any] = {
        "ServiceCode": "AmazonSageMaker",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "component", "Value": "Training"},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    while True:
        page = _call(config, "get_products", service=PRICING, **params)
        yield [entry for entry in page.get("PriceList", []) if isinstance(entry, str)]
        token = page.get("NextToken")
        if not token:
            return
        params["NextToken"] = token
