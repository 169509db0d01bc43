"""SageMaker training prices out of the AWS Price List. Pure, no Django.

Two shapes carry the same products: ``GetProducts`` (service code
``AmazonSageMaker``) returns each product as a JSON document with its own
terms, and an offer file (the Price List's bulk JSON for a service) keeps
products and terms in two maps keyed by SKU. Attribute names (``regionCode``,
``component``, ``instanceName``) are what public price lists carry; anything
that does not read as an on-demand hourly training price is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

TRAINING = "Training"


@dataclass(frozen=True)
class ListedPrice:
    instance_type: str
    hourly_usd: Decimal
    effective: date | None


def offer_file_products(offer: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """An offer file's products in GetProducts' shape: {"product": ..., "terms": {"OnDemand": {...}}}."""
    on_demand = (offer.get("terms") or {}).get("OnDemand") or {}
    for sku, product in (offer.get("products") or {}).items():
        yield {"product": product, "terms": {"OnDemand": on_demand.get(sku) or {}}}


def get_products_documents(price_list: Iterable[str | Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """GetProducts' PriceList entries (JSON text) as documents; unreadable ones are skipped."""
    for entry in price_list:
        try:
            document = json.loads(entry) if isinstance(entry, str) else dict(entry)
        except (ValueError, TypeError):
            continue
        if isinstance(document, dict):
            yield document


def _hourly(term: Mapping[str, Any]) -> tuple[Decimal, date | None] | None:
    for dimension in (term.get("priceDimensions") or {}).values():
        if not isinstance(dimension, Mapping) or str(dimension.get("unit", "")).lower() not in {"hrs", "hours"}:
            continue
        try:
            usd = Decimal(str((dimension.get("pricePerUnit") or {}).get("USD")))
        except (InvalidOperation, ValueError):
            continue
        if usd.is_finite() and usd > 0:
            try:
                effective = date.fromisoformat(str(term.get("effectiveDate", ""))[:10])
            except ValueError:
                effective = None
            return usd, effective
    return None


def training_prices(documents: Iterable[Mapping[str, Any]], region: str) -> dict[str, ListedPrice]:
    """On-demand hourly training price per instance type in ``region``.

    Spot and other usage types are left out (AWS bills managed spot through
    its own billable time, at the on-demand rate). Where a type is listed
    twice, the newest effective date wins.
    """
    prices: dict[str, ListedPrice] = {}
    for document in documents:
        product = document.get("product") or {}
        attributes = product.get("attributes") or {} if isinstance(product, Mapping) else {}
        if not isinstance(attributes, Mapping):
            continue
        instance_type = str(attributes.get("instanceName") or attributes.get("instanceType") or "")
        if (
            attributes.get("regionCode") != region
            or attributes.get("component") != TRAINING
            or not instance_type.startswith("ml.")
            or "spot" in str(attributes.get("usagetype", "")).lower()
        ):
            continue
        for term in ((document.get("terms") or {}).get("OnDemand") or {}).values():
            found = _hourly(term) if isinstance(term, Mapping) else None
            if found is None:
                continue
            listed = ListedPrice(instance_type, *found)
            known = prices.get(instance_type)
            if known is None or (listed.effective or date.min) > (known.effective or date.min):
                prices[instance_type] = listed
    return prices
