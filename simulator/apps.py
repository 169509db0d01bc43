from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """Only here so ``manage.py simulate_sagemaker`` is found; the simulator has no models."""

    name = "simulator"
    verbose_name = "Simulated SageMaker"
