"""The AWS resources that carry SageMaker's state-change events to Trainwatch, as data. Pure, no Django.

An EventBridge rule matching "SageMaker Training Job State Change" delivers
to an SQS queue; messages the consumer cannot read go, after
``max_receive`` tries, to a dead-letter queue kept for two weeks. The same
resources come out as boto3 calls (``manage.py setup_events``) or as a
CloudFormation template (``--print``), from these functions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

EVENT_PATTERN: dict[str, list[str]] = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Training Job State Change"],
}
DEFAULT_MAX_RECEIVE = 5
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's longest
# Longer than a consumer batch takes to store, so a message is not handed out twice while in hand.
VISIBILITY_TIMEOUT_SECONDS = 120
QUEUE_NAME_LIMIT = 80
TARGET_ID = "trainwatch-queue"


@dataclass(frozen=True)
class EventResources:
    queue: str
    dead_letter_queue: str
    rule: str


def resource_names(source_name: str) -> EventResources:
    """Names for one source's queue, dead-letter queue and rule (SQS allows [A-Za-z0-9_-], 80 characters)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", source_name).strip("-") or "default"
    base = f"trainwatch-events-{slug}"[: QUEUE_NAME_LIMIT - len("-dlq")]
    return EventResources(queue=base, dead_letter_queue=f"{base}-dlq", rule=f"trainwatch-sagemaker-{slug}"[:64])


def redrive_policy(dead_letter_arn: str, max_receive: int) -> str:
    return json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(max_receive)})


def queue_policy(queue_arn: str, rule_arn: str) -> str:
    """Lets the rule, and nothing else, send to the queue."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "trainwatch-eventbridge",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        },
        sort_keys=True,
    )


def cloudformation_template(names: EventResources, max_receive: int = DEFAULT_MAX_RECEIVE) -> dict[str, Any]:
    """The same queue, dead-letter queue, policy and rule for those who provision by code review."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "SageMaker training job state changes to an SQS queue Trainwatch consumes",
        "Resources": {
            "DeadLetterQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": names.dead_letter_queue,
                    "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
                },
            },
            "EventsQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": names.queue,
                    "VisibilityTimeout": VISIBILITY_TIMEOUT_SECONDS,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                        "maxReceiveCount": max_receive,
                    },
                },
            },
            "EventsRule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": names.rule,
                    "EventPattern": EVENT_PATTERN,
                    "State": "ENABLED",
                    "Targets": [{"Id": TARGET_ID, "Arn": {"Fn::GetAtt": ["EventsQueue", "Arn"]}}],
                },
            },
            "EventsQueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "EventsQueue"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": {"Fn::GetAtt": ["EventsQueue", "Arn"]},
                                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["EventsRule", "Arn"]}}},
                            }
                        ],
                    },
                },
            },
        },
        "Outputs": {"QueueUrl": {"Value": {"Ref": "EventsQueue"}}},
    }
