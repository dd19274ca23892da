"""Give each test its own topics, app id, data dir and ports on the shared local stack.

Kafka and Redis are shared by the whole session (starting them is the slow part); each test
gets topics and a consumer group of its own, and uses SKUs of its own, so tests never see
each other's records.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from base.settings import Settings, TopicSettings
from ops.stack.ports import free_port, free_ports


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


def free_cluster_ports(brokers: int) -> int:
    """A first port P such that P .. P + 2*brokers - 1 are free: a cluster's nodes listen on
    P + 2(n-1) and their controllers on P + 1 + 2(n-1) (KafkaSettings.node_ports)."""
    return free_ports(lambda first: list(range(first, first + 2 * brokers)))
