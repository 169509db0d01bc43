"""Put the AWS Price List's training prices into the InstancePrice table (``manage.py import_prices``).

Seeded and earlier imported figures are replaced; a price a person set in
the admin (origin "hand") is kept and reported, so a negotiated rate wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction

from jobs.domain.price_list import ListedPrice
from jobs.models import InstancePrice, PriceOrigin


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_by_hand: list[str] = field(default_factory=list)


def store_prices(prices: Mapping[str, ListedPrice], region: str) -> ImportResult:
    """Write the listed prices of ``region`` in one transaction."""
    result = ImportResult()
    with transaction.atomic():
        existing = {p.instance_type: p for p in InstancePrice.objects.select_for_update()}
        for instance_type, listed in sorted(prices.items()):
            note = f"AWS Price List, {region}, on-demand training"[:255]
            row = existing.get(instance_type)
            if row is None:
                InstancePrice.objects.create(
                    instance_type=instance_type,
                    hourly_usd=listed.hourly_usd,
                    note=note,
                    origin=PriceOrigin.PRICE_LIST,
                    effective_date=listed.effective,
                )
                result.created.append(instance_type)
            elif row.origin == PriceOrigin.HAND:
                result.kept_by_hand.append(instance_type)
            elif (row.hourly_usd, row.origin, row.effective_date, row.note) == (
                listed.hourly_usd,
                PriceOrigin.PRICE_LIST,
                listed.effective,
                note,
            ):
                result.unchanged.append(instance_type)
            else:
                row.hourly_usd, row.note = listed.hourly_usd, note
                row.origin, row.effective_date = PriceOrigin.PRICE_LIST, listed.effective
                row.save(update_fields=["hourly_usd", "note", "origin", "effective_date"])
                result.updated.append(instance_type)
    return result
