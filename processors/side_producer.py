"""A plain (non-transactional) Kafka producer for decisions, dead letters and expire asks.

Faust's exactly-once producers put a record into the transaction of its target partition,
which commits only when that partition's source offsets do. An `expire` ask sent from a
timer could then wait for unrelated traffic before becoming visible (read_committed), and
a decision would be held back a commit interval. These records are safe outside the
transaction: a replay re-decides the same command against the same state (same decision),
an `expire` ask is idempotent, and a repeated dead letter only repeats a report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from ops.settings import Settings

Record = tuple[str, bytes | None, bytes]  # topic, key, value


class SideProducer:
    def __init__(self, settings: Settings) -> None:
        self._bootstrap = settings.kafka.bootstrap
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=1,
                )
                await producer.start()
                self._producer = producer
        return self._producer

    async def send_all(self, records: Sequence[Record]) -> None:
        """Send every record and wait until Kafka acknowledged them all."""
        if not records:
            return
        producer = await self._started()
        pending = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*pending)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
