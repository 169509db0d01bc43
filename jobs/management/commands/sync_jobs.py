from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import sync
from jobs.models import Source
from jobs.sources import ensure_configured_sources


class Command(BaseCommand):
    help = "Run one full sync cycle now, synchronously, without a broker."

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
            cycle = sync.run_cycle(source, progress=self.stdout.write)
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
        if failed:
            raise CommandError(f"Sync failed for: {', '.join(failed)}")
