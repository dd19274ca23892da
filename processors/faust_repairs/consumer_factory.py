"""One way to adjust the consumer Faust builds for a worker (`_create_worker_consumer`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

Adjust = Callable[[Any, Any], None]  # (app, consumer), before the consumer starts


def wrap(marker: str, adjust: Adjust) -> None:
    """Have every worker consumer Faust builds from now on go through `adjust` (once per
    `marker`: a repair installs itself idempotently under its own)."""
    if getattr(AIOKafkaConsumerThread, marker, False):
        return
    create = AIOKafkaConsumerThread._create_worker_consumer

    def create_adjusted(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        adjust(self.app, consumer)
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create_adjusted  # type: ignore[method-assign]
    setattr(AIOKafkaConsumerThread, marker, True)
