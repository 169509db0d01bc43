from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import sagemaker
from jobs.events_consumer import consume_once
from jobs.models import Source
from jobs.sources import ensure_configured_sources


class Command(BaseCommand):
    help = (
        "Consume SageMaker's state-change events from each enabled source's SQS queue "
        "(Source.events_queue_url), long-polling, storing them as the sync does. "
        "Polling stays the safety net; run this as its own service beside worker and beat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One batch per source, then exit.")
        parser.add_argument("--source", help="Only this source (by name).")
        parser.add_argument(
            "--wait", type=int, default=20, choices=range(21), metavar="0..20", help="Long-poll seconds per receive."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_configured_sources()
        while True:
            sources = list(Source.objects.filter(enabled=True).exclude(events_queue_url=""))
            if options["source"]:
                sources = [s for s in sources if s.name == options["source"]]
            if not sources:
                if options["once"]:
                    raise CommandError("No enabled source has an events queue")
                time.sleep(options["wait"] or 1)  # one may be configured later
                continue
            failed = False
            for source in sources:
                try:
                    consumed = consume_once(source, source.events_queue_url, wait_seconds=options["wait"])
                except sagemaker.SageMakerError as exc:
                    failed = True
                    self.stderr.write(self.style.ERROR(f"{source.name}: {exc}"))
                    continue
                # -v 0 (the run command) keeps quiet about batches that went well.
                if options["once"] or consumed.malformed or (consumed.received and options["verbosity"] >= 1):
                    self.stdout.write(f"{source.name}: {consumed}")
            if options["once"]:
                if failed:
                    raise CommandError("Some sources' queues could not be read")
                return
            if failed:
                time.sleep(5)  # an unreachable queue is not retried in a tight loop
