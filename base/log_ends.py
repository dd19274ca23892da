"""The log end of partitions, asked of the broker by a client of this process's own.

A Faust worker learns a partition's log end (its highwater) only from the fetches its
consumer completes. A consumer whose fetches stop completing keeps its last highwater and
sees nothing waiting (fault seeds 43 and 200: an idle worker, lag 0, records waiting for
minutes). This reader does not share that consumer's thread, connections or group: a plain
aiokafka consumer, assigned nothing, that only sends ListOffsets, each call bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition

from base.kafka_client import client_options, start_or_close
from base.settings import KafkaSettings

Partition = tuple[str, int]
ASK_TIMEOUT_S = 3.0  # inside the workers' 5 s starvation check: one never overlaps the next


class LogEnds:
    """`await log_ends(partitions)`: each partition's log end offset, fresh from the broker."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = ASK_TIMEOUT_S) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive: {timeout_s}")
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._starting = asyncio.Lock()

    async def __call__(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        """Raises aiokafka's KafkaError, or TimeoutError past `timeout_s` (start included)."""
        if not partitions:
            return {}
        async with asyncio.timeout(self._timeout_s):
            consumer = await self._started()
            ends = await consumer.end_offsets([TopicPartition(*p) for p in partitions])
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def _started(self) -> AIOKafkaConsumer:
        async with self._starting:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(**client_options(self._kafka), enable_auto_commit=False)
                await start_or_close(consumer)
                self._consumer = consumer
        return self._consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
