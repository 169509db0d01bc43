"""Once a PostgreSQL-only index in raw SQL: job_status_id_idx.

It is declared in TrainingJob.Meta.indexes now and created by 0015, which
keeps it where this migration already made it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0008_tag_key_value_job_index"),
    ]

    operations = []
