"""The fault run's own Kafka client: what a producer writing to the topics directly does —
acks=all, idempotent, and a failed batch re-sent whole until acknowledged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger("tally.faults")

PRODUCE_ATTEMPTS_MAX = 60
PRODUCE_RETRY_PAUSE_S = 1.0
ACK_TIMEOUT_S = 30.0
FRESH_PRODUCER_EVERY = 5  # attempts: a producer stuck after a broker restart is replaced


class Producer:
    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=10_000,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send_keyed(self, topic: str, values: Sequence[bytes], key_field: str) -> None:
        """Each JSON value keyed by its `key_field` (the SKU)."""
        records = [(str(orjson.loads(v)[key_field]).encode(), v) for v in values]
        await self.send(topic, records)

    async def send_policy(self, topic: str, records: Sequence[dict[str, Any]]) -> list[int]:
        """Policy records keyed `kind:name`; returns their offsets."""
        keyed = [
            (f"{r['kind']}:{r.get('channel') or r.get('location')}".encode(), orjson.dumps(r))
            for r in records
        ]
        return await self.send(topic, keyed)

    async def send(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> list[int]:
        """Send in order and wait for every ack; a failed batch is re-sent whole (a client
        retry: duplicates are harmless, the ids make them so). Returns the offsets."""
        for attempt in range(PRODUCE_ATTEMPTS_MAX):
            producer = self._producer
            assert producer is not None
            try:
                futures = [await producer.send(topic, v, key=k) for k, v in records]
                results = await asyncio.wait_for(asyncio.gather(*futures), ACK_TIMEOUT_S)
                return [r.offset for r in results]
            except (KafkaError, TimeoutError) as error:
                log.info("produce attempt %d failed (%s); retrying", attempt + 1, error)
                await asyncio.sleep(PRODUCE_RETRY_PAUSE_S)
                if attempt % FRESH_PRODUCER_EVERY == FRESH_PRODUCER_EVERY - 1:
                    await producer.stop()
                    await self.start()
        raise RuntimeError(f"could not produce to {topic} in {PRODUCE_ATTEMPTS_MAX} attempts")
