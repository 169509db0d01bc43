"""Seed InstancePrice with common SageMaker training instances.

Figures are us-east-1 on-demand training prices (USD per instance-hour) as
best known when written; they drift, so each row says where it came from
and admins correct them in the admin. Rows that already exist are left
alone, so re-running never overwrites an edited price.
"""

from decimal import Decimal

from django.db import migrations

NOTE = (
    "SageMaker on-demand training price, us-east-1, as published on the AWS SageMaker pricing page; "
    "check before relying on it"
)

PRICES = {
    "ml.m5.large": "0.1150",
    "ml.m5.xlarge": "0.2300",
    "ml.m5.2xlarge": "0.4610",
    "ml.m5.4xlarge": "0.9220",
    "ml.c5.xlarge": "0.2040",
    "ml.c5.2xlarge": "0.4080",
    "ml.g4dn.xlarge": "0.7360",
    "ml.g4dn.2xlarge": "0.9400",
    "ml.g4dn.12xlarge": "4.8900",
    "ml.g5.xlarge": "1.4080",
    "ml.g5.2xlarge": "1.5150",
    "ml.g5.12xlarge": "7.0900",
    "ml.g5.48xlarge": "20.3600",
    "ml.p3.2xlarge": "3.8250",
    "ml.p3.8xlarge": "14.6880",
    "ml.p3.16xlarge": "28.1520",
    "ml.p4d.24xlarge": "37.6880",
    "ml.p5.48xlarge": "113.0700",
    "ml.trn1.32xlarge": "24.7250",
}


def seed(apps, schema_editor):
    InstancePrice = apps.get_model("jobs", "InstancePrice")
    for instance_type, hourly in PRICES.items():
        InstancePrice.objects.get_or_create(
            instance_type=instance_type, defaults={"hourly_usd": Decimal(hourly), "note": NOTE}
        )


def unseed(apps, schema_editor):
    # Only rows still exactly as seeded; edited prices stay.
    InstancePrice = apps.get_model("jobs", "InstancePrice")
    for instance_type, hourly in PRICES.items():
        InstancePrice.objects.filter(instance_type=instance_type, hourly_usd=Decimal(hourly), note=NOTE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_trainingjob_stop_permission"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
