"""Load SageMaker training prices for a region from the AWS Price List, or from an offer file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import sagemaker
from jobs.domain.price_list import get_products_documents, offer_file_products, training_prices
from jobs.models import Source
from jobs.prices_import import store_prices


class Command(BaseCommand):
    help = (
        "Import on-demand SageMaker training prices for one region into the price table: from the "
        "Price List API (pricing:GetProducts) or, with --file, from a downloaded AmazonSageMaker offer file. "
        "Prices edited by hand in the admin are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--region", help="the region to price (default: the first enabled source's)")
        parser.add_argument("--file", type=Path, help="an AmazonSageMaker offer file (JSON) instead of the API")

    def handle(self, *args: Any, region: str | None = None, file: Path | None = None, **options: Any) -> None:
        source = Source.objects.filter(enabled=True).order_by("pk").first()
        region = region or (source.region if source else "") or os.environ.get("AWS_DEFAULT_REGION", "")
        if not region:
            raise CommandError("No region: pass --region (no enabled source names one).")
        if file is not None:
            try:
                offer = json.loads(file.read_text())
            except (OSError, ValueError) as error:
                raise CommandError(f"{file}: not a readable offer file ({error})") from error
            if not isinstance(offer, dict):
                raise CommandError(f"{file}: not an offer file (no products and terms)")
            documents = list(offer_file_products(offer))
            where = str(file)
        else:
            config = sagemaker.SourceConfig.of(source) if source else sagemaker.SourceConfig()
            try:
                documents = [
                    doc for page in sagemaker.price_list_pages(config, region) for doc in get_products_documents(page)
                ]
            except sagemaker.SageMakerError as error:
                raise CommandError(f"GetProducts failed: {error} (try --file with an offer file)") from error
            where = "the Price List API"
        prices = training_prices(documents, region)
        if not prices:
            raise CommandError(f"No on-demand training price for {region} in {where}; nothing changed.")
        result = store_prices(prices, region)
        self.stdout.write(
            f"{region} from {where}: {len(result.created)} new, {len(result.updated)} updated, "
            f"{len(result.unchanged)} unchanged, {len(result.kept_by_hand)} kept as edited by hand"
        )
        if result.kept_by_hand:
            self.stdout.write("kept by hand: " + ", ".join(result.kept_by_hand))
