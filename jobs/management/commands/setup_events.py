"""Create the SQS queue, its dead-letter queue and the EventBridge rule that bring a source's events."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import sagemaker
from jobs.domain import event_setup
from jobs.models import Source


class Command(BaseCommand):
    help = (
        "Create (or find, if they exist) the SQS queue with a dead-letter queue, its access policy and the "
        "EventBridge rule that deliver SageMaker's training job state changes for one source, and point the "
        "source at the queue. Running it again changes nothing. --print writes the same as a CloudFormation "
        "template instead, calling nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, help="the source's name (see the admin)")
        parser.add_argument("--print", action="store_true", dest="print_only", help="print a CloudFormation template")
        parser.add_argument(
            "--max-receive",
            type=int,
            default=event_setup.DEFAULT_MAX_RECEIVE,
            help="deliveries of a message before it goes to the dead-letter queue (default 5)",
        )

    def handle(self, *args: Any, source: str, print_only: bool, max_receive: int, **options: Any) -> None:
        if not 1 <= max_receive <= 1000:
            raise CommandError("--max-receive must be between 1 and 1000 (SQS's range).")
        found = Source.objects.filter(name=source).first()
        if found is None:
            raise CommandError(f"No source named {source!r}.")
        names = event_setup.resource_names(found.name)
        if print_only:
            self.stdout.write(json.dumps(event_setup.cloudformation_template(names, max_receive), indent=2))
            return
        config = sagemaker.SourceConfig.of(found)
        try:
            self._create(found, config, names, max_receive)
        except sagemaker.SageMakerError as error:
            hint = "the permissions it needs are in the README, under Push"
            raise CommandError(f"{found.name}: {error} ({hint})") from error

    def _create(
        self, source: Source, config: sagemaker.SourceConfig, names: event_setup.EventResources, max_receive: int
    ) -> None:
        dlq_url, dlq_arn, outcome = sagemaker.ensure_queue(
            config, names.dead_letter_queue, {"MessageRetentionPeriod": str(event_setup.DLQ_RETENTION_SECONDS)}
        )
        self.stdout.write(f"dead-letter queue {outcome}: {dlq_url}")
        # The rule first: the queue's policy names it.
        rule_arn, outcome = sagemaker.ensure_rule(config, names.rule, event_setup.EVENT_PATTERN)
        self.stdout.write(f"rule {outcome}: {rule_arn}")
        url, queue_arn, made = sagemaker.ensure_queue(
            config,
            names.queue,
            {
                "VisibilityTimeout": str(event_setup.VISIBILITY_TIMEOUT_SECONDS),
                "RedrivePolicy": event_setup.redrive_policy(dlq_arn, max_receive),
            },
        )
        # The policy names the queue's ARN, known once the queue exists.
        policy_changed = sagemaker.ensure_queue_attributes(
            config, url, {"Policy": event_setup.queue_policy(queue_arn, rule_arn)}
        )
        outcome = "updated" if made == "found" and policy_changed else made
        self.stdout.write(f"queue {outcome}: {url}")
        target = sagemaker.ensure_target(config, names.rule, event_setup.TARGET_ID, queue_arn)
        self.stdout.write(f"rule target {target}: {queue_arn}")
        if source.events_queue_url != url:
            source.events_queue_url = url
            source.save(update_fields=["events_queue_url"])
            self.stdout.write(f"source {source.name} now reads {url}")
        else:
            self.stdout.write(f"source {source.name} already reads {url}")
