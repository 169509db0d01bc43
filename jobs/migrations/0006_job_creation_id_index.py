from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_failure_and_modified_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="trainingjob",
            name="job_creation_idx",
        ),
        migrations.AddIndex(
            model_name="trainingjob",
            index=models.Index(fields=["-creation_time", "-id"], name="job_creation_id_idx"),
        ),
    ]
