from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0007_postgresql_name_and_billable_indexes"),
    ]

    # The job id joins the tag index so a tag with other filters is counted
    # from the index alone (JobFilter.counted). Added before the old one is
    # removed: the tag filter is never without an index.
    operations = [
        migrations.AddIndex(
            model_name="jobtag",
            index=models.Index(fields=["key", "value", "job"], name="tag_key_value_job_idx"),
        ),
        migrations.RemoveIndex(
            model_name="jobtag",
            name="tag_key_value_idx",
        ),
    ]
