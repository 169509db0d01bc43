"""``manage.py simulate_sagemaker``: the same server as ``python -m simulator``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from simulator import cli


class Command(BaseCommand):
    help = "Serve a simulated SageMaker account over HTTP until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        def say(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        cli.serve(cli.build(options), say)
