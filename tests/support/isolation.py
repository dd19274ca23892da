"""Give each test its own topics, app id, data dir and ports on the shared local stack.

Kafka and Redis are shared by the whole session (starting them is the slow part); each test
gets topics and a consumer group of its own, and uses SKUs of its own, so tests never see
each other's records.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from base.settings import Settings, TopicSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def isolated_settings(base: Settings, tmp_path: Path, *, partitions: int = 4) -> Settings:
    run_id = uuid.uuid4().hex[:10]
    topics = TopicSettings.named(f"t{run_id}", partitions)
    worker = base.worker.model_copy(
        update={
            "app_id": f"tally-test-{run_id}",
            "data_dir": tmp_path / "worker-data",
            "web_port": free_port(),
            "metrics_port": free_port(),
        }
    )
    orders = base.orders.model_copy(
        update={
            "app_id": f"tally-orders-test-{run_id}",
            "data_dir": tmp_path / "orders-data",
            "web_port": free_port(),
            "metrics_port": free_port(),
        }
    )
    return base.model_copy(update={"topics": topics, "worker": worker, "orders": orders})


def unique(prefix: str) -> str:
    """A SKU / id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
