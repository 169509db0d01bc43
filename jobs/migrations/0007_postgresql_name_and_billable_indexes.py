"""Once two PostgreSQL-only indexes in raw SQL: job_name_trgm_idx and job_billable_nulls_last_idx.

They are declared in TrainingJob.Meta.indexes now and created by 0015, which
keeps them where this migration already made them.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_job_creation_id_index"),
    ]

    operations = []
