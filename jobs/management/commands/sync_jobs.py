from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from alerts import delivery, limits
from jobs import cloudwatch_sync, sync, tuning_sync
from jobs.models import Source
from jobs.sources import ensure_configured_sources


class Command(BaseCommand):
    help = (
        "Run one full sync cycle now, synchronously, without a broker. A source whose "
        "sync lease another cycle (the Celery task, another sync_jobs) holds is skipped. "
        "Then sends the alerts the cycle decided."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="Only this source (by name).")

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_configured_sources()
        sources = Source.objects.filter(enabled=True)
        if options["source"]:
            sources = sources.filter(name=options["source"])
            if not sources.exists():
                raise CommandError(f"No enabled source named {options['source']!r}")
        failed = []
        for source in sources:
            # The same lease as the Celery task: two cycles of one source at
            # once would both list and describe everything.
            if not sync.claim_source(source.pk, now=timezone.now()):
                self.stderr.write(
                    self.style.WARNING(f"{source.name}: busy, another sync cycle holds its lease; skipped")
                )
                continue
            try:
                cycle = sync.run_cycle(source, progress=self._progress(source))
            finally:
                sync.release_source(source.pk)
            if cycle.error:
                self.stderr.write(self.style.ERROR(f"{source.name}: {cycle.error}"))
                failed.append(source.name)
                continue
            self.stdout.write(
                self.style.SUCCESS(
                    f"{source.name}: listed {cycle.listed}, described {cycle.described}, "
                    f"changed {cycle.changed}, errors {cycle.errors}"
                )
            )
            if settings.TRAINWATCH_CLOUDWATCH:
                # After the jobs are stored, so a job seen for the first time gets its curves too;
                # its failures are SyncErrors and never fail the command.
                self.stdout.write(f"{source.name}: {cloudwatch_sync.run(source)}")
            self.stdout.write(f"{source.name}: {tuning_sync.run(source)}")
        # No broker here: what the cycles decided is sent now, grouped, not
        # held for quiet (the cycle is over).
        limits.decide_limits()
        limits.decide_stalls()
        limits.decide_metric_stalls()
        limits.decide_budgets()
        limits.decide_source_health()
        sweep = delivery.deliver_due(quiet_seconds=0)
        if sweep.sent or sweep.failed:
            self.stdout.write(f"alerts: sent {sweep.sent} messages, {sweep.failed} failed (retried later)")
        if failed:
            raise CommandError(f"Sync failed for: {', '.join(failed)}")

    def _progress(self, source: Source) -> sync.Progress:
        def say(message: str) -> None:
            # Describing inline can outlast the lease on a first import: each
            # step of progress renews it, so no Celery cycle starts alongside.
            sync.extend_lease(source.pk, now=timezone.now())
            self.stdout.write(message)

        return say
