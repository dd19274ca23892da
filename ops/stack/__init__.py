"""The local stack: Kafka (KRaft), Redis and optionally Prometheus as our own processes.

from ops.stack import ensure_up, stop_started
started = ensure_up(settings)          # starts only what is not running yet
...
stop_started(settings, started)        # stops only what that call started
"""

from ops.stack.control import (
    ServiceStatus,
    StartedServices,
    down,
    ensure_up,
    status,
    stop_started,
)
from ops.stack.procs import StackError

__all__ = [
    "ServiceStatus",
    "StackError",
    "StartedServices",
    "down",
    "ensure_up",
    "status",
    "stop_started",
]
