from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0022_series_chunks'),
    ]

    operations = [
        migrations.AddField(
            model_name='source',
            name='last_event_at',
            field=models.DateTimeField(blank=True, help_text='When the consumer last stored one of its events; recent: push, running jobs described less often.', null=True),
        ),
    ]
