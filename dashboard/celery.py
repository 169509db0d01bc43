import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

# Often enough that an alert waits for quiet, not for the sweep.
ALERT_SWEEP_SECONDS = 5.0

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def _load_settings(sender: Celery, **kwargs: object) -> None:
    # Celery reads Django's settings lazily, deep inside its command-line
    # parsing: load them here so a bad one is one line, not a traceback.
    from django.conf import settings

    from dashboard.env import one_line_config_errors

    with one_line_config_errors():
        settings.INSTALLED_APPS  # noqa: B018


@app.on_after_finalize.connect
def _schedule_sync(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    interval = settings.TRAINWATCH_SYNC_INTERVAL
    # expires just under the interval: a late tick is dropped, never piled up.
    sender.add_periodic_task(
        interval,
        sender.signature("jobs.tasks.sync_all_sources"),
        name="sync all sources",
        expires=max(interval - 1, 1),
    )
    # Metric points and log lines of running jobs, beside (never inside) the job sync.
    sender.add_periodic_task(
        interval,
        sender.signature("jobs.tasks.sync_cloudwatch_all"),
        name="sync CloudWatch metrics and logs",
        expires=max(interval - 1, 1),
    )
    # The objective of each tuning job with a running trial (a handful of calls, if any).
    sender.add_periodic_task(
        interval,
        sender.signature("jobs.tasks.sync_tuning_all"),
        name="describe tuning jobs",
        expires=max(interval - 1, 1),
    )
    # SQLite's planner statistics, without which its indexes go unused at scale.
    sender.add_periodic_task(
        3600.0,
        sender.signature("jobs.tasks.optimize_database"),
        name="optimize the database",
        expires=3000,
    )
    # A sync every few seconds is millions of cycle rows a year: keep a window.
    sender.add_periodic_task(
        3600.0,
        sender.signature("jobs.tasks.prune_history"),
        name="prune old sync history",
        expires=3000,
    )
    # Alerts: the sweep sends what the stores decided (alerts.delivery), grouped.
    sender.add_periodic_task(
        ALERT_SWEEP_SECONDS,
        sender.signature("alerts.tasks.deliver_alerts"),
        name="deliver alerts",
        expires=ALERT_SWEEP_SECONDS - 1,
    )
