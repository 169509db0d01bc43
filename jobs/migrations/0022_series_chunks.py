"""Series points move from one row per series to one SeriesChunk row per series per UTC day."""

import django.db.models.deletion
from django.db import migrations, models


def _split(apps, schema_editor):
    from jobs.domain import cloudwatch as cw  # pure: packs and splits, no model

    MetricSeries = apps.get_model("jobs", "MetricSeries")
    SeriesChunk = apps.get_model("jobs", "SeriesChunk")
    ids = list(MetricSeries.objects.values_list("pk", flat=True))
    for start in range(0, len(ids), 100):  # a row's points can be megabytes: a hundred rows at a time
        rows = MetricSeries.objects.filter(pk__in=ids[start : start + 100]).values_list("pk", "points")
        chunks = [
            SeriesChunk(series_id=pk, day=day, points=cw.pack_points(pts), point_count=len(pts))
            for pk, points in rows
            for day, pts in cw.split_by_day(cw.unpack_points(points)).items()
        ]
        SeriesChunk.objects.bulk_create(chunks, batch_size=500)


def _join(apps, schema_editor):
    MetricSeries = apps.get_model("jobs", "MetricSeries")
    SeriesChunk = apps.get_model("jobs", "SeriesChunk")
    for pk in MetricSeries.objects.values_list("pk", flat=True):
        parts = SeriesChunk.objects.filter(series_id=pk).order_by("day").values_list("points", flat=True)
        MetricSeries.objects.filter(pk=pk).update(points=b"".join(bytes(p) for p in parts))



class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0021_tuning_job"),
    ]

    operations = [
        migrations.CreateModel(
            name="SeriesChunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(help_text="UTC day of every point in the chunk.")),
                ("point_count", models.PositiveIntegerField(default=0)),
                ("points", models.BinaryField(default=bytes, editable=False)),
                (
                    "series",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="chunks", to="jobs.metricseries"
                    ),
                ),
            ],
            options={
                "ordering": ["series", "day"],
                "constraints": [
                    models.UniqueConstraint(fields=("series", "day"), name="serieschunk_series_day_uniq")
                ],
            },
        ),
        migrations.RunPython(_split, _join),
        migrations.RemoveField(model_name="metricseries", name="points"),
    ]
