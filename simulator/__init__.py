"""A simulated SageMaker account that speaks AWS's JSON 1.1 protocol on loopback.

Stands apart from the Django project (nothing here imports Django); run it
as ``python -m simulator`` (``--help`` lists the flags).
"""

from .clock import Clock
from .faults import Faults
from .sim import SimulatedSageMaker

__all__ = ["Clock", "Faults", "SimulatedSageMaker"]
