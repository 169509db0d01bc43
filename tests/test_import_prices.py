"""import_prices: the AWS Price List's training prices into the price table; a hand-set price wins."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from botocore.stub import Stubber
from django.core.management import CommandError, call_command

from jobs import sagemaker
from jobs.domain.price_list import get_products_documents, offer_file_products, training_prices
from jobs.models import InstancePrice, PriceOrigin
from tests.factories import make_source

OFFER = Path(__file__).parent / "fixtures" / "sagemaker_offer_sample.json"


def _offer() -> dict:
    return json.loads(OFFER.read_text())


def test_training_prices_of_a_region_only():
    prices = training_prices(offer_file_products(_offer()), "us-east-1")
    # Hosting, another region, spot usage and a storage line are left out.
    assert {t: p.hourly_usd for t, p in prices.items()} == {
        "ml.p3.2xlarge": Decimal("3.825"),
        "ml.g5.xlarge": Decimal("1.408"),
        "ml.m5.xlarge": Decimal("0.23"),
        "ml.trn1.32xlarge": Decimal("24.72"),
    }
    assert prices["ml.p3.2xlarge"].effective == date(2026, 11, 1)
    assert {t: p.hourly_usd for t, p in training_prices(offer_file_products(_offer()), "eu-west-1").items()} == {
        "ml.p3.2xlarge": Decimal("4.131")
    }


def test_get_products_documents_are_the_same_products():
    offer = _offer()
    as_api = [json.dumps(document) for document in offer_file_products(offer)] + ["{not json", "[]"]
    assert training_prices(get_products_documents(as_api), "us-east-1") == training_prices(
        offer_file_products(offer), "us-east-1"
    )


def test_the_newest_effective_date_wins_and_junk_is_skipped():
    def document(usd, effective, unit="Hrs"):
        dims = {"d": {"unit": unit, "pricePerUnit": {"USD": usd}}}
        attributes = {"regionCode": "us-east-1", "component": "Training", "instanceName": "ml.g5.xlarge"}
        return {
            "product": {"attributes": attributes},
            "terms": {"OnDemand": {"t": {"effectiveDate": effective, "priceDimensions": dims}}},
        }

    documents = [document("1.00", "2025-01-01"), document("1.20", "2026-06-01"), document("1.10", "2026-01-01")]
    documents += [document("NaN", "2027-01-01"), document("-1", "2027-01-01"), document("x", "2027-01-01")]
    documents += [{"product": "junk"}, {"terms": {"OnDemand": {"t": "junk"}}}, {}]
    assert training_prices(documents, "us-east-1")["ml.g5.xlarge"].hourly_usd == Decimal("1.20")


@pytest.mark.django_db
def test_import_from_an_offer_file_replaces_seeded_and_keeps_hand_set_prices():
    make_source(region="us-east-1")
    seeded = InstancePrice.objects.get(instance_type="ml.p3.2xlarge")
    assert seeded.origin == PriceOrigin.SEEDED  # migration 0020 marked the seeded rows
    InstancePrice.objects.filter(instance_type="ml.g5.xlarge").update(
        hourly_usd=Decimal("0.99"), origin=PriceOrigin.HAND
    )
    InstancePrice.objects.filter(instance_type="ml.trn1.32xlarge").delete()

    out = StringIO()
    call_command("import_prices", "--file", str(OFFER), stdout=out)

    p3 = InstancePrice.objects.get(instance_type="ml.p3.2xlarge")
    assert (p3.hourly_usd, p3.origin) == (Decimal("3.825"), PriceOrigin.PRICE_LIST)
    assert p3.effective_date == date(2026, 11, 1)
    assert "us-east-1" in p3.note
    assert InstancePrice.objects.get(instance_type="ml.g5.xlarge").hourly_usd == Decimal("0.99")
    assert InstancePrice.objects.get(instance_type="ml.trn1.32xlarge").origin == PriceOrigin.PRICE_LIST
    assert "1 kept as edited by hand" in out.getvalue() and "ml.g5.xlarge" in out.getvalue()

    again = StringIO()
    call_command("import_prices", "--file", str(OFFER), stdout=again)
    assert "0 new, 0 updated, 3 unchanged, 1 kept" in again.getvalue()


@pytest.mark.django_db
def test_import_for_another_region(db):
    call_command("import_prices", "--file", str(OFFER), "--region", "eu-west-1", stdout=StringIO())
    assert InstancePrice.objects.get(instance_type="ml.p3.2xlarge").hourly_usd == Decimal("4.131")


@pytest.mark.django_db
def test_bad_files_and_empty_regions_change_nothing(tmp_path):
    before = list(InstancePrice.objects.values_list("instance_type", "hourly_usd", "origin"))
    broken = tmp_path / "offer.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="not a readable offer file"):
        call_command("import_prices", "--file", str(broken), "--region", "us-east-1")
    with pytest.raises(CommandError, match="No on-demand training price for mars-1"):
        call_command("import_prices", "--file", str(OFFER), "--region", "mars-1")
    assert list(InstancePrice.objects.values_list("instance_type", "hourly_usd", "origin")) == before


@pytest.mark.django_db
def test_a_price_saved_in_the_admin_is_hand_set(admin_client):
    row = InstancePrice.objects.get(instance_type="ml.p3.2xlarge")
    response = admin_client.post(
        f"/admin/jobs/instanceprice/{row.pk}/change/",
        {"instance_type": "ml.p3.2xlarge", "hourly_usd": "2.50", "note": "negotiated", "effective_date": ""},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.hourly_usd, row.origin) == (Decimal("2.50"), PriceOrigin.HAND)
    call_command("import_prices", "--file", str(OFFER), "--region", "us-east-1", stdout=StringIO())
    assert InstancePrice.objects.get(pk=row.pk).hourly_usd == Decimal("2.50")


def test_get_products_pages_through_the_pricing_endpoint(aws_env):
    # moto has no Pricing API: a unit test of the call itself, its shape checked by botocore.
    config = sagemaker.SourceConfig(region="eu-west-1")
    sagemaker.reset_clients()
    client = sagemaker.client_for(sagemaker.SourceConfig("us-east-1"), sagemaker.PRICING)
    documents = [json.dumps(d) for d in offer_file_products(_offer())]
    expected = {
        "ServiceCode": "AmazonSageMaker",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
            {"Type": "TERM_MATCH", "Field": "component", "Value": "Training"},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    with Stubber(client) as stub:
        stub.add_response("get_products", {"PriceList": documents[:4], "NextToken": "t"}, expected)
        stub.add_response("get_products", {"PriceList": documents[4:]}, {**expected, "NextToken": "t"})
        pages = list(sagemaker.price_list_pages(config, "eu-west-1"))
        stub.assert_no_pending_responses()
    sagemaker.reset_clients()
    assert sum(len(p) for p in pages) == len(documents)
    assert client.meta.region_name == "us-east-1"  # the Price List answers there, whatever is priced
