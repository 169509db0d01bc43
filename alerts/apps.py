from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from alerts import decide, maintenance
        from jobs.maintenance import PRUNERS
        from jobs.signals import changes_recorded

        # Decided inside the store's transaction (see alerts.decide).
        changes_recorded.connect(decide.on_changes_recorded, dispatch_uid="alerts.decide")
        PRUNERS["alerts"] = maintenance.prune_alerts
